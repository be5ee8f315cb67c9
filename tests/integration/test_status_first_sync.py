"""`syncd status` during a first sync (hours long under the hourly budget): healthy while it
makes progress or waits for the budget, unhealthy once it stalls; and the settings it
reports are the running daemon's own. Times are injected: `now` and the state file's."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.daemon.state import CycleProgress, DaemonSettings, DaemonState, write_state
from syncd.daemon.status import StatusReport, collect_status
from syncd.daemon.status_text import check_line, clock, describe
from syncd.index.store import Store
from tests.integration.test_lock import lock_held_by_another_process
from tests.integration.test_status import add_run, index_url, row

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STALE_AFTER = 3600.0


@pytest.fixture
def root(cli_root: Path) -> Path:
    return cli_root


def status_at(store: Store, root: Path, now: datetime = NOW) -> StatusReport:
    return collect_status(
        store, root / ".syncd", now=now, sync_seconds=300, stale_after_seconds=STALE_AFTER
    )


def daemon_state(
    pid: int,
    *,
    progress: CycleProgress | None = None,
    budget_wait_until: datetime | None = None,
    settings: DaemonSettings | None = None,
) -> DaemonState:
    return DaemonState(
        pid,
        NOW - timedelta(hours=3),
        "reconcile sync",
        None,
        None,
        budget_wait_until,
        settings=settings,
        progress=progress,
    )


def test_a_first_sync_making_progress_is_healthy_and_says_how_far(root: Path) -> None:
    state_dir = root / ".syncd"
    with Store.open(index_url(root)) as store, lock_held_by_another_process(state_dir) as holder:
        store.start_run(NOW - timedelta(hours=2), kind="reconcile")  # hours in, not done
        progress = CycleProgress(1234, 20000, NOW - timedelta(seconds=20))
        write_state(state_dir, daemon_state(holder.pid, progress=progress))
        report = status_at(store, root)
    assert report.healthy
    expected = "first sync in progress: 1,234 of 20,000 sessions, last progress 20 s ago"
    assert check_line(report) == f"healthy: {expected}"
    assert dict(describe(report))["health"] == f"healthy: {expected}"
    assert report.to_json()["first_sync"] == expected


def test_a_first_sync_with_no_progress_for_longer_than_allowed_is_stalled(root: Path) -> None:
    state_dir = root / ".syncd"
    with Store.open(index_url(root)) as store, lock_held_by_another_process(state_dir) as holder:
        store.start_run(NOW - timedelta(hours=3), kind="reconcile")
        progress = CycleProgress(1234, 20000, NOW - timedelta(hours=2))
        write_state(state_dir, daemon_state(holder.pid, progress=progress))
        report = status_at(store, root)
        just_in_time = status_at(store, root, NOW - timedelta(hours=1, seconds=1))
    assert not report.healthy
    assert check_line(report) == (
        "unhealthy: the first sync has stalled: no progress for 2 h "
        "(more than the 1 h allowed): 1,234 of 20,000 sessions"
    )
    assert just_in_time.healthy  # 59 min 59 s without progress is still within the limit


def test_a_first_sync_waiting_for_the_rate_budget_is_healthy_until_the_wait_is_over(
    root: Path,
) -> None:
    state_dir = root / ".syncd"
    with Store.open(index_url(root)) as store, lock_held_by_another_process(state_dir) as holder:
        # The first cycle spent the budget and stopped; the rest resumes at the reset.
        add_run(
            store, NOW - timedelta(hours=2), kind="reconcile", outcome="deferred", deferred=19000
        )
        resumes = NOW + timedelta(minutes=50)
        progress = CycleProgress(1000, 20000, NOW - timedelta(hours=2) + timedelta(seconds=5))
        state = daemon_state(holder.pid, progress=progress, budget_wait_until=resumes)
        write_state(state_dir, state)
        waiting = status_at(store, root)
        after = status_at(store, root, resumes + timedelta(minutes=1))
    assert waiting.healthy
    assert check_line(waiting) == (
        f"healthy: first sync waiting for the rate budget until {clock(resumes)}: "
        "1,000 of 20,000 sessions"
    )
    # The wait ended and no cycle went on with it: nothing has moved for hours.
    assert not after.healthy
    assert after.problem == (
        "the first sync has stalled: no progress for 2 h 51 min (more than the 1 h allowed): "
        "1,000 of 20,000 sessions"
    )


def test_a_first_sync_run_by_sync_once_counts_from_its_start(root: Path) -> None:
    """`syncd sync --once` holds the lock and writes no state: its run's start is its
    newest sign of life."""
    with Store.open(index_url(root)) as store, lock_held_by_another_process(root / ".syncd"):
        store.start_run(NOW - timedelta(minutes=10), kind="once")
        report = status_at(store, root)
        later = status_at(store, root, NOW + timedelta(hours=1))
    assert check_line(report) == "healthy: first sync in progress, last progress 10 min ago"
    assert not later.healthy


def test_a_daemon_just_started_on_an_empty_root_is_starting_its_first_sync(root: Path) -> None:
    state_dir = root / ".syncd"
    state_dir.mkdir(parents=True, exist_ok=True)
    with lock_held_by_another_process(state_dir) as holder:
        state = replace(daemon_state(holder.pid), started_at=NOW - timedelta(seconds=3))
        write_state(state_dir, state)
        report = collect_status(
            None, state_dir, now=NOW, sync_seconds=300, stale_after_seconds=STALE_AFTER
        )
    assert check_line(report) == "healthy: first sync in progress, last progress 3 s ago"


def test_no_first_sync_under_way_is_still_no_success_yet(root: Path) -> None:
    with Store.open(index_url(root)) as store:
        add_run(store, NOW - timedelta(hours=2), kind="reconcile", outcome="deferred", deferred=5)
        report = status_at(store, root)
    assert not report.healthy
    assert report.problem == "no successful sync yet"


def test_status_reports_the_running_daemons_settings_not_its_own(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = root / ".syncd"
    state_dir.mkdir(parents=True, exist_ok=True)
    running = DaemonSettings(sync_seconds=600, reconcile_seconds=7200, push=True, git=True)
    with lock_held_by_another_process(state_dir) as holder:
        write_state(state_dir, daemon_state(holder.pid, settings=running))
        run(["status"])
        text = capsys.readouterr().out
        run(["status", "--json"])
        data = json.loads(capsys.readouterr().out)
    assert row(text, "settings") == (
        "sync every 10 min, reconcile every 2 h, push on, git on (the running daemon's)"
    )
    assert row(text, "next sync") == "every 10 min"
    assert data["schedule"]["sync_seconds"] == 600
    assert data["schedule"]["reconcile_seconds"] == 7200
    assert data["settings"] == {"from": "daemon", "push": True, "git": True}


def test_status_without_a_daemon_reports_its_own_settings_and_says_so(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["status", "--json"])
    data = json.loads(capsys.readouterr().out)
    run(["status"])
    text = capsys.readouterr().out
    assert data["schedule"]["sync_seconds"] == 300  # the configuration's default
    assert data["settings"] == {"from": "config", "push": False, "git": False}
    assert row(text, "settings") == (
        "sync every 5 min, reconcile every 1 h, push off, git off "
        "(this command's configuration; no daemon is running)"
    )
