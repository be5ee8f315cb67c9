"""Git archive mode end to end: `syncd sync --once` commits exactly what it changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.config import load_settings
from syncd.daemon.runtime import write_story_url, write_story_urls
from syncd.devserver import DevServer, Fault
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from tests.crashing import after_nth, run_in_child
from tests.integration.conftest import point_cli_at
from tests.integration.test_sync import seed_two_projects

SESSION_IDS = [
    "550e8400-0000-0000-0000-000000000001",
    "550e8401-0000-0000-0000-000000000002",
    "550e8402-0000-0000-0000-000000000003",
]


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: DevServer) -> Path:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mirror = point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    seed_two_projects(server)
    return mirror


def test_first_sync_commits_the_tree_with_a_summary(root: Path) -> None:
    assert run(["sync", "--once"]) == 0
    subject = git(root, "log", "-1", "--format=%s").strip()
    assert subject == "sync: 3 new in 2 projects"
    assert "new: My App / Fix login" in git(root, "log", "-1", "--format=%b")
    files = set(git(root, "show", "--name-only", "--format=", "HEAD").split())
    assert "README.md" in files
    assert "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md" in files
    assert not any(f.startswith(".syncd") for f in files)
    assert git(root, "log", "-1", "--format=%an").strip() == "syncd"


def test_nothing_changed_makes_no_commit(root: Path) -> None:
    assert run(["sync", "--once"]) == 0
    assert run(["sync", "--once"]) == 0
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


def test_renames_keep_their_history_and_user_changes_stay_unstaged(
    root: Path, server: DevServer
) -> None:
    assert run(["sync", "--once"]) == 0
    (root / "notes.txt").write_text("my own file\n")
    server.rename_session("proj_app", "550e8400-0000-0000-0000-000000000001", "Login v2")
    assert run(["sync", "--once"]) == 0
    new_path = "my-app/2025-07-20_10-28-48Z-login-v2-550e8400.md"
    history = git(root, "log", "--follow", "--name-only", "--format=", "--", new_path).split()
    assert "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md" in history
    assert "?? notes.txt" in git(root, "status", "--porcelain")


def test_a_rejected_commit_is_reported_and_retried_next_cycle(
    root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sync", "--once"]) == 0
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'not on a Friday' >&2\nexit 1\n")
    hook.chmod(0o755)
    server.rename_session("proj_docs", "550e8402-0000-0000-0000-000000000003", "Renamed")
    capsys.readouterr()
    assert run(["sync", "--once"]) == 0  # the mirror is fine; the commit waits
    reported = capsys.readouterr().err
    assert "git commit failed (retried next cycle)" in reported
    assert "not on a Friday" in reported
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    hook.unlink()
    assert run(["sync", "--once"]) == 0  # nothing new from the cloud, but the retry lands
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"
    (renamed,) = (p.relative_to(root).as_posix() for p in root.glob("docs/*-renamed-*.md"))
    assert renamed in git(root, "show", "--name-only", "--format=", "HEAD").split()


def test_a_key_file_kept_in_the_root_is_never_committed(
    root: Path, monkeypatch: pytest.MonkeyPatch, server: DevServer
) -> None:
    root.mkdir(parents=True)
    key_file = root / "specstory-key.txt"
    key_file.write_text(server.api_key + "\n")
    monkeypatch.delenv("SYNCD_API_KEY")
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))

    assert run(["sync", "--once"]) == 0

    history = git(root, "log", "--all", "--name-only", "--format=").split()
    assert history  # the sessions were committed
    assert "specstory-key.txt" not in history
    assert server.api_key not in git(root, "log", "--all", "-p")


def test_files_a_killed_cycle_wrote_are_committed_by_the_next(
    root: Path, server: DevServer
) -> None:
    assert run(["sync", "--once"]) == 0
    for project, sid in (
        ("proj_app", "550e8400"),
        ("proj_app", "550e8401"),
        ("proj_docs", "550e8402"),
    ):
        full = next(s for s in SESSION_IDS if s.startswith(sid))
        server.put_session(project, session_id=full, name="Renamed " + sid, markdown="# v2\n")
    # Killed right after the second file landed: its index row, and the commit, never came.
    child = run_in_child(lambda: run(["sync", "--once"]), after_nth("write", 2))
    assert child.killed
    assert git(root, "status", "--porcelain", "--untracked-files=no")  # changed, uncommitted

    assert run(["sync", "--once"]) == 0

    assert git(root, "status", "--porcelain") == ""
    assert committed_tree(root) == files_on_disk(root)
    assert "earlier cycle that did not finish" in git(root, "log", "-1", "--format=%B")


def committed_tree(root: Path) -> dict[str, bytes]:
    names = git(root, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")
    return {
        name: subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{name}"], capture_output=True, check=True
        ).stdout
        for name in names
        if name
    }


def files_on_disk(root: Path) -> dict[str, bytes]:
    skipped = {".git", ".syncd", ".trash"}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not skipped & set(p.relative_to(root).parts)
    }


def test_files_of_a_cycle_that_failed_as_a_whole_are_committed(
    root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sync", "--once"]) == 0
    for n, sid in enumerate(SESSION_IDS):
        project = "proj_docs" if n == 2 else "proj_app"
        server.put_session(project, session_id=sid, name=f"v2 {n}", markdown=f"# v2 {n}\n")
    # The key is refused halfway through: the cycle stops, what it wrote is committed.
    server.inject(Fault(kind="status", status=401, path=SESSION_IDS[2] + "$", times=-1))
    assert run(["sync", "--once"]) == 3
    assert "API key rejected" in capsys.readouterr().err
    assert git(root, "status", "--porcelain") == ""
    assert committed_tree(root) == files_on_disk(root)
    assert git(root, "log", "-1", "--format=%s").startswith("sync: 2 updated")


def test_a_failed_push_is_tried_again_without_a_new_commit(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "remote.git"
    monkeypatch.setenv("SYNCD_GIT__REMOTE", str(remote))
    assert run(["sync", "--once"]) == 0  # committed; the push fails: no remote yet
    assert run(["status", "--check"]) == 1
    assert "git pushes have failed" in capsys.readouterr().out
    subprocess.run(["git", "init", "--bare", "--quiet", str(remote)], check=True)

    assert run(["sync", "--once"]) == 0  # nothing new in the cloud: only the push

    head = git(root, "rev-parse", "HEAD")
    assert git(remote, "rev-parse", "HEAD") == head
    assert run(["status", "--check"]) == 0


def test_a_git_lock_syncd_did_not_leave_makes_status_unhealthy_until_it_is_gone(
    root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sync", "--once"]) == 0
    lock = root / ".git" / "HEAD.lock"
    lock.write_text("")  # another git crashed here, or runs now
    server.rename_session("proj_docs", SESSION_IDS[2], "Renamed")
    assert run(["sync", "--once"]) == 0  # the mirror is current; the commit waits
    capsys.readouterr()
    assert run(["status", "--check"]) == 1
    assert str(lock) in capsys.readouterr().out
    assert lock.exists()  # never removed: syncd cannot prove it is its own
    assert run(["doctor"]) == 1
    assert f"delete {lock}" in capsys.readouterr().out

    lock.unlink()
    assert run(["sync", "--once"]) == 0

    assert run(["status", "--check"]) == 0
    assert committed_tree(root) == files_on_disk(root)


def session_file(root: Path) -> tuple[Path, str]:
    (path,) = root.glob("my-app/*-550e8400.md")
    return path, path.relative_to(root).as_posix()


def test_a_failed_download_never_commits_the_users_edit_of_that_file(
    root: Path, server: DevServer
) -> None:
    assert run(["sync", "--once"]) == 0
    path, rel = session_file(root)
    path.write_bytes(path.read_bytes() + b"\nmy private scratch note\n")
    server.put_session("proj_app", session_id=SESSION_IDS[0], name="Fix login", markdown="# v2\n")
    server.put_session("proj_docs", session_id=SESSION_IDS[2], name="Unicode", markdown="# v2\n")
    server.inject(Fault(kind="status", path=SESSION_IDS[0] + "$", status=500, times=-1))
    assert run(["sync", "--once"]) == 1  # that download failed; the other session landed
    assert "my private scratch note" not in git(root, "show", f"HEAD:{rel}")
    assert git(root, "log", "-1", "--format=%s").startswith("sync: 1 updated")


def test_a_story_url_for_an_edited_file_commits_nothing_of_the_users(root: Path) -> None:
    assert run(["sync", "--once"]) == 0
    path, rel = session_file(root)
    path.write_bytes(path.read_bytes() + b"\nmy private scratch note\n")
    settings = load_settings()
    with Store.open(settings.index_url) as store:
        store.set_pullstory_url(SESSION_IDS[0], "https://pullstory.example/s/1")
        write_story_url(settings, store, Mirror(settings.mirror_root), SESSION_IDS[0], "k")
    assert "my private scratch note" not in git(root, "show", f"HEAD:{rel}")
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


def test_a_story_url_only_commit_says_it_holds_story_urls(root: Path) -> None:
    assert run(["sync", "--once"]) == 0
    settings = load_settings()
    with Store.open(settings.index_url) as store:
        for n, session_id in enumerate(SESSION_IDS[:2]):
            store.set_pullstory_url(session_id, f"https://pullstory.example/s/{n}")
        write_story_urls(settings, store, Mirror(settings.mirror_root), SESSION_IDS[:2], "k")
    assert git(root, "log", "-1", "--format=%B") == (
        "pullstory: story URL for 2 sessions\n\n"
        "story URL: My App / Fix login\n"
        "story URL: My App / Weird body\n\n"
    )
    changed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert len(changed) == 2
    assert git(root, "status", "--porcelain").strip() == ""


def test_a_story_url_commit_that_failed_is_named_in_the_next_sync_commit(
    root: Path, server: DevServer
) -> None:
    assert run(["sync", "--once"]) == 0
    settings = load_settings()
    lock = root / ".git" / "index.lock"
    with Store.open(settings.index_url) as store:
        store.set_pullstory_url(SESSION_IDS[0], "https://pullstory.example/s/1")
        lock.write_text("")  # someone else's git is at work: this commit fails
        write_story_urls(settings, store, Mirror(settings.mirror_root), SESSION_IDS[:1], "k")
        lock.unlink()
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    server.put_session("proj_docs", session_id=SESSION_IDS[2], name="Unicode", markdown="# v2\n")
    assert run(["sync", "--once"]) == 0
    assert git(root, "log", "-1", "--format=%s").strip() == (
        "sync: 1 updated in 1 project; story URL for 1 session"
    )
    body = git(root, "log", "-1", "--format=%b")
    assert "updated: Docs / Unicode" in body
    assert "story URL: My App / Fix login" in body


def test_a_git_that_cannot_run_makes_status_unhealthy(
    root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_git = tmp_path / "no-git-here"
    no_git.mkdir()
    monkeypatch.setenv("PATH", str(no_git))
    assert run(["sync", "--once"]) == 5
    capsys.readouterr()
    assert run(["status", "--check"]) == 1
    assert "git commits have failed" in capsys.readouterr().out
