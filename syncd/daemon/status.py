"""`syncd status`: what the mirror, the index and the daemon say, gathered without side effects.

Read-only: no lock is taken and nothing is written, so it works while a daemon syncs (the
SQLite index is in WAL mode) and on a root that was never synced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.daemon.lock import UNKNOWN_PID, holder
from syncd.daemon.state import DaemonState, read_state
from syncd.errors import ConfigError
from syncd.index.store import BudgetRecord, RunRecord, Store

RECENT_RUNS = 5
MAX_RECENT_ERRORS = 10
NO_SUCCESS_YET = "no successful sync yet"
# `syncd status --check` exits with this when the mirror is not healthy.
EXIT_UNHEALTHY = 1
RUN_KINDS = {"once": "sync --once", "incremental": "sync", "reconcile": "full reconcile"}


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

    def summary(self) -> str:
        """One line, local clock times: '840 of 1000 left, resets at 14:05' and the like."""
        if self.wait_until is not None and self.wait_until == self.reset_at and self.remaining:
            return (  # not a 429 and not zero left: stopped at the interactive reserve
                f"spent down to the {self.reserved} kept for interactive commands, "
                f"waiting for reset at {_clock(self.wait_until)}"
            )
        if self.wait_until is not None:
            return f"spent, waiting for reset at {_clock(self.wait_until)}"
        if self.window_over:
            return f"{self.limit} per window (a new window began at {_clock(self.reset_at)})"
        return f"{self.remaining} of {self.limit} left, resets at {_clock(self.reset_at)}"


@dataclass(frozen=True)
class RecentError:
    run_id: int
    run_started_at: datetime
    message: str


@dataclass(frozen=True)
class PushStatus:
    """Stories by status, whether pushing is paused, and the newest ready ones."""

    counts: dict[str, int]
    paused_reason: str | None
    latest_ready: tuple[tuple[str, str], ...]  # (session id, story URL)

    def summary(self) -> str:
        order = ("ready", "generating", "queued", "failed", "rejected")
        parts = [f"{self.counts[s]} {s}" for s in order if self.counts.get(s)]
        text = ", ".join(parts) if parts else "nothing pushed yet"
        return f"{text}; PAUSED: {self.paused_reason}" if self.paused_reason else text


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
            "budget": _budget_json(self.budget),
            "recent_errors": [
                {"run_id": e.run_id, "run_started_at": _iso(e.run_started_at), "message": e.message}
                for e in self.recent_errors
            ],
            "schedule": {
                "sync_seconds": self.sync_seconds,
                "stale_after_seconds": self.stale_after_seconds,
            },
            "pullstory": None
            if self.pushes is None
            else {
                "stories": self.pushes.counts,
                "paused": self.pushes.paused_reason,
                "latest_ready": [
                    {"session_id": sid, "url": url} for sid, url in self.pushes.latest_ready
                ],
            },
        }


def open_index(database_url: str) -> Store | None:
    """The index opened for reading (no migration), or None when it is a SQLite file that
    does not exist yet: opening it would create it, and a status must not."""
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
    store: Store | None,
    state_dir: Path,
    *,
    now: datetime,
    sync_seconds: float,
    stale_after_seconds: float,
    reserve: float = 0.0,
) -> StatusReport:
    """Gather the status of the root whose syncd folder is `state_dir`.

    `store` is None when there is no index yet (a root never synced). Healthy means the
    last successful run ended less than `stale_after_seconds` before `now`.
    """
    pid = holder(state_dir)
    state = read_state(state_dir) if pid is not None else None
    # A state file left by a daemon that died describes nobody: it must name the holder.
    daemon = state if state is not None and state.pid == pid else None
    runs = store.runs(limit=RECENT_RUNS) if store else []
    last_success = store.last_success() if store else None
    healthy, problem = _health(last_success, now, stale_after_seconds, running=pid is not None)
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
        projects=store.count_projects() if store else 0,
        budget=_budget_status(store.budget(), now, reserve) if store else None,
        recent_errors=_recent_errors(runs),
        healthy=healthy,
        problem=problem,
        sync_seconds=sync_seconds,
        stale_after_seconds=stale_after_seconds,
        pushes=_push_status(store) if store else None,
    )


def _push_status(store: Store) -> PushStatus | None:
    # Counts and the last few URLs only: the stories' briefs are never loaded here.
    counts = store.story_counts()
    state = store.push_state()
    if not counts and state.paused_reason is None:
        return None
    return PushStatus(counts, state.paused_reason, tuple(store.latest_ready_stories(5)))


def _health(
    last_success: RunRecord | None, now: datetime, stale_after: float, *, running: bool
) -> tuple[bool, str | None]:
    if last_success is None or last_success.ended_at is None:
        return False, NO_SUCCESS_YET
    age = (now - last_success.ended_at).total_seconds()
    if age < stale_after:
        return True, None
    problem = (
        f"the last successful sync ended {duration(age)} ago "
        f"(more than the {duration(stale_after)} allowed)"
    )
    return False, problem if running else f"{problem}; no syncd daemon is running"


def _budget_status(
    record: BudgetRecord | None, now: datetime, reserve: float
) -> BudgetStatus | None:
    if record is None:
        return None
    moment = now.timestamp()
    reserved = math.ceil(record.limit * reserve)  # as the daemon's RateBudget counts it
    reset_at = _from_epoch(record.reset_at)
    blocked = record.blocked_until
    wait_until: datetime | None = None
    if blocked is not None and blocked > moment:
        wait_until = _from_epoch(blocked)
    elif record.remaining <= reserved and record.reset_at > moment:
        wait_until = reset_at
    return BudgetStatus(
        limit=record.limit,
        remaining=record.remaining,
        reset_at=reset_at,
        blocked_until=_from_epoch(blocked) if blocked is not None else None,
        wait_until=wait_until,
        window_over=record.reset_at <= moment,
        reserved=reserved,
    )


def _recent_errors(runs: list[RunRecord]) -> tuple[RecentError, ...]:
    """Newest first: runs newest first, and within a run the last error first."""
    found: list[RecentError] = []
    for run in runs:
        for message in reversed(run.errors):
            if len(found) == MAX_RECENT_ERRORS:
                return tuple(found)
            found.append(RecentError(run.id, run.started_at, message))
    return tuple(found)


# --- text for people --------------------------------------------------------------------


def describe(report: StatusReport) -> list[tuple[str, str]]:
    """The human status as (label, value) rows, local clock times; values are one line."""
    now = report.now
    rows = [("mirror", str(report.root))]
    rows.append(("health", "healthy" if report.healthy else f"UNHEALTHY: {report.problem}"))
    rows.append(("daemon", _describe_daemon(report)))
    if report.daemon_running:
        every = f"every {duration(report.sync_seconds)}"
        nxt = f"{when(report.next_sync, now)}, {every}" if report.next_sync else every
        rows.append(("next sync", nxt))
    if not report.index_exists:
        rows.append(("index", "none yet: this root was never synced (run 'syncd sync --once')"))
        return rows
    rows.append(("last run", _describe_run(report.last_run, now)))
    ended = report.last_success.ended_at if report.last_success else None
    rows.append(("last success", when(ended, now) if ended else "never"))
    rows.append(("sessions", f"{report.sessions} in {_plural(report.projects, 'project')}"))
    budget = report.budget
    rows.append(("rate budget", budget.summary() if budget else "unknown (no request made yet)"))
    if report.pushes is not None:
        rows.append(("pullstory", report.pushes.summary()))
        for position, (session_id, url) in enumerate(report.pushes.latest_ready):
            rows.append(("latest stories" if position == 0 else "", f"{session_id[:8]}  {url}"))
    for position, error in enumerate(report.recent_errors):
        label = "recent errors" if position == 0 else ""
        rows.append((label, f"{_clock(error.run_started_at)}  {error.message}"))
    return rows


def check_line(report: StatusReport) -> str:
    """The one line `syncd status --check` prints."""
    ended = report.last_success.ended_at if report.last_success else None
    if not report.healthy or ended is None:
        return f"unhealthy: {report.problem}"
    age = (report.now - ended).total_seconds()
    return f"healthy: last successful sync ended {duration(age)} ago"


def _describe_daemon(report: StatusReport) -> str:
    if report.daemon_pid is None:
        return "not running"
    pid = "pid unknown" if report.daemon_pid == UNKNOWN_PID else f"pid {report.daemon_pid}"
    daemon = report.daemon
    if daemon is None:
        return f"running ({pid})"
    text = f"running ({pid}), {daemon.activity}, started {when(daemon.started_at, report.now)}"
    if daemon.budget_wait_until is not None and daemon.budget_wait_until > report.now:
        text += f"; waiting for the rate budget until {_clock(daemon.budget_wait_until)}"
    return text


def _describe_run(run: RunRecord | None, now: datetime) -> str:
    if run is None:
        return "none yet"
    if run.ended_at is None:
        return f"{_kind(run)}, in progress since {when(run.started_at, now)}"
    seconds = (run.ended_at - run.started_at).total_seconds()
    counts = f"{run.new} new, {run.updated} updated, {run.unchanged} unchanged, {run.failed} failed"
    if run.deferred:
        counts += f", {run.deferred} deferred"
    if run.deleted:
        counts += f", {run.deleted} deleted"
    return (
        f"{_kind(run)}, ended {when(run.ended_at, now)}, took {duration(seconds)}: {counts}; "
        f"{_plural(run.requests, 'request')} ({run.not_modified} of them 304)"
    )


def _kind(run: RunRecord) -> str:
    return RUN_KINDS.get(run.kind, run.kind)


def when(moment: datetime, now: datetime) -> str:
    """'2026-01-16 22:28 (3 min ago)' or '... (in 4 min)' in local time."""
    seconds = (moment - now).total_seconds()
    local = moment.astimezone().strftime("%Y-%m-%d %H:%M")
    if abs(seconds) < 1:
        return f"{local} (just now)"
    relative = f"in {duration(seconds)}" if seconds > 0 else f"{duration(-seconds)} ago"
    return f"{local} ({relative})"


def duration(seconds: float) -> str:
    """A short human duration, rounded to its last unit: '12 s', '3 min', '2 h 5 min', '3 d 4 h'."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(round(whole / 3600), 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
