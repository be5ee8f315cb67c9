"""`syncd status`: what the mirror, the index and the daemon say, gathered without side effects.

Read-only: no lock is taken and nothing is written, so it works while a daemon syncs (the
SQLite index is in WAL mode) and on a root that was never synced.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.cloud.budget import BudgetSnapshot
from syncd.daemon.health import FirstSync, find_problem, first_sync_health, run_in_progress
from syncd.daemon.lock import UNKNOWN_PID, holder
from syncd.daemon.state import DaemonSettings, DaemonState, read_state
from syncd.errors import ConfigError
from syncd.index.queries import IndexReading
from syncd.index.reader import sqlite_file
from syncd.index.records import ArchiveState, BudgetRecord, RunOutcome, RunRecord
from syncd.index.statuses import StoryStatus

if TYPE_CHECKING:  # SQLAlchemy only when the stdlib reader cannot read the index
    from syncd.index.store import Store

RECENT_RUNS = 5
MAX_RECENT_ERRORS = 10
SETTINGS_OF_DAEMON = "daemon"
SETTINGS_OF_CONFIG = "config"
# `syncd status --check` exits with this when the mirror is not healthy.
EXIT_UNHEALTHY = 1


@dataclass(frozen=True)
class BudgetStatus:
    """The rate budget as last reported by the API."""

    limit: int
    remaining: int
    reset_at: datetime
    blocked_until: datetime | None
    # Set when nothing may be sent before this moment (budget spent or a 429 in force).
    wait_until: datetime | None
    # The window recorded has ended since: `remaining` is out of date (the budget refilled).
    window_over: bool
    # Requests kept for interactive commands: the daemon stops when only these are left.
    reserved: int = 0

    @property
    def spent(self) -> bool:
        return self.wait_until is not None


@dataclass(frozen=True)
class RecentError:
    """An error of a run (`at` is when the run started) or of the git archive (`run_id` None)."""

    message: str
    at: datetime
    run_id: int | None = None


@dataclass(frozen=True)
class PushStatus:
    """Stories by status, whether pushing is paused (why, and when the usage is looked at
    next), when a failed story is retried next, and the newest ready ones."""

    counts: dict[str, int]
    paused_reason: str | None
    latest_ready: tuple[tuple[str, str], ...]  # (session id, story URL)
    next_usage_check: datetime | None = None
    resets_at: datetime | None = None  # the end of PullStory's usage period, when known
    next_retry: datetime | None = None


@dataclass(frozen=True)
class StatusReport:
    """Everything `syncd status` shows. `daemon` is the running daemon's own state, if any."""

    now: datetime
    root: Path
    index_exists: bool
    daemon_pid: int | None
    daemon: DaemonState | None
    last_run: RunRecord | None
    last_success: RunRecord | None
    next_sync: datetime | None
    sessions: int
    projects: int
    budget: BudgetStatus | None
    recent_errors: tuple[RecentError, ...]
    healthy: bool
    problem: str | None
    sync_seconds: float
    stale_after_seconds: float
    pushes: PushStatus | None = None
    archive: ArchiveState | None = None  # None before the first git commit attempt
    # What the newest run that read every listing says the cloud holds, and when it ended.
    listed: int | None = None
    listed_at: datetime | None = None
    live_sessions: int = 0  # not counting those kept after their deletion in the cloud
    last_run_in_progress: bool = False
    # The settings in force: the running daemon's own when it says them (SETTINGS_OF_DAEMON),
    # else this command's configuration (SETTINGS_OF_CONFIG). sync_seconds is its interval.
    settings: DaemonSettings | None = None
    settings_from: str = "config"
    # How a first sync under way is doing ("first sync in progress: 1,234 of 20,000 ...").
    first_sync: str | None = None
    # GraphQL's own budget (search --cloud, sync.first), as its last answer reported it.
    graphql_budget: BudgetStatus | None = None

    @property
    def daemon_running(self) -> bool:
        return self.daemon_pid is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; timestamps are ISO 8601 in UTC, absent values are null."""
        daemon = self.daemon
        return {
            "root": str(self.root),
            "now": _iso(self.now),
            "healthy": self.healthy,
            "problem": self.problem,
            "first_sync": self.first_sync,
            "index_exists": self.index_exists,
            "daemon": {
                "running": self.daemon_running,
                "pid": None if self.daemon_pid in (None, UNKNOWN_PID) else self.daemon_pid,
                "started_at": _iso(daemon.started_at) if daemon else None,
                "activity": daemon.activity if daemon else None,
                "next_sync": _iso(daemon.next_sync) if daemon else None,
                "next_reconcile": _iso(daemon.next_reconcile) if daemon else None,
                "budget_wait_until": _iso(daemon.budget_wait_until) if daemon else None,
            },
            "next_sync": _iso(self.next_sync),
            "last_run": _run_json(self.last_run),
            "last_success": _run_json(self.last_success),
            "sessions": self.sessions,
            "projects": self.projects,
            "listed": self.listed,
            "listed_at": _iso(self.listed_at),
            "budget": _budget_json(self.budget),
            "graphql_budget": _budget_json(self.graphql_budget),
            "archive": _archive_json(self.archive),
            "recent_errors": [_error_json(e) for e in self.recent_errors],
            "schedule": {
                "sync_seconds": self.sync_seconds,
                "reconcile_seconds": self.settings.reconcile_seconds if self.settings else None,
                "stale_after_seconds": self.stale_after_seconds,
            },
            "settings": {
                "from": self.settings_from,
                "push": self.settings.push if self.settings else None,
                "git": self.settings.git if self.settings else None,
            },
            "pullstory": None
            if self.pushes is None
            else {
                "stories": self.pushes.counts,
                "paused": self.pushes.paused_reason,
                "next_usage_check": _iso(self.pushes.next_usage_check),
                "resets_at": _iso(self.pushes.resets_at),
                "next_retry": _iso(self.pushes.next_retry),
                "latest_ready": [
                    {"session_id": sid, "url": url} for sid, url in self.pushes.latest_ready
                ],
            },
        }


def open_index(database_url: str) -> Store | None:
    """The index opened for reading (no migration), or None when it is a SQLite file that
    does not exist yet: opening it would create it, and a status must not."""
    plain_file = sqlite_file(database_url)
    if plain_file is not None and not plain_file.exists():
        return None  # said without importing SQLAlchemy: a root never synced answers fast
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from syncd.index.store import Store

    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError("SYNCD_DATABASE_URL", "not a database URL") from None
    database = url.database
    is_file = url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    if is_file and not Path(str(database)).exists():
        return None
    return Store.open(database_url, migrate_schema=False)


def collect_status(
    store: IndexReading | None,
    state_dir: Path,
    *,
    now: datetime,
    sync_seconds: float,
    stale_after_seconds: float,
    reserve: float = 0.0,
    configured: DaemonSettings | None = None,
) -> StatusReport:
    """Gather the status of the root whose syncd folder is `state_dir`.

    `store` is None when there is no index yet (a root never synced). Healthy means none
    of the problems `health.find_problem` looks for, in its order, is found. The settings
    reported are the running daemon's own when its state file says them; otherwise
    `configured` (this command's, with `sync_seconds` its interval).
    """
    pid = holder(state_dir)
    state = read_state(state_dir) if pid is not None else None
    # A state file left by a daemon that died describes nobody: it must name the holder.
    daemon = state if state is not None and state.pid == pid else None
    runs = store.runs(limit=RECENT_RUNS) if store else []
    last_success = store.last_success() if store else None
    archive = _archive_state(store) if store else None
    listing = store.last_listing() if store else None
    newest = runs[0] if runs else None
    in_progress = run_in_progress(newest, pid, daemon.started_at if daemon else None)
    settings, settings_from = configured, SETTINGS_OF_CONFIG
    if daemon is not None and daemon.settings is not None:
        settings, settings_from = daemon.settings, SETTINGS_OF_DAEMON
        sync_seconds = daemon.settings.sync_seconds
    first = _first_sync(last_success, newest, in_progress, daemon, pid, now)
    first_note: str | None = None
    if first is not None:
        healthy, first_note = first_sync_health(first, now, stale_after_seconds)
        problem = None if healthy else first_note
    else:
        problem = find_problem(
            runs,
            last_success,
            archive,
            now=now,
            stale_after=stale_after_seconds,
            daemon_running=pid is not None,
            in_progress=in_progress,
        )
    return StatusReport(
        now=now,
        root=state_dir.parent,
        index_exists=store is not None,
        daemon_pid=pid,
        daemon=daemon,
        last_run=runs[0] if runs else None,
        last_success=last_success,
        next_sync=daemon.next_sync if daemon else None,
        sessions=store.count_sessions() if store else 0,
        live_sessions=store.count_sessions(live=True) if store else 0,
        projects=store.count_projects() if store else 0,
        budget=_budget_status(store.budget(), now, reserve) if store else None,
        graphql_budget=_budget_status(store.budget("graphql"), now, reserve) if store else None,
        recent_errors=_recent_errors(runs, archive),
        healthy=problem is None,
        problem=problem,
        sync_seconds=sync_seconds,
        stale_after_seconds=stale_after_seconds,
        pushes=_push_status(store) if store else None,
        archive=archive,
        listed=listing.listed if listing else None,
        listed_at=(listing.ended_at or listing.started_at) if listing else None,
        last_run_in_progress=in_progress,
        settings=settings,
        settings_from=settings_from,
        first_sync=first_note,
    )


def _first_sync(
    last_success: RunRecord | None,
    newest: RunRecord | None,
    in_progress: bool,
    daemon: DaemonState | None,
    pid: int | None,
    now: datetime,
) -> FirstSync | None:
    """A first sync under way: none has succeeded, and a run is in progress now or the
    newest one stopped early for the rate budget, which a running daemon goes on with.
    None otherwise."""
    if last_success is not None or pid is None:
        return None
    if newest is None:  # a daemon that has only just started: its start-up is the sign
        return None if daemon is None else FirstSync(None, daemon.started_at)
    if not in_progress and newest.outcome != RunOutcome.DEFERRED:
        return None
    waiting = daemon.budget_wait_until if daemon else None
    progress = daemon.progress if daemon else None
    signs = [newest.ended_at or newest.started_at]
    signs += [progress.at] if progress is not None else []
    return FirstSync(progress, max(signs), waiting)


def _archive_state(store: IndexReading) -> ArchiveState | None:
    state = store.archive_state()
    return None if state == ArchiveState() else state


def _push_status(store: IndexReading) -> PushStatus | None:
    # Counts and the last few URLs only: the stories' briefs are never loaded here.
    counts = store.story_counts()
    state = store.push_state()
    if not counts and state.paused_reason is None:
        return None
    paused = state.paused_reason is not None
    retry_at = store.earliest_poll((StoryStatus.FAILED,))
    return PushStatus(
        counts,
        state.paused_reason,
        tuple(store.latest_ready_stories(5)),
        next_usage_check=_maybe_epoch(state.next_usage_check) if paused else None,
        resets_at=_maybe_epoch(state.resets_at) if paused else None,
        next_retry=_maybe_epoch(retry_at),
    )


def _maybe_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else _from_epoch(seconds)


def _budget_status(
    record: BudgetRecord | None, now: datetime, reserve: float
) -> BudgetStatus | None:
    if record is None:
        return None
    moment = now.timestamp()
    # As the next run reads it back: no wait beyond the cap, whatever an older syncd saved.
    saved = BudgetSnapshot(**dataclasses.asdict(record)).bounded(moment)
    reserved = math.ceil(saved.limit * reserve)  # as the daemon's RateBudget counts it
    reset_at = _from_epoch(saved.reset_at)
    blocked = saved.blocked_until
    wait_until: datetime | None = None
    if blocked is not None and blocked > moment:
        wait_until = _from_epoch(blocked)
    elif saved.remaining <= reserved and saved.reset_at > moment:
        wait_until = reset_at
    return BudgetStatus(
        limit=saved.limit,
        remaining=saved.remaining,
        reset_at=reset_at,
        blocked_until=_from_epoch(blocked) if blocked is not None else None,
        wait_until=wait_until,
        window_over=saved.reset_at <= moment,
        reserved=reserved,
    )


def _recent_errors(runs: list[RunRecord], archive: ArchiveState | None) -> tuple[RecentError, ...]:
    """Newest first: runs newest first, within a run the last error first, and a failing
    git commit or push at its last attempt."""
    found = [
        RecentError(message, run.started_at, run.id)
        for run in runs
        for message in reversed(run.errors)
    ]
    found += _archive_errors(archive)
    found.sort(key=lambda error: error.at, reverse=True)  # stable: a run's order stays
    return tuple(found[:MAX_RECENT_ERRORS])


def _archive_errors(archive: ArchiveState | None) -> list[RecentError]:
    if archive is None or archive.last_attempt_at is None:
        return []
    at = archive.last_attempt_at
    errors = [("commit", archive.error), ("push", archive.push_error)]
    return [RecentError(f"git {action} failed: {error}", at) for action, error in errors if error]


# --- JSON ------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _run_json(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "kind": run.kind,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "succeeded": run.succeeded,
        "requests": run.requests,
        "not_modified": run.not_modified,
        "fetched": run.fetched,
        "new": run.new,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "deferred": run.deferred,
        "deleted": run.deleted,
        "outcome": run.outcome,
        "listed": run.listed,
    }


def _error_json(error: RecentError) -> dict[str, Any]:
    from_run = error.run_id is not None
    return {
        "run_id": error.run_id,
        "run_started_at": _iso(error.at) if from_run else None,
        "at": _iso(error.at),
        "message": error.message,
    }


def _archive_json(archive: ArchiveState | None) -> dict[str, Any] | None:
    if archive is None:
        return None
    return {
        "last_attempt_at": _iso(archive.last_attempt_at),
        "last_commit_at": _iso(archive.last_commit_at),
        "last_commit_sha": archive.last_commit_sha,
        "commit_error": archive.error,
        "commit_failing_since": _iso(archive.failing_since),
        "push_error": archive.push_error,
        "push_failing_since": _iso(archive.push_failing_since),
    }


def _budget_json(budget: BudgetStatus | None) -> dict[str, Any] | None:
    if budget is None:
        return None
    return {
        "limit": budget.limit,
        "remaining": budget.remaining,
        "reset_at": _iso(budget.reset_at),
        "blocked_until": _iso(budget.blocked_until),
        "spent": budget.spent,
        "reserved": budget.reserved,
        "wait_until": _iso(budget.wait_until),
    }
