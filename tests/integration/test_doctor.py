"""`syncd doctor`: every check against a real server and real folders, all problems at once."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.daemon.doctor import Check, exit_code, run_checks
from syncd.devserver import DevServer
from syncd.index import migrate
from syncd.index.store import ArchiveState, BudgetRecord, Store
from tests.integration.test_git_archive import (
    commit_in_a_syncd_that_gets_killed,
    kill_during_reference_update,
    write,
)
from tests.integration.test_lock import lock_held_by_another_process
from tests.integration.test_sync import seed_two_projects

CHECK_NAMES = ["configuration", "API key", "server", "mirror root", "index", "lock"]


@pytest.fixture
def root(cli_root: Path) -> Path:
    return cli_root


@pytest.fixture
def synced_root(root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]) -> Path:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    server.clear_requests()
    return root


@pytest.fixture
def git_root(
    root: Path,
    server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """A root synced once with the git archive on, away from the machine's git config."""
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    return root


def git_head(root: Path) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def files_and_mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*")}


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def line_of(out: str, name: str) -> str:
    lines = [line for line in out.splitlines() if line[2:].startswith(f"{name}: ")]
    assert len(lines) == 1, f"no single {name!r} line in:\n{out}"
    return lines[0]


def test_doctor_on_a_synced_root_passes_every_check_with_one_request(
    synced_root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in CHECK_NAMES:
        assert line_of(out, name).startswith("✓ ")
    assert f"{server.url} accepted the API key (2 projects)" in out
    assert "(newest), 3 sessions" in out
    assert "no syncd owns this root" in out
    assert out.endswith("All 6 checks passed.\n")
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/api/v1/projects")]


def test_doctor_sends_nothing_while_a_saved_retry_after_is_in_force(
    synced_root: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    with Store.open(f"sqlite:///{synced_root / '.syncd' / 'index.db'}") as store:
        store.save_budget(BudgetRecord(1000, 500, now + 3600, now, blocked_until=now + 600))
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "rate budget allows no request before" in line_of(out, "server")
    assert server.requests == []


def test_doctor_leaves_no_trace_in_the_root(synced_root: Path) -> None:
    before = sorted(p.relative_to(synced_root) for p in synced_root.rglob("*"))
    assert exit_code(run_checks(None)) == 0
    after = sorted(p.relative_to(synced_root) for p in synced_root.rglob("*"))
    assert after == before


def test_doctor_on_a_fresh_root_passes_and_creates_nothing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "does not exist yet; the first sync creates it" in line_of(out, "mirror root")
    assert "does not exist yet" in line_of(out, "index")
    assert not root.exists()


def test_a_rejected_key_is_reported_with_its_fix_and_never_printed(
    synced_root: Path,
    server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCD_API_KEY", "sk-wrong-and-secret")
    assert run(["doctor"]) == 1
    captured = capsys.readouterr()
    server_line = line_of(captured.out, "server")
    assert server_line == f"✗ server: {server.url} rejected the API key (401)"
    assert "    fix: Create a new API key in SpecStory Cloud." in captured.out
    # The other checks still ran.
    assert line_of(captured.out, "index").startswith("✓ ")
    assert captured.out.endswith("1 of 6 checks failed.\n")
    assert "sk-wrong-and-secret" not in captured.out + captured.err
    assert len(server.requests) == 1


def test_every_problem_is_reported_before_exiting(
    server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("SYNCD_BASE_URL", server.url)
    monkeypatch.setenv("SYNCD_ROOT", str(not_a_folder))
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "API key") == "✗ API key: no API key is configured"
    assert line_of(out, "server").startswith("- server: not checked: no usable API key")
    assert line_of(out, "mirror root") == f"✗ mirror root: {not_a_folder} is not a folder"
    assert out.count("    fix: ") == 2
    assert out.endswith("2 of 6 checks failed, 1 not run.\n")
    assert server.requests == []


def test_an_unloadable_configuration_exits_2_naming_the_setting(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "-1")
    assert run(["doctor"]) == 2
    out = capsys.readouterr().out
    assert line_of(out, "configuration").startswith(
        "✗ configuration: Configuration error in SYNCD_TIMEOUT_SECONDS"
    )
    assert "fix: Correct SYNCD_TIMEOUT_SECONDS" in out
    for name in CHECK_NAMES[1:]:
        assert "not checked: the configuration did not load" in line_of(out, name)
    assert out.endswith("1 of 6 checks failed, 5 not run.\n")


def test_a_missing_config_file_is_a_configuration_failure(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(tmp_path / "absent.toml"), "doctor"]) == 2
    assert "absent.toml does not exist" in line_of(capsys.readouterr().out, "configuration")


def test_an_unreadable_key_file_is_reported_and_the_server_is_not_asked(
    root: Path,
    server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("SYNCD_API_KEY")
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(tmp_path / "no-such-key"))
    checks = by_name(run_checks(None))
    assert not checks["API key"].ok
    assert "SYNCD_API_KEY_FILE" in checks["API key"].detail
    assert "cannot read" in checks["API key"].detail
    assert checks["server"].skipped
    assert server.requests == []


def test_a_key_from_a_command_is_resolved_and_checked(
    root: Path, server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_API_KEY")
    monkeypatch.setenv("SYNCD_API_KEY_COMMAND", f"echo {server.api_key}")
    checks = by_name(run_checks(None))
    assert checks["API key"].detail == "configured (api_key_command) and readable"
    assert checks["server"].ok


def test_an_unreachable_server_is_reported_with_its_fix(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "2")
    checks = run_checks(None)
    server_check = by_name(checks)["server"]
    assert not server_check.ok
    assert server_check.detail.startswith("cannot reach http://127.0.0.1:9: ")
    assert server_check.fix == "Check the network connection and SYNCD_BASE_URL."
    assert exit_code(checks) == 1


def test_an_index_behind_the_newest_migration_is_reported(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(f"sqlite:///{root / '.syncd' / 'index.db'}", migrate_schema=False) as store:
        migrate.upgrade(store.engine, "0001")
        newest = migrate.head_revision(store.engine)
    assert newest is not None
    assert newest > "0001"
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"is at revision 0001; the newest is {newest}" in line_of(out, "index")
    assert "fix: Run 'syncd db upgrade'" in out


def test_a_damaged_index_points_to_db_rebuild(
    synced_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = synced_root / ".syncd" / "index.db"
    for leftover in synced_root.joinpath(".syncd").glob("index.db-*"):
        leftover.unlink()
    index.write_bytes(b"this is not a database" * 100)
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "index").startswith("✗ index: ")
    assert "syncd db rebuild" in out


def test_a_running_syncd_is_named_and_is_not_a_failure(
    synced_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with lock_held_by_another_process(synced_root / ".syncd") as daemon:
        assert run(["doctor"]) == 0
    line = line_of(capsys.readouterr().out, "lock")
    assert line == f"✓ lock: syncd pid {daemon.pid} owns this root (running); that is fine"


def test_the_write_probe_removes_the_syncd_folder_it_had_to_create(root: Path) -> None:
    (root / "my-app").mkdir(parents=True)
    checks = by_name(run_checks(None))
    assert checks["mirror root"].ok
    assert checks["mirror root"].detail == f"{root} exists and is writable"
    assert sorted(p.name for p in root.iterdir()) == ["my-app"]


def test_the_git_archive_is_checked_only_when_it_is_enabled(
    synced_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "git archive" not in by_name(run_checks(None))
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    assert run(["doctor"]) == 0
    out = capsys.readouterr().out
    assert line_of(out, "git archive") == "✓ git archive: no lock files stop commits"
    assert out.endswith("All 7 checks passed.\n")


def test_a_healthy_git_archive_passes_naming_its_last_commit(
    git_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = git_head(git_root)
    with Store.open(f"sqlite:///{git_root / '.syncd' / 'index.db'}") as store:
        now = datetime.now(UTC)
        store.save_archive_state(
            ArchiveState(last_attempt_at=now, last_commit_at=now, last_commit_sha=sha)
        )
    assert run(["doctor"]) == 0
    line = line_of(capsys.readouterr().out, "git archive")
    assert line.startswith(f"✓ git archive: no lock files stop commits; last commit {sha[:12]} on ")
    assert line.endswith(("(just now)", " s ago)"))


def test_a_git_lock_syncd_did_not_leave_fails_the_check_with_its_fix(
    git_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = git_root / ".git" / "HEAD.lock"
    lock.write_text("")
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "git archive") == f"✗ git archive: {lock} exists and was not left by syncd"
    assert f"    fix: If no git command is running, delete {lock}.\n" in out
    assert out.endswith("1 of 7 checks failed.\n")
    assert lock.exists()


def test_locks_an_interrupted_syncd_left_pass_with_a_note(
    git_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kill_during_reference_update(git_root)
    commit_in_a_syncd_that_gets_killed(git_root, write(git_root, "proj/new.md"))
    lock = git_root / ".git" / "HEAD.lock"
    assert lock.exists()
    before = files_and_mtimes(git_root / ".git")
    assert run(["doctor"]) == 0
    line = line_of(capsys.readouterr().out, "git archive")
    assert line.startswith("✓ git archive: no lock files stop commits; ")
    assert str(lock) in line
    assert line.endswith(
        "left by an interrupted syncd; removed at the next commit "
        "(once no git command runs in the repository)"
    )
    assert files_and_mtimes(git_root / ".git") == before


def test_git_that_cannot_run_fails_the_check(
    git_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "no-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git"))
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "git archive").startswith("✗ git archive: cannot run git: ")
    assert "fix: Install git and let this user read the repository" in out


@pytest.mark.parametrize(
    ("failure", "detail", "fix"),
    [
        (
            ArchiveState(error="git commit failed (exit 1): no commits today"),
            "the last commit failed: git commit failed (exit 1): no commits today",
            "Fix what stopped the commit (git commit failed (exit 1): no commits today), "
            "then run 'syncd sync --once' to retry.",
        ),
        (
            ArchiveState(push_error="git push failed (exit 128): fatal: no route"),
            "the last push failed: git push failed (exit 128): fatal: no route",
            "Fix what stopped the push (git push failed (exit 128): fatal: no route); every "
            "sync tries it again ('syncd sync --once' to try now).",
        ),
    ],
)
def test_a_failed_last_commit_or_push_fails_the_check(
    git_root: Path,
    capsys: pytest.CaptureFixture[str],
    failure: ArchiveState,
    detail: str,
    fix: str,
) -> None:
    now = datetime.now(UTC)
    with Store.open(f"sqlite:///{git_root / '.syncd' / 'index.db'}") as store:
        store.save_archive_state(
            ArchiveState(
                last_attempt_at=now,
                error=failure.error,
                failing_since=now if failure.error else None,
                push_error=failure.push_error,
                push_failing_since=now if failure.push_error else None,
            )
        )
    assert run(["doctor"]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "git archive") == f"✗ git archive: {detail}"
    assert f"    fix: {fix}\n" in out
