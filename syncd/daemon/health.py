"""When the mirror is unhealthy: the rules `syncd status` applies, in the order it checks them.

Pure: the caller reads the runs, the git archive's state and the lock, and passes the time.
Each problem is one line that says what happened and, where it helps, what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from syncd.daemon.state import CycleProgress
from syncd.daemon.status_text import clock, duration, one_line, plural, run_kind, when
from syncd.index.records import ArchiveState, RunOutcome, RunRecord

NO_SUCCESS_YET = "no successful sync yet"
# How the sync engine starts the error it records for an interrupted run.
INTERRUPTED_PREFIX = "interrupted: "


def run_in_progress(
    newest: RunRecord | None, holder_pid: int | None, holder_started_at: datetime | None
) -> bool:
    """Whether the newest run is being run now: unfinished while the root's lock is held.

    A run that began before the daemon holding the lock started was not its run (that
    process was killed); `holder_started_at` is None when the holder does not say.
    """
    if newest is None or newest.ended_at is not None or holder_pid is None:
        return False
    return holder_started_at is None or newest.started_at >= holder_started_at


@dataclass(frozen=True)
class FirstSync:
    """A first sync under way: how far (when the daemon says), its newest sign of life,
    and the end of the rate budget wait it is in, if any."""

    progress: CycleProgress | None
    last_progress: datetime
    budget_wait_until: datetime | None = None


def first_sync_health(first: FirstSync, now: datetime, stale_after: float) -> tuple[bool, str]:
    """Healthy while it progresses or waits for the budget; stalled once it has made no
    progress for `stale_after` seconds or more. (healthy, the line that says so)."""
    counts = _counts(first.progress)
    waiting = first.budget_wait_until
    if waiting is not None and waiting > now:
        return True, f"first sync waiting for the rate budget until {clock(waiting)}{counts}"
    quiet = max(0.0, (now - first.last_progress).total_seconds())
    if quiet < stale_after:
        return True, f"first sync in progress{counts}, last progress {duration(quiet)} ago"
    return False, (
        f"the first sync has stalled: no progress for {duration(quiet)} "
        f"(more than the {duration(stale_after)} allowed){counts}"
    )


def _counts(progress: CycleProgress | None) -> str:
    if progress is None:
        return ""
    return f": {progress.done:,} of {progress.total:,} sessions"


def find_problem(
    runs: Sequence[RunRecord],
    last_success: RunRecord | None,
    archive: ArchiveState | None,
    *,
    now: datetime,
    stale_after: float,
    daemon_running: bool,
    in_progress: bool,
) -> str | None:
    """The first thing wrong, or None when healthy. `runs` are the newest runs, newest first.

    Unhealthy, in this order: no successful run yet; the newest finished run failed; the
    newest run was interrupted, or never finished (and is not in progress); git commits
    fail; git pushes fail; the last success ended `stale_after` seconds ago or more.
    """
    run_problem = _run_problem(runs[1:] if in_progress else runs, now)
    if last_success is None or last_success.ended_at is None:
        return f"{NO_SUCCESS_YET}; {run_problem}" if run_problem else NO_SUCCESS_YET
    return (
        run_problem
        or _archive_problem(archive, now)
        or _staleness(last_success.ended_at, now, stale_after, daemon_running=daemon_running)
    )


def _run_problem(settled: Sequence[RunRecord], now: datetime) -> str | None:
    """What the runs say, from the newest that is not running now."""
    finished = next((run for run in settled if run.ended_at is not None), None)
    if finished is not None and finished.outcome == RunOutcome.FAILED:
        return f"the last sync ({run_kind(finished)}) failed: {_first_error(finished)}"
    if not settled:
        return None
    newest = settled[0]
    if newest.outcome == RunOutcome.INTERRUPTED:
        return (
            f"the last sync ({run_kind(newest)}) was interrupted ({_interruption(newest)}); "
            "run 'syncd sync --once' or wait for the daemon"
        )
    if newest.ended_at is None:
        return (
            f"the last sync ({run_kind(newest)}, started {when(newest.started_at, now)}) "
            "never finished: the process was killed or lost power"
        )
    return None


def _first_error(run: RunRecord) -> str:
    if run.errors:
        return one_line(run.errors[0])
    return f"{plural(run.failed, 'session')} failed (no error was recorded)"


def _interruption(run: RunRecord) -> str:
    reasons = [e for e in run.errors if e.startswith(INTERRUPTED_PREFIX)]
    return one_line(reasons[-1].removeprefix(INTERRUPTED_PREFIX)) if reasons else "stopped early"


def _archive_problem(archive: ArchiveState | None, now: datetime) -> str | None:
    if archive is None:
        return None
    if archive.error is not None:
        since = archive.failing_since or archive.last_attempt_at
        return f"git commits have failed{_since(since, now)}: {one_line(archive.error)}"
    if archive.push_error is not None:
        since = archive.push_failing_since or archive.last_attempt_at
        return f"git pushes have failed{_since(since, now)}: {one_line(archive.push_error)}"
    return None


def _since(moment: datetime | None, now: datetime) -> str:
    return "" if moment is None else f" since {when(moment, now)}"


def _staleness(
    ended: datetime, now: datetime, stale_after: float, *, daemon_running: bool
) -> str | None:
    age = (now - ended).total_seconds()
    if age < stale_after:
        return None
    problem = (
        f"the last successful sync ended {duration(age)} ago "
        f"(more than the {duration(stale_after)} allowed)"
    )
    return problem if daemon_running else f"{problem}; no syncd daemon is running"
