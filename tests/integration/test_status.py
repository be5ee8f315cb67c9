"""`syncd status`: read-only, works on a never-synced root and while a daemon is syncing."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import run
from syncd.daemon.state import DaemonState, read_state, write_state
from syncd.daemon.status import MAX_RECENT_ERRORS, StatusReport, collect_status
from syncd.daemon.status_text import describe, duration, when
from syncd.devserver import DevServer, Fault
from syncd.index.store import ArchiveState, BudgetRecord, RunRecord, Store
from syncd.mirror.names import DAEMON_STATE
from tests.integration import postgres
from tests.integration.test_lock import lock_held_by_another_process
from tests.integration.test_sync import seed_two_projects

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = 20.0
NEVER_FINISHED = "never finished: the process was killed or lost power"


# The index URL of each root a test made (a PostgreSQL database is not in the root).
_URLS: dict[Path, str] = {}


@pytest.fixture(params=postgres.BACKENDS)
def root(
    request: pytest.FixtureRequest, cli_root: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A root never synced, its index on each backend: SQLite, then PostgreSQL."""
    url = postgres.database_url(request, request.param, cli_root / ".syncd" / "index.db")
    if request.param != "sqlite":
        monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    _URLS[cli_root] = url
    yield cli_root
    del _URLS[cli_root]


def sqlite_only(root: Path) -> None:
    """Skip on PostgreSQL: the test is about the SQLite file itself."""
    if not index_url(root).startswith("sqlite"):
        pytest.skip("about the SQLite file")


def status_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert run(["status", "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def row(out: str, label: str) -> str:
    """The value printed beside `label:` in the plain (not a terminal) status output."""
    match = re.search(rf"^{re.escape(label)}:\s+(.*)$", out, re.MULTILINE)
    assert match is not None, f"no {label!r} row in:\n{out}"
    return match.group(1)


def synced(server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()


def index_url(root: Path) -> str:
    return _URLS.get(root) or f"sqlite:///{root / '.syncd' / 'index.db'}"


def status_of(store: Store, root: Path, now: datetime = NOW) -> StatusReport:
    return collect_status(
        store, root / ".syncd", now=now, sync_seconds=300, stale_after_seconds=3600
    )


def add_run(store: Store, started_at: datetime, **fields: Any) -> RunRecord:
    kind = fields.pop("kind", "incremental")
    run_id = store.start_run(started_at, kind=kind)
    counts = {"requests": 0, "not_modified": 0, "fetched": 0, "new": 0, "updated": 0}
    failed = fields.get("failed", 0)
    fields.setdefault("outcome", "failed" if failed else "succeeded")
    record = RunRecord(
        id=run_id,
        kind=kind,
        started_at=started_at,
        ended_at=fields.pop("ended_at", started_at + timedelta(seconds=5)),
        unchanged=0,
        failed=fields.pop("failed", 0),
        errors=fields.pop("errors", []),
        **(counts | fields),
    )
    store.finish_run(record)
    return record


@contextmanager
def slow_sync_process(server: DevServer) -> Iterator[subprocess.Popen[str]]:
    """`syncd sync --once` as a real process, inside its slow download of 60 new sessions
    (half a second each, three at a time: about 10 s, so a signal sent from a loaded
    machine still lands mid-sync)."""
    server.add_project("Slow", project_id="proj_slow")
    for n in range(60):
        server.put_session("proj_slow", session_id=f"{n:08d}-slow", name=f"s{n}", markdown="# s\n")
    server.inject(Fault(kind="latency", delay=0.5, path=r"-slow$", method="GET", times=-1))
    # Ctrl-C reaches the sync as it does from a terminal, even when these tests run in the
    # background of a shell, which starts them with SIGINT ignored (children inherit that).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd", "sync", "--once"],
            env=dict(os.environ),  # SYNCD_* as cli_root set them
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    with process:
        try:
            assert server.wait_for_requests(
                lambda log: sum(r.path.endswith("-slow") for r in log) >= 2, DEADLINE
            ), "the sync never started downloading"
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()


# --- never synced ------------------------------------------------------------------------


def test_status_of_a_never_synced_root_says_so_and_creates_nothing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "never synced" in row(out, "index")
    assert row(out, "health") == "UNHEALTHY: no successful sync yet"
    assert row(out, "daemon") == "not running"
    assert not root.exists()


def test_status_check_of_a_never_synced_root_exits_1(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["status", "--check"]) == 1
    assert capsys.readouterr().out == "unhealthy: no successful sync yet\n"
    assert not root.exists()


def test_status_json_of_a_never_synced_root(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = status_json(capsys)
    assert data["index_exists"] is False
    assert data["healthy"] is False
    assert data["problem"] == "no successful sync yet"
    assert data["last_run"] is None
    assert data["daemon"]["running"] is False
    assert (data["sessions"], data["projects"]) == (0, 0)


# --- after syncs -------------------------------------------------------------------------


def test_status_after_a_sync_shows_the_run_the_counts_and_health(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert row(out, "mirror") == str(root)
    assert row(out, "health") == "healthy"
    assert row(out, "daemon") == "not running"
    assert row(out, "last run").startswith("sync --once, ended ")
    assert "3 new, 0 updated, 0 unchanged, 0 failed" in row(out, "last run")
    assert row(out, "sessions") == "3 in 2 projects"
    assert re.fullmatch(r"\d+ of \d+ left, resets at \d\d:\d\d", row(out, "rate budget"))


def test_status_json_has_iso_utc_timestamps_and_the_run_counts(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    data = status_json(capsys)
    assert data["healthy"] is True
    assert data["problem"] is None
    assert (data["sessions"], data["projects"]) == (3, 2)
    last_run = data["last_run"]
    assert (last_run["kind"], last_run["new"], last_run["failed"]) == ("once", 3, 0)
    assert last_run["succeeded"] is True
    assert data["last_success"] == last_run
    ended = datetime.fromisoformat(last_run["ended_at"])
    assert ended.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(data["now"]) >= ended


def test_status_check_is_healthy_after_a_sync_and_unhealthy_once_stale(
    server: DevServer,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    synced(server, capsys)
    assert run(["status", "--check"]) == 0
    assert capsys.readouterr().out.startswith("healthy: last successful sync ended ")
    monkeypatch.setenv("SYNCD_STALE_AFTER_SECONDS", "0.000001")
    assert run(["status", "--check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: the last successful sync ended ")
    assert "no syncd daemon is running" in out
    assert out.count("\n") == 1


def test_a_failed_session_shows_in_recent_errors_and_keeps_health_failing(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    server.inject(Fault(kind="status", status=500, path="000000000003$", times=-1))
    assert run(["sync", "--once"]) == 1
    capsys.readouterr()
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    # No success yet, and the cause is named: the failed run's first error.
    health = row(out, "health")
    assert health.startswith(
        "UNHEALTHY: no successful sync yet; the last sync (sync --once) failed: "
    )
    assert "000000000003" in health
    assert row(out, "last success") == "never"
    assert "000000000003" in row(out, "recent errors")
    data = status_json(capsys)
    assert "000000000003" in data["recent_errors"][0]["message"]


def test_healthy_means_the_last_success_ended_within_the_limit(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        success = add_run(store, NOW - timedelta(minutes=30))
        # A newer run that left work for later is no success: the age counts from the last one.
        add_run(store, NOW - timedelta(minutes=5), deferred=4, outcome="deferred")
        assert success.ended_at is not None

        def status_at(now: datetime) -> tuple[bool, str | None]:
            report = collect_status(
                store, root / ".syncd", now=now, sync_seconds=300, stale_after_seconds=3600
            )
            return report.healthy, report.problem

        assert status_at(success.ended_at + timedelta(seconds=3599)) == (True, None)
        healthy, problem = status_at(success.ended_at + timedelta(seconds=3600))
        assert not healthy
        assert problem == (
            "the last successful sync ended 1 h ago (more than the 1 h allowed); "
            "no syncd daemon is running"
        )


# --- what makes the mirror unhealthy ---------------------------------------------------------


def test_a_failed_cycle_makes_check_unhealthy_and_names_its_cause(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    server.inject(Fault(kind="status", path=r"^/api/v1/projects$", times=-1))
    assert run(["sync", "--once"]) != 0
    capsys.readouterr()
    assert run(["status", "--check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "unhealthy: the last sync (sync --once) failed: once cycle failed: "
        "SpecStory Cloud unavailable at "
    )
    assert "HTTP 500" in out
    assert out.count("\n") == 1
    data = status_json(capsys)
    assert data["last_run"]["outcome"] == "failed"
    assert data["last_success"]["outcome"] == "succeeded"
    assert data["recent_errors"][0]["message"].startswith("once cycle failed: SpecStory Cloud")


def test_a_failed_run_is_a_problem_even_while_a_daemon_runs(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=10))
        add_run(store, NOW - timedelta(minutes=5), kind="reconcile", failed=2, errors=["a", "b"])
        store.start_run(
            NOW - timedelta(seconds=30), kind="incremental"
        )  # the daemon's next try, in progress
        with lock_held_by_another_process(root / ".syncd"):
            report = status_of(store, root)
    assert not report.healthy
    assert report.problem == "the last sync (full reconcile) failed: a"


def test_a_deferred_run_after_a_success_is_healthy(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=10))
        add_run(store, NOW - timedelta(minutes=5), deferred=7, outcome="deferred")
        report = status_of(store, root)
    assert (report.healthy, report.problem) == (True, None)


def test_a_sync_interrupted_by_ctrl_c_is_unhealthy_until_a_sync_succeeds(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    with slow_sync_process(server) as process:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=DEADLINE)
        assert code == 130, process.communicate()
    assert run(["status", "--check"]) == 1
    assert capsys.readouterr().out == (
        "unhealthy: the last sync (sync --once) was interrupted (stopped by Ctrl-C or a signal); "
        "run 'syncd sync --once' or wait for the daemon\n"
    )
    data = status_json(capsys)
    assert data["last_run"]["outcome"] == "interrupted"
    assert data["recent_errors"][0]["message"] == "interrupted: stopped by Ctrl-C or a signal"
    server.clear_faults()
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    assert run(["status", "--check"]) == 0


def test_a_sync_killed_mid_run_never_finished_and_is_unhealthy(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    with slow_sync_process(server) as process:
        process.kill()
        process.wait(timeout=DEADLINE)
    assert run(["status", "--check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: the last sync (sync --once, started ")
    assert out.endswith(f") {NEVER_FINISHED}\n")
    assert run(["status"]) == 0
    assert row(capsys.readouterr().out, "last run").startswith("sync --once, never finished")
    assert status_json(capsys)["last_run"]["outcome"] is None


def test_a_run_in_progress_under_a_lock_holder_is_healthy_and_dead_once_the_holder_goes(
    root: Path,
) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=10))
        started = NOW - timedelta(minutes=1)
        store.start_run(started, kind="incremental")
        with lock_held_by_another_process(root / ".syncd"):
            report = status_of(store, root)
            assert (report.healthy, report.problem) == (True, None)
            assert dict(describe(report))["last run"].startswith("sync, in progress since ")
        report = status_of(store, root)
    assert not report.healthy
    assert report.problem == f"the last sync (sync, started {when(started, NOW)}) {NEVER_FINISHED}"


def test_a_run_older_than_the_running_daemon_never_finished(root: Path) -> None:
    state_dir = root / ".syncd"
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=10))
        started = NOW - timedelta(minutes=5)
        store.start_run(started, kind="reconcile")  # killed; a new daemon has started since
        with lock_held_by_another_process(state_dir) as daemon:
            since = NOW - timedelta(minutes=2)
            write_state(state_dir, DaemonState(daemon.pid, since, "starting", None, None, None))
            report = status_of(store, root)
    assert report.problem == (
        f"the last sync (full reconcile, started {when(started, NOW)}) {NEVER_FINISHED}"
    )


def test_a_run_that_never_finished_before_a_newer_one_began_is_a_problem(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=10))
        started = NOW - timedelta(minutes=5)
        store.start_run(started, kind="incremental")  # killed
        store.start_run(
            NOW - timedelta(minutes=1), kind="incremental"
        )  # in progress under the lock
        with lock_held_by_another_process(root / ".syncd"):
            report = status_of(store, root)
    assert report.problem == f"the last sync (sync, started {when(started, NOW)}) {NEVER_FINISHED}"


def failing_archive(**fields: Any) -> ArchiveState:
    values: dict[str, Any] = {
        "last_attempt_at": NOW - timedelta(minutes=1),
        "last_commit_at": NOW - timedelta(hours=2),
        "last_commit_sha": "0123456789abcdef0123456789abcdef01234567",
    }
    return ArchiveState(**(values | fields))


def test_failing_git_commits_are_unhealthy_and_listed_as_recent_errors(root: Path) -> None:
    since = NOW - timedelta(hours=1)
    error = "HEAD moved while staging (someone committed); retrying later"
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=2), failed=1, errors=["session s1: boom"])
        add_run(store, NOW - timedelta(minutes=1, seconds=30))
        store.save_archive_state(failing_archive(error=error, failing_since=since))
        report = status_of(store, root)
    assert not report.healthy
    assert report.problem == f"git commits have failed since {when(since, NOW)}: {error}"
    assert [e.message for e in report.recent_errors] == [
        f"git commit failed: {error}",
        "session s1: boom",
    ]
    rows = dict(describe(report))
    assert rows["git archive"] == (
        f"last commit 0123456, {when(NOW - timedelta(hours=2), NOW)}; "
        f"FAILING since {when(since, NOW)}: {error}"
    )
    assert "git push" not in rows


def test_failing_git_pushes_are_unhealthy_after_failing_commits(root: Path) -> None:
    since = NOW - timedelta(hours=3)
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=2))
        pushes = failing_archive(push_error="remote rejected", push_failing_since=since)
        store.save_archive_state(pushes)
        report = status_of(store, root)
        assert report.problem == f"git pushes have failed since {when(since, NOW)}: remote rejected"
        assert [e.message for e in report.recent_errors] == ["git push failed: remote rejected"]
        assert dict(describe(report))["git push"] == (
            f"FAILING since {when(since, NOW)}: remote rejected"
        )
        store.save_archive_state(replace(pushes, error="index.lock exists", failing_since=NOW))
        report = status_of(store, root)
    assert report.problem is not None
    assert report.problem.startswith("git commits have failed since ")


def test_a_working_git_archive_shows_its_last_commit_in_text_and_json(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    with Store.open(index_url(root)) as store:
        add_run(store, committed - timedelta(seconds=10))
        report = status_of(store, root)
        assert "git archive" not in dict(describe(report))  # no archive: no row
        assert report.to_json()["archive"] is None
        state = failing_archive(last_attempt_at=committed, last_commit_at=committed)
        store.save_archive_state(state)
        report = status_of(store, root, now=committed + timedelta(minutes=3))
    assert dict(describe(report))["git archive"] == (
        f"last commit 0123456, {when(committed, committed + timedelta(minutes=3))}"
    )
    archive = status_json(capsys)["archive"]
    assert archive == {
        "last_attempt_at": committed.isoformat(),
        "last_commit_at": committed.isoformat(),
        "last_commit_sha": "0123456789abcdef0123456789abcdef01234567",
        "commit_error": None,
        "commit_failing_since": None,
        "push_error": None,
        "push_failing_since": None,
    }


def test_sessions_say_when_the_cloud_listed_a_different_number(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    with Store.open(index_url(root)) as store:
        listing = add_run(store, NOW - timedelta(hours=1), kind="reconcile", listed=300)
        add_run(store, NOW - timedelta(minutes=5))  # an incremental run reads no full listing
    assert listing.ended_at is not None
    local = listing.ended_at.astimezone().strftime("%Y-%m-%d %H:%M")
    assert run(["status"]) == 0
    assert row(capsys.readouterr().out, "sessions") == (
        f"3 in 2 projects; the cloud listed 300 at the last full listing ({local})"
    )
    data = status_json(capsys)
    assert (data["sessions"], data["listed"]) == (3, 300)
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=1), kind="reconcile", listed=3)
    assert run(["status"]) == 0
    assert row(capsys.readouterr().out, "sessions") == "3 in 2 projects"


def test_a_full_sync_records_how_many_sessions_the_cloud_listed(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    data = status_json(capsys)
    assert data["listed"] == data["last_run"]["listed"] == 3


def test_listed_is_null_when_no_run_read_every_listing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(minutes=5))  # an incremental run reads no full listing
    data = status_json(capsys)
    assert data["listed"] is None
    assert data["last_run"]["listed"] is None


def test_status_check_with_a_broken_config_file_exits_1_not_2(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("root = [unclosed\n", encoding="utf-8")
    assert run(["--config", str(config), "status", "--check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"unhealthy: Configuration error in {config}: not a readable TOML")
    assert out.count("\n") == 1
    assert run(["--config", str(config), "status"]) == 2  # without --check: the usual code


def test_status_check_with_an_unreadable_index_exits_1(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_only(root)
    (root / ".syncd").mkdir(parents=True)
    (root / ".syncd" / "index.db").write_bytes(b"this is not a database" * 100)
    assert run(["status", "--check"]) == 1
    assert capsys.readouterr().out.startswith("unhealthy: ")
    assert run(["status"]) == 5


def test_recent_errors_are_newest_first_and_at_most_ten(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(hours=3), failed=2, errors=["a1", "a2"])
        add_run(store, NOW - timedelta(hours=2), failed=1, errors=["b1"])
        report = collect_status(
            store, root / ".syncd", now=NOW, sync_seconds=300, stale_after_seconds=3600
        )
        assert [e.message for e in report.recent_errors] == ["b1", "a2", "a1"]
        many = [f"c{n}" for n in range(12)]
        add_run(store, NOW - timedelta(hours=1), failed=12, errors=many)
        report = collect_status(
            store, root / ".syncd", now=NOW, sync_seconds=300, stale_after_seconds=3600
        )
    assert len(report.recent_errors) == MAX_RECENT_ERRORS == 10
    assert report.recent_errors[0].message == "c11"


def test_a_spent_budget_says_when_it_resets(root: Path) -> None:
    reset = NOW + timedelta(minutes=20)
    local = reset.astimezone().strftime("%H:%M")
    with Store.open(index_url(root)) as store:
        store.save_budget(BudgetRecord(1000, 0, reset.timestamp(), NOW.timestamp()))

        def budget_line(now: datetime) -> str:
            report = collect_status(
                store, root / ".syncd", now=now, sync_seconds=300, stale_after_seconds=3600
            )
            return dict(describe(report))["rate budget"]

        assert budget_line(NOW) == f"spent, waiting for reset at {local}"
        # Once the window is over the recorded count is out of date: the budget refilled.
        assert budget_line(reset + timedelta(seconds=1)).startswith("1000 per window")
        blocked = NOW + timedelta(minutes=3)
        store.save_budget(
            BudgetRecord(1000, 500, reset.timestamp(), NOW.timestamp(), blocked.timestamp())
        )
        blocked_local = blocked.astimezone().strftime("%H:%M")
        assert budget_line(NOW) == f"spent, waiting for reset at {blocked_local}"
        store.save_budget(BudgetRecord(1000, 840, reset.timestamp(), NOW.timestamp()))
        assert budget_line(NOW) == f"840 of 1000 left, resets at {local}"


def test_a_budget_down_to_the_reserve_is_spent_for_the_daemon(root: Path) -> None:
    reset = NOW + timedelta(minutes=20)
    local = reset.astimezone().strftime("%H:%M")
    with Store.open(index_url(root)) as store:
        store.save_budget(BudgetRecord(1000, 100, reset.timestamp(), NOW.timestamp()))
        report = collect_status(
            store,
            root / ".syncd",
            now=NOW,
            sync_seconds=300,
            stale_after_seconds=3600,
            reserve=0.1,
        )
    assert report.budget is not None
    assert report.budget.spent
    assert dict(describe(report))["rate budget"] == (
        f"spent down to the 100 kept for interactive commands, waiting for reset at {local}"
    )


def test_budget_in_json_is_utc_with_the_spent_flag(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    with Store.open(index_url(root)) as store:
        store.save_budget(BudgetRecord(100, 0, reset.timestamp(), reset.timestamp() - 60))
    budget = status_json(capsys)["budget"]
    assert budget["spent"] is True
    assert budget["wait_until"] == budget["reset_at"] == reset.isoformat()
    assert (budget["limit"], budget["remaining"]) == (100, 0)


# --- with a daemon -------------------------------------------------------------------------


def test_status_shows_a_running_daemon_its_activity_and_next_sync(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    state_dir = root / ".syncd"
    with lock_held_by_another_process(state_dir) as daemon:
        now = datetime.now(UTC).replace(microsecond=0)
        next_sync = now + timedelta(minutes=4)
        write_state(
            state_dir,
            DaemonState(daemon.pid, now - timedelta(hours=1), "idle", next_sync, None, None),
        )
        assert run(["status"]) == 0
        out = capsys.readouterr().out
        assert row(out, "daemon").startswith(f"running (pid {daemon.pid}), idle, started ")
        assert row(out, "next sync").endswith("(in 4 min), every 5 min")
        data = status_json(capsys)
    assert data["daemon"]["running"] is True
    assert data["daemon"]["pid"] == daemon.pid
    assert data["daemon"]["activity"] == "idle"
    assert data["next_sync"] == data["daemon"]["next_sync"] == next_sync.isoformat()


def test_a_state_file_left_by_a_dead_daemon_is_ignored(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(server, capsys)
    write_state(root / ".syncd", DaemonState(999_999, NOW, "syncing", NOW, None, None))
    data = status_json(capsys)
    assert data["daemon"]["running"] is False
    assert data["daemon"]["activity"] is None
    assert data["next_sync"] is None


def test_status_reads_while_a_sync_holds_a_write_transaction(
    server: DevServer, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_only(root)
    synced(server, capsys)
    writer = sqlite3.connect(root / ".syncd" / "index.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO sync_runs (started_at, requests, not_modified, fetched, new, updated,"
            " unchanged, failed, errors, kind, deferred, deleted)"
            " VALUES ('2026-03-01 12:00:00.000000', 0, 0, 0, 0, 0, 0, 0, '[]', 'incremental', 0, 0)"
        )
        with lock_held_by_another_process(root / ".syncd") as daemon:
            data = status_json(capsys)
            assert data["daemon"]["pid"] == daemon.pid
            # The uncommitted run is not visible yet; the committed state is.
            assert data["last_run"]["kind"] == "once"
            assert data["sessions"] == 3
            writer.execute("COMMIT")
            assert run(["status"]) == 0
            assert row(capsys.readouterr().out, "last run").startswith("sync, in progress since")
    finally:
        writer.close()


# --- the state file --------------------------------------------------------------------------


def test_daemon_state_round_trips_through_its_file_in_utc(tmp_path: Path) -> None:
    plus_one = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    state = DaemonState(4321, plus_one, "syncing", NOW, NOW + timedelta(hours=1), None)
    write_state(tmp_path, state)
    read = read_state(tmp_path)
    assert read == state
    assert read is not None
    assert read.started_at.utcoffset() == timedelta(0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [DAEMON_STATE]  # no temp file left
    write_state(tmp_path, replace(state, activity="idle", next_sync=None))
    assert read_state(tmp_path) == replace(state, activity="idle", next_sync=None)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"pid": 1}',
        b'{"pid": "x", "started_at": "2026-03-01T12:00:00+00:00", "activity": "idle",'
        b' "next_sync": null, "next_reconcile": null, "budget_wait_until": null}',
        # A time without a zone is not trusted.
        b'{"pid": 1, "started_at": "2026-03-01T12:00:00", "activity": "idle",'
        b' "next_sync": null, "next_reconcile": null, "budget_wait_until": null}',
    ],
)
def test_a_corrupt_state_file_reads_as_no_state(tmp_path: Path, content: bytes) -> None:
    (tmp_path / DAEMON_STATE).write_bytes(content)
    assert read_state(tmp_path) is None


def test_a_missing_state_file_reads_as_no_state(tmp_path: Path) -> None:
    assert read_state(tmp_path) is None
    assert read_state(tmp_path / "absent") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0 s"),
        (59.4, "59 s"),
        (89, "1 min"),
        (239.6, "4 min"),
        (3599, "1 h"),
        (3600 + 5 * 60, "1 h 5 min"),
        (86400 * 3 + 3600 * 4, "3 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_durations_are_rounded_to_their_last_unit(seconds: float, text: str) -> None:
    assert duration(seconds) == text
