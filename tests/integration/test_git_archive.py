"""Git archive mode against real git repositories in temp dirs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncd.archive.git import ChangeSummary, CommitResult, GitArchive, GitLock, find_git_locks
from syncd.archive.locks import MARKER, Owner, is_running, read_owner, write_owner

ONE_NEW = ChangeSummary(new={"proj": ["first session"]})


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's git configuration and identity cannot reach these tests."""
    home = tmp_path / "home"
    home.mkdir()
    empty = home / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("AUTHOR", "COMMITTER"):
        for part in ("NAME", "EMAIL", "DATE"):
            monkeypatch.delenv(f"GIT_{name}_{part}", raising=False)
    monkeypatch.delenv("EMAIL", raising=False)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_INDEX_FILE", raising=False)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def init_user_repo(path: Path, *, name: str = "Ada", email: str = "ada@example.org") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", name)
    git(path, "config", "user.email", email)
    (path / "notes.txt").write_text("mine\n")
    git(path, "add", "notes.txt")
    git(path, "commit", "-q", "-m", "user commit")
    return path


def write(root: Path, rel: str, text: str = "body\n") -> str:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return rel


def rejecting_hook(repo: Path, complaint: str = "") -> Path:
    """A pre-commit hook that refuses every commit, saying `complaint` on stderr."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\necho '{complaint}' >&2\nexit 1\n")
    hook.chmod(0o755)
    return hook


def committed_files(repo: Path, rev: str = "HEAD") -> set[str]:
    out = git(repo, "show", "--name-only", "--format=", rev)
    return {line for line in out.splitlines() if line}


def test_fresh_folder_is_initialised_and_committed(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    archive = GitArchive(root)
    archive.ensure_repository()
    rel = write(root, "proj/first-session.md")

    result = archive.commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert result.files == 1
    assert result.error is None
    assert result.sha == git(root, "rev-parse", "HEAD").strip()
    assert committed_files(root) == {"proj/first-session.md"}
    assert git(root, "log", "-1", "--format=%an <%ae>").strip() == "syncd <syncd@localhost>"
    assert git(root, "status", "--porcelain") == ""


def test_existing_repository_with_root_as_subfolder_is_used_as_is(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    root = repo / "archive" / "specstory"
    archive = GitArchive(root)
    archive.ensure_repository()
    assert not (root / ".git").exists()

    rel = write(root, "proj/s.md")
    result = archive.commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert committed_files(repo) == {"archive/specstory/proj/s.md"}
    assert git(repo, "status", "--porcelain") == ""


def test_only_the_given_paths_are_committed(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    (repo / "notes.txt").write_text("mine, edited\n")
    (repo / "untracked.txt").write_text("new, not added\n")
    (repo / "staged.txt").write_text("staged by the user\n")
    git(repo, "add", "staged.txt")
    archive = GitArchive(repo)
    rel = write(repo, "proj/s.md")
    other = write(repo, "proj/not-listed.md")

    result = archive.commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert committed_files(repo) == {"proj/s.md"}
    status = set(git(repo, "status", "--porcelain").splitlines())
    assert status == {" M notes.txt", "?? untracked.txt", "A  staged.txt", f"?? {other}"}


def test_nothing_changed_makes_no_commit(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    rel = write(repo, "proj/s.md")
    assert archive.commit([rel], [], [], ONE_NEW).committed
    head = git(repo, "rev-parse", "HEAD")

    again = archive.commit([rel], [], [], ONE_NEW)

    assert again == CommitResult(committed=False)
    assert git(repo, "rev-parse", "HEAD") == head


def test_small_change_message_lists_each_session(tmp_path: Path) -> None:
    summary = ChangeSummary(
        new={"alpha": ["one", "two"], "beta": ["three"]},
        updated={"alpha": ["four"], "beta": ["five"]},
        deleted={"beta": ["six"]},
    )

    assert summary.message() == (
        "sync: 3 new, 2 updated, 1 deleted in 2 projects\n"
        "\n"
        "new: alpha / one\n"
        "new: alpha / two\n"
        "new: beta / three\n"
        "updated: alpha / four\n"
        "updated: beta / five\n"
        "deleted: beta / six\n"
    )


def test_large_change_message_counts_per_project(tmp_path: Path) -> None:
    summary = ChangeSummary(
        new={"alpha": [f"s{i}" for i in range(9)], "beta": ["x"]},
        updated={"beta": ["y", "z"]},
        moved=2,
    )

    assert summary.message() == (
        "sync: 10 new, 2 updated, 2 moved in 2 projects\n\nalpha: 9 new\nbeta: 1 new, 2 updated\n"
    )


def test_story_urls_alone_and_mixed_with_a_sync_say_so(tmp_path: Path) -> None:
    urls = {"alpha": ["one", "two"]}
    assert ChangeSummary(story_urls=urls).message() == (
        "pullstory: story URL for 2 sessions\n\nstory URL: alpha / one\nstory URL: alpha / two\n"
    )
    mixed = ChangeSummary(new={"beta": ["three"]}, story_urls={"alpha": ["one"]}, carried=1)
    assert mixed.message() == (
        "sync: 1 new in 1 project; story URL for 1 session\n\n"
        "new: beta / three\n"
        "story URL: alpha / one\n"
        "Also 1 file(s) changed by an earlier cycle that did not finish.\n"
    )
    many = ChangeSummary(story_urls={"alpha": [f"s{n}" for n in range(12)]})
    assert many.message() == "pullstory: story URL for 12 sessions\n\nalpha: 12 story URLs\n"
    assert ChangeSummary().message() == "sync: no session changes\n"


def test_commit_message_is_the_summary(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    rel = write(repo, "proj/s.md")
    summary = ChangeSummary(new={"proj": ["s\nwith newline"]})

    GitArchive(repo).commit([rel], [], [], summary)

    assert git(repo, "log", "-1", "--format=%B").strip() == (
        "sync: 1 new in 1 project\n\nnew: proj / s with newline"
    )


def test_removal_and_move_keep_history(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    body = "".join(f"line {i} of a long enough session body\n" for i in range(40))
    old = write(repo, "proj/old-name.md", body)
    gone = write(repo, "proj/gone.md")
    assert archive.commit([old, gone], [], [], ONE_NEW).committed

    new = "renamed-proj/new-name.md"
    (repo / "renamed-proj").mkdir()
    (repo / old).rename(repo / new)
    (repo / gone).unlink()
    result = archive.commit([], [gone], [(old, new)], ChangeSummary(moved=1))

    assert result.committed
    assert result.files == 3
    log = git(repo, "log", "--follow", "--name-only", "--format=", "--", new)
    assert [line for line in log.splitlines() if line] == [new, old]
    assert "proj/gone.md" not in git(repo, "ls-files")
    assert git(repo, "status", "--porcelain") == ""


def test_syncd_state_trash_and_temp_files_are_refused(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    refused = [
        write(repo, ".syncd/state.json"),
        write(repo, ".trash/proj/old.md"),
        write(repo, "proj/s.md.syncd-tmp"),
        "../outside.md",
        "/etc/passwd",
    ]
    (tmp_path / "outside.md").write_text("not ours\n")
    rel = write(repo, "proj/s.md")

    result = archive_commit(repo, [*refused, rel])

    assert result.committed
    assert committed_files(repo) == {"proj/s.md"}


def test_only_refused_paths_commit_nothing(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    result = archive_commit(repo, [write(repo, ".syncd/state.json")])

    assert result == CommitResult(committed=False)


def test_folder_move_commits_its_files_but_not_temp_files(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    write(repo, "proj/a.md")
    write(repo, "proj/b.md")
    assert archive.commit(["proj"], [], [], ONE_NEW).committed
    (repo / "proj").rename(repo / "project")
    write(repo, "project/c.md.syncd-tmp")

    result = archive.commit([], [], [("proj", "project")], ChangeSummary(moved=1))

    assert result.committed
    assert git(repo, "ls-files", "--", "proj", "project").split() == [
        "project/a.md",
        "project/b.md",
    ]


def test_rejecting_hook_reports_error_and_paths_commit_next_time(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    hook = rejecting_hook(repo, "no commits today")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")

    failed = archive.commit([first], [], [], ONE_NEW)

    assert not failed.committed
    assert failed.error is not None
    assert "no commits today" in failed.error
    assert "\n" not in failed.error
    assert committed_files(repo) == {"notes.txt"}
    assert git(repo, "status", "--porcelain") == f"?? {Path(first).parent.as_posix()}/\n"

    hook.unlink()
    second = write(repo, "proj/second.md")
    retried = archive.commit([first, second], [], [], ONE_NEW)

    assert retried.committed
    assert committed_files(repo) == {first, second}


def test_missing_git_binary_gives_error_without_raising(tmp_path: Path) -> None:
    def no_git(*args: object, **kwargs: object) -> subprocess.Popen[str]:
        raise FileNotFoundError("git")

    rel = write(tmp_path, "proj/s.md")
    result = GitArchive(tmp_path, popen=no_git).commit([rel], [], [], ONE_NEW)

    assert not result.committed
    assert result.error is not None
    assert "cannot run git" in result.error


def test_users_identity_is_respected(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo", name="Grace", email="grace@example.org")
    rel = write(repo, "proj/s.md")

    archive_commit(repo, [rel])

    authors = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert authors == "Grace <grace@example.org>|Grace <grace@example.org>"


def test_default_identity_when_user_has_none(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    archive = GitArchive(root, author_name="Mirror Bot", author_email="bot@example.org")
    archive.ensure_repository()
    rel = write(root, "proj/s.md")

    archive.commit([rel], [], [], ONE_NEW)

    authors = git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert authors == "Mirror Bot <bot@example.org>|Mirror Bot <bot@example.org>"
    assert git(root, "config", "--list", "--local").count("user.") == 0


def test_push_to_remote_after_commit(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = init_user_repo(tmp_path / "repo")
    rel = write(repo, "proj/s.md")

    result = GitArchive(repo, remote=str(remote), branch="archive").commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert result.push_error is None
    assert git(remote, "rev-parse", "refs/heads/archive").strip() == result.sha


def test_push_to_missing_remote_reports_push_error(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    rel = write(repo, "proj/s.md")

    result = GitArchive(repo, remote=str(tmp_path / "missing.git")).commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert result.sha == git(repo, "rev-parse", "HEAD").strip()
    assert result.push_error is not None
    assert "\n" not in result.push_error


def test_push_error_hides_credentials_in_urls(tmp_path: Path) -> None:
    def leaky_push(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        if "push" in args:
            stderr = "fatal: unable to access 'https://bot:s3cret-token@example.org/r.git/'\n"
            script = f"import sys; sys.stderr.write({stderr!r}); sys.exit(128)"
            return subprocess.Popen([sys.executable, "-c", script], **kwargs)
        return subprocess.Popen(args, **kwargs)

    repo = init_user_repo(tmp_path / "repo")
    rel = write(repo, "proj/s.md")

    result = GitArchive(repo, remote="origin", popen=leaky_push).commit([rel], [], [], ONE_NEW)

    assert result.committed
    assert result.push_error is not None
    assert "example.org" in result.push_error
    assert "s3cret-token" not in result.push_error


def archive_commit(repo: Path, written: list[str]) -> CommitResult:
    return GitArchive(repo).commit(written, [], [], ONE_NEW)


def test_users_commit_between_cycles_is_kept(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")
    assert archive.commit([first], [], [], ONE_NEW).committed
    (repo / "notes.txt").write_text("mine, second version\n")
    git(repo, "commit", "-q", "-am", "user edits notes")

    second = write(repo, "proj/second.md")
    assert archive.commit([second], [], [], ONE_NEW).committed

    assert committed_files(repo) == {second}
    assert git(repo, "show", "HEAD:notes.txt") == "mine, second version\n"
    assert git(repo, "status", "--porcelain") == ""


def test_leftovers_of_a_rejected_commit_are_not_committed_later(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    hook = rejecting_hook(repo)
    archive = GitArchive(repo)
    refused = write(repo, "proj/refused.md")
    assert not archive.commit([refused], [], [], ONE_NEW).committed
    hook.unlink()

    wanted = write(repo, "proj/wanted.md")
    assert archive.commit([wanted], [], [], ONE_NEW).committed

    assert committed_files(repo) == {wanted}
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == ["notes.txt", wanted]


@pytest.mark.parametrize(
    ("leftover", "content"),
    [
        ("syncd-index", b"not an index"),  # damaged: started afresh
        ("syncd-index.lock", b""),  # left by a git killed at its timeout: removed
    ],
)
def test_a_leftover_in_syncds_git_index_does_not_block_commits(
    tmp_path: Path, leftover: str, content: bytes
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")
    assert archive.commit([first], [], [], ONE_NEW).committed
    (repo / ".git" / leftover).write_bytes(content)

    second = write(repo, "proj/second.md")
    result = archive.commit([second], [], [], ONE_NEW)

    assert result.committed
    assert committed_files(repo) == {second}
    assert git(repo, "status", "--porcelain") == ""


def test_two_mirror_roots_in_one_repository_keep_separate_indexes(tmp_path: Path) -> None:
    # Each root has its own lock, so two daemons may commit at once: never through one index.
    repo = init_user_repo(tmp_path / "repo")
    work, home = GitArchive(repo / "work"), GitArchive(repo / "home")
    assert work.commit([write(repo / "work", "proj/a.md")], [], [], ONE_NEW).committed
    assert home.commit([write(repo / "home", "proj/b.md")], [], [], ONE_NEW).committed

    indexes = sorted(p.name for p in (repo / ".git").glob("syncd-index*"))
    assert len(indexes) == 2
    assert committed_files(repo) == {"home/proj/b.md"}
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "home/proj/b.md",
        "notes.txt",
        "work/proj/a.md",
    ]


# -- lock files a killed git leaves ------------------------------------------------------

#: Commits argv[2] under the root argv[1] as syncd does, naming its pid for the kill below.
COMMITTING_SYNCD = """
import os, sys
from pathlib import Path
from syncd.archive.git import ChangeSummary, GitArchive
os.environ["COMMITTING_SYNCD_PID"] = str(os.getpid())
summary = ChangeSummary(new={"proj": ["first session"]})
GitArchive(Path(sys.argv[1])).commit([sys.argv[2]], [], [], summary)
"""
#: Shell lines that kill the committing Python process, then the git running them, at once.
KILL_SYNCD_AND_GIT = (
    'if [ -n "$COMMITTING_SYNCD_PID" ]; then kill -9 "$COMMITTING_SYNCD_PID" "$PPID"; fi'
)


def install_hook(repo: Path, name: str, body: str) -> None:
    hook = repo / ".git" / "hooks" / name
    hook.write_text(f"#!/bin/sh\n{body}\n")
    hook.chmod(0o755)


def kill_during_reference_update(repo: Path) -> None:
    """Kill the committer while git holds HEAD.lock and the branch's lock."""
    body = f'[ "$1" = prepared ] || exit 0\n{KILL_SYNCD_AND_GIT}\n'
    install_hook(repo, "reference-transaction", body)


def kill_during_staging(repo: Path) -> None:
    """Kill the committer while `git add` holds syncd's own index lock (in the clean filter)."""
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("*.md filter=stop\n")
    git(repo, "config", "filter.stop.clean", f"{KILL_SYNCD_AND_GIT}; cat")


def start_committing_syncd(root: Path, rel: str, **env: str) -> subprocess.Popen[bytes]:
    script = [sys.executable, "-c", COMMITTING_SYNCD, str(root), rel]
    return subprocess.Popen(script, env={**os.environ, **env})


def commit_in_a_syncd_that_gets_killed(root: Path, rel: str) -> None:
    child = start_committing_syncd(root, rel)
    assert child.wait(timeout=60) == -signal.SIGKILL
    # The git killed with it may take a moment longer to be gone.
    owner = read_owner(root / ".git" / MARKER)
    if owner is not None and owner.git_pid is not None:
        git_pid = owner.git_pid
        wait_for(lambda: not is_running(git_pid))


def lock_files(repo: Path) -> set[str]:
    return {p.relative_to(repo).as_posix() for p in (repo / ".git").rglob("*.lock")}


def blob(repo: Path, rev_path: str) -> bytes:
    done = subprocess.run(
        ["git", "cat-file", "blob", rev_path], cwd=repo, capture_output=True, check=True
    )
    return done.stdout


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize("place", ["", "archive/specstory"])
def test_locks_left_by_a_killed_syncd_git_are_removed_and_the_commit_lands(
    tmp_path: Path, place: str, caplog: pytest.LogCaptureFixture
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    root = repo / place
    kill_during_reference_update(repo)
    rel = write(root, "proj/s.md", "the session, ünïcode\n")
    commit_in_a_syncd_that_gets_killed(root, rel)
    assert lock_files(repo) >= {".git/HEAD.lock", ".git/refs/heads/main.lock"}
    assert all(lock.syncds_own for lock in find_git_locks(root))

    with caplog.at_level(logging.WARNING, logger="syncd.archive"):
        result = GitArchive(root).commit([rel], [], [], ONE_NEW)

    assert result.committed, result.error
    assert lock_files(repo) == set()
    assert list((repo / ".git").glob("syncd-git-owner*")) == []
    assert blob(repo, f"HEAD:{(Path(place) / rel).as_posix()}") == (root / rel).read_bytes()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "HEAD.lock" in warnings[0]
    assert "main.lock" in warnings[0]


def test_the_lock_on_syncds_index_left_by_a_killed_git_add_is_removed(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    kill_during_staging(repo)
    rel = write(repo, "proj/s.md", "staged when the kill came\n")
    commit_in_a_syncd_that_gets_killed(repo, rel)
    assert lock_files(repo) == {".git/syncd-index.lock"}

    result = GitArchive(repo).commit([rel], [], [], ONE_NEW)

    assert result.committed, result.error
    assert lock_files(repo) == set()
    assert blob(repo, f"HEAD:{rel}") == b"staged when the kill came\n"


@pytest.mark.parametrize("name", ["HEAD.lock", "index.lock", "refs/heads/main.lock"])
def test_a_lock_syncd_did_not_leave_blocks_the_commit_and_is_kept(
    tmp_path: Path, name: str
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    lock = repo / ".git" / name
    lock.write_text("")
    archive = GitArchive(repo)
    rel = write(repo, "proj/s.md")

    blocked = archive.commit([rel], [], [], ONE_NEW)

    assert not blocked.committed
    assert blocked.blocked_by == str(lock)
    assert blocked.error == (
        f"{lock} exists and was not left by syncd: another git command is running, or one "
        f"crashed. If no git command is running in {repo}, delete {lock}."
    )
    assert lock.exists()
    assert find_git_locks(repo) == [GitLock(lock, syncds_own=False)]
    assert committed_files(repo) == {"notes.txt"}

    lock.unlink()
    retried = archive.commit([rel], [], [], ONE_NEW)

    assert retried.committed
    assert committed_files(repo) == {rel}


def test_a_lock_older_than_the_interrupted_commit_is_not_taken_for_syncds(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    kill_during_reference_update(repo)
    rel = write(repo, "proj/s.md")
    commit_in_a_syncd_that_gets_killed(repo, rel)
    # A crashed git of the user's, an hour before syncd's commit started.
    older = repo / ".git" / "refs" / "heads" / "topic.lock"
    older.write_text("")
    an_hour_ago = time.time() - 3600
    os.utime(older, (an_hour_ago, an_hour_ago))
    head_lock, branch_lock = repo / ".git" / "HEAD.lock", repo / ".git" / "refs/heads/main.lock"
    assert sorted(find_git_locks(repo), key=lambda lock: lock.path) == [
        GitLock(head_lock, syncds_own=True),
        GitLock(branch_lock, syncds_own=True),
        GitLock(older, syncds_own=False),
    ]

    blocked = GitArchive(repo).commit([rel], [], [], ONE_NEW)

    assert blocked.blocked_by == str(older)
    assert lock_files(repo) == {".git/refs/heads/topic.lock"}
    older.unlink()
    assert GitArchive(repo).commit([rel], [], [], ONE_NEW).committed
    assert committed_files(repo) == {rel}


def test_nothing_is_removed_while_the_git_a_killed_syncd_started_still_runs(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    waiting, release = tmp_path / "git-waiting", tmp_path / "release-git"
    # The hook holds git inside its reference update until the test releases it.
    install_hook(
        repo,
        "reference-transaction",
        '[ "$1" = prepared ] && [ -n "$COMMITTING_SYNCD_PID" ] || exit 0\n'
        'echo "$PPID" > "$WAITING.tmp" && mv "$WAITING.tmp" "$WAITING"\n'
        'i=0; while [ ! -e "$RELEASE" ] && [ "$i" -lt 1200 ]; do sleep 0.05; i=$((i+1)); done',
    )
    rel = write(repo, "proj/s.md", "committed by the orphaned git\n")
    syncd = start_committing_syncd(repo, rel, WAITING=str(waiting), RELEASE=str(release))
    try:
        wait_for(waiting.exists)
        git_pid = int(waiting.read_text())
        wait_for(lambda: f'"git_pid": {git_pid}' in (repo / ".git/syncd-git-owner").read_text())
        syncd.kill()
        syncd.wait(timeout=30)

        result = GitArchive(repo).commit([rel], [], [], ONE_NEW)

        assert not result.committed
        assert result.error == (
            f"a git command syncd started (pid {git_pid}) is still running in {repo}; "
            "the commit waits for the next cycle"
        )
        assert {".git/HEAD.lock", ".git/refs/heads/main.lock"} <= lock_files(repo)
    finally:
        release.touch()
        syncd.kill()
        syncd.wait(timeout=30)
    # Its locks go before the orphaned git itself does: wait for the process.
    wait_for(lambda: not is_running(git_pid))

    again = GitArchive(repo).commit([rel], [], [], ONE_NEW)

    assert again.error is None
    assert blob(repo, f"HEAD:{rel}") == b"committed by the orphaned git\n"
    assert lock_files(repo) == set()


def test_a_lock_a_running_git_holds_is_never_taken_for_a_killed_syncds(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    # What a syncd killed mid-commit a moment ago leaves: a marker of its attempt.
    gone = subprocess.Popen(["true"])
    gone.wait()
    now = time.time()
    write_owner(repo / ".git" / MARKER, Owner(gone.pid, now, gone.pid, now + 60))
    waiting, release = tmp_path / "git-waiting", tmp_path / "release-git"
    install_hook(
        repo,
        "reference-transaction",
        '[ "$1" = prepared ] || exit 0\n'
        f'touch "{waiting}"\n'
        f'i=0; while [ ! -e "{release}" ] && [ "$i" -lt 1200 ]; do sleep 0.05; i=$((i+1)); done',
    )
    write(repo, "mine.txt", "the user's own change\n")
    git(repo, "add", "mine.txt")
    # The user commits meanwhile: their git holds HEAD.lock inside its reference update.
    users_git = subprocess.Popen(["git", "commit", "-q", "-m", "mine"], cwd=repo)
    try:
        wait_for(waiting.exists)
        assert (repo / ".git" / "HEAD.lock").exists()
        rel = write(repo, "proj/s.md")

        result = GitArchive(repo).commit([rel], [], [], ONE_NEW)

        assert not result.committed
        assert result.error is not None
        assert f"a git command (pid {users_git.pid}) is running in {repo}" in result.error
        assert (repo / ".git" / "HEAD.lock").exists()  # still the user's
    finally:
        release.touch()
        users_git.wait(timeout=30)
    assert users_git.returncode == 0  # the user's commit went through untouched
    assert "mine.txt" in committed_files(repo)


def test_finding_git_locks_outside_a_repository_finds_none(tmp_path: Path) -> None:
    (tmp_path / "plain" / "HEAD.lock").parent.mkdir()
    (tmp_path / "plain" / "HEAD.lock").write_text("")

    assert find_git_locks(tmp_path / "plain") == []
    assert find_git_locks(tmp_path / "missing") == []


def test_locks_of_a_git_killed_at_its_timeout_are_removed_by_the_next_commit(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    release = tmp_path / "release-git"
    install_hook(
        repo,
        "reference-transaction",
        f'[ "$1" = prepared ] || exit 0\n'
        f'i=0; while [ ! -e "{release}" ] && [ "$i" -lt 1200 ]; do sleep 0.05; i=$((i+1)); done',
    )
    rel = write(repo, "proj/s.md")
    try:
        timed_out = GitArchive(repo, timeout=1.0).commit([rel], [], [], ONE_NEW)
    finally:
        release.touch()

    assert timed_out.error is not None
    assert "timed out" in timed_out.error
    assert {".git/HEAD.lock", ".git/refs/heads/main.lock"} <= lock_files(repo)
    retried = GitArchive(repo).commit([rel], [], [], ONE_NEW)
    assert retried.committed, retried.error
    assert committed_files(repo) == {rel}
    assert lock_files(repo) == set()


def test_paths_the_repository_ignores_are_left_out_not_failing_every_commit(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("INDEX.md\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore pages")
    paths = [write(repo, "proj/s.md"), write(repo, "proj/INDEX.md")]

    result = GitArchive(repo).commit(paths, [], [], ONE_NEW)

    assert result.error is None
    assert result.committed
    assert committed_files(repo) == {"proj/s.md"}  # what this commit holds


# -- syncd's own index, kept from one commit to the next ---------------------------------


class CountingGit:
    """Starts processes as subprocess.Popen does, keeping each git command's verb; `after`
    runs a callable once a git command with that verb has finished."""

    def __init__(self, after: dict[str, Callable[[], None]] | None = None) -> None:
        self.verbs: list[str] = []
        self._after = after or {}

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        verb = next(a for a in args[1:] if not a.startswith("-") and "=" not in a)
        self.verbs.append(verb)
        then = self._after.pop(verb, None)
        return FinishingThen(then, args, **kwargs) if then else subprocess.Popen(args, **kwargs)


class FinishingThen(subprocess.Popen[str]):
    """A process that runs `then` once it has finished (its output read)."""

    def __init__(self, then: Callable[[], None], args: list[str], **kwargs: Any) -> None:
        super().__init__(args, **kwargs)
        self._then = then

    def communicate(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        done = super().communicate(*args, **kwargs)
        self._then()
        return done


def test_a_commit_after_a_commit_uses_the_kept_index_as_it_is(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    (repo / "untracked.txt").write_text("new, not added\n")
    write(repo, "staged.txt", "staged by the user\n")
    git(repo, "add", "staged.txt")
    first = write(repo, "proj/first.md")
    assert GitArchive(repo).commit([first], [], [], ONE_NEW).committed
    second = write(repo, "proj/second.md")
    counting = CountingGit()

    archive = GitArchive(repo, popen=counting)
    archive.ensure_repository()
    result = archive.commit([first, second], [], [], ONE_NEW)

    assert result.committed
    assert result.files == 1
    # No tree read into the index, no diff, ignore check or reset: one git for each job.
    # HEAD is read from the git directory's files before and after committing.
    assert counting.verbs == [
        "rev-parse",  # the repository and HEAD
        "add",  # staging, which also tells what changed and what the ignore rules keep out
        "config",  # the user's identity
        "commit",
        "update-index",  # the user's index, for syncd's paths only
    ]
    assert committed_files(repo) == {second}
    status = set(git(repo, "status", "--porcelain").splitlines())
    assert status == {"?? untracked.txt", "A  staged.txt"}


def test_a_users_commit_of_a_file_syncd_committed_is_not_reverted(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md", "syncd's version\n")
    assert archive.commit([first], [], [], ONE_NEW).committed
    write(repo, first, "the user's own version\n")
    write(repo, "mine.txt", "the user's new file\n")
    git(repo, "add", first, "mine.txt")
    git(repo, "commit", "-q", "-m", "user edits")
    users_commit = git(repo, "rev-parse", "HEAD").strip()

    second = write(repo, "proj/second.md")
    result = archive.commit([second], [], [], ONE_NEW)

    assert result.committed
    assert git(repo, "rev-parse", "HEAD^").strip() == users_commit
    assert committed_files(repo) == {second}
    assert blob(repo, f"HEAD:{first}") == b"the user's own version\n"
    assert blob(repo, "HEAD:mine.txt") == b"the user's new file\n"
    assert git(repo, "status", "--porcelain") == ""


def test_a_head_the_user_moved_back_is_not_moved_forward_again(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")
    assert archive.commit([first], [], [], ONE_NEW).committed
    dropped = write(repo, "proj/dropped.md")
    assert archive.commit([dropped], [], [], ONE_NEW).committed
    git(repo, "reset", "-q", "--hard", "HEAD~1")

    third = write(repo, "proj/third.md")
    assert archive.commit([third], [], [], ONE_NEW).committed

    tree = git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert tree == ["notes.txt", first, third]
    assert git(repo, "status", "--porcelain") == ""


def test_a_commit_the_user_makes_while_syncd_stages_is_never_undone(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    first = write(repo, "proj/first.md")
    assert GitArchive(repo).commit([first], [], [], ONE_NEW).committed

    def users_commit() -> None:
        write(repo, "notes.txt", "committed while syncd staged\n")
        git(repo, "commit", "-q", "-am", "user commit meanwhile")

    second = write(repo, "proj/second.md")
    racing = GitArchive(repo, popen=CountingGit(after={"add": users_commit}))
    refused = racing.commit([second], [], [], ONE_NEW)

    assert not refused.committed
    assert refused.error is not None
    assert "HEAD moved" in refused.error
    assert git(repo, "log", "-1", "--format=%s").strip() == "user commit meanwhile"
    retried = GitArchive(repo).commit([second], [], [], ONE_NEW)
    assert retried.committed
    assert committed_files(repo) == {second}
    assert blob(repo, "HEAD:notes.txt") == b"committed while syncd staged\n"
    assert git(repo, "status", "--porcelain") == ""


def test_a_head_moved_between_finding_the_repository_and_committing_is_kept(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    first = write(repo, "proj/first.md")
    assert GitArchive(repo).commit([first], [], [], ONE_NEW).committed
    archive = GitArchive(repo)
    archive.ensure_repository()
    write(repo, first, "the user's version\n")
    git(repo, "commit", "-q", "-am", "user commit")

    second = write(repo, "proj/second.md")
    results = [archive.commit([second], [], [], ONE_NEW) for _ in range(2)]

    assert [r.committed for r in results] in ([True, False], [False, True])
    assert blob(repo, f"HEAD:{first}") == b"the user's version\n"
    assert blob(repo, f"HEAD:{second}") == b"body\n"
    assert git(repo, "status", "--porcelain") == ""


def test_a_deleted_own_index_is_rebuilt_from_head(tmp_path: Path) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")
    assert archive.commit([first], [], [], ONE_NEW).committed
    (repo / ".git" / "syncd-index").unlink()

    second = write(repo, "proj/second.md")
    counting = CountingGit()
    result = GitArchive(repo, popen=counting).commit([second], [], [], ONE_NEW)

    assert result.committed
    assert "read-tree" in counting.verbs
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "notes.txt",
        first,
        second,
    ]
    assert git(repo, "status", "--porcelain") == ""


def test_a_damaged_own_index_its_record_vouches_for_fails_one_attempt_only(
    tmp_path: Path,
) -> None:
    repo = init_user_repo(tmp_path / "repo")
    archive = GitArchive(repo)
    first = write(repo, "proj/first.md")
    assert archive.commit([first], [], [], ONE_NEW).committed
    index, record = repo / ".git" / "syncd-index", repo / ".git" / "syncd-head"
    # Damaged in place (a disk error, a crash the file system did not survive): the record
    # still describes the file, so the first attempt trusts it and git refuses it.
    kept = index.stat()
    index.write_bytes(b"\0" * kept.st_size)
    os.utime(index, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    fields = json.loads(record.read_text())
    fields["ctime_ns"] = index.stat().st_ctime_ns
    record.write_text(json.dumps(fields))

    second = write(repo, "proj/second.md")
    failed = archive.commit([second], [], [], ONE_NEW)
    retried = archive.commit([second], [], [], ONE_NEW)

    assert not failed.committed
    assert failed.error is not None
    assert retried.committed, retried.error
    assert committed_files(repo) == {second}
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "notes.txt",
        first,
        second,
    ]
