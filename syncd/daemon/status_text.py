"""`syncd status` in words: the human rows, the `--check` line, and how times are said.

Local clock times for people; the JSON in `status` keeps UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from syncd.daemon.lock import UNKNOWN_PID
from syncd.index.records import ArchiveState, RunOutcome, RunRecord
from syncd.index.statuses import StoryStatus

if TYPE_CHECKING:  # the report is built in status, which says its problems with these words
    from syncd.daemon.status import BudgetStatus, PushStatus, StatusReport

RUN_KINDS = {"once": "sync --once", "incremental": "sync", "reconcile": "full reconcile"}
SHORT_SHA = 7  # as `git log --oneline` shows a commit


def describe(report: StatusReport) -> list[tuple[str, str]]:
    """The human status as (label, value) rows, local clock times; values are one line."""
    now = report.now
    rows = [("mirror", str(report.root))]
    rows.append(("health", _describe_health(report)))
    rows.append(("daemon", _describe_daemon(report)))
    if report.daemon_running:
        every = f"every {duration(report.sync_seconds)}"
        nxt = f"{when(report.next_sync, now)}, {every}" if report.next_sync else every
        rows.append(("next sync", nxt))
    if report.settings is not None:
        rows.append(("settings", _describe_settings(report)))
    if not report.index_exists:
        rows.append(("index", "none yet: this root was never synced (run 'syncd sync --once')"))
        return rows
    rows.append(("last run", _describe_run(report.last_run, now, report.last_run_in_progress)))
    ended = report.last_success.ended_at if report.last_success else None
    rows.append(("last success", when(ended, now) if ended else "never"))
    rows.append(("sessions", _describe_sessions(report)))
    if report.archive is not None:
        rows.extend(_describe_archive(report.archive, now))
    rows.append(("rate budget", _describe_budget(report.budget)))
    if report.graphql_budget is not None:  # once a GraphQL query was made
        rows.append(("graphql budget", _describe_budget(report.graphql_budget)))
    if report.pushes is not None:
        rows.append(("pullstory", _describe_pushes(report.pushes, now)))
        for position, (session_id, url) in enumerate(report.pushes.latest_ready):
            rows.append(("latest stories" if position == 0 else "", f"{session_id[:8]}  {url}"))
    for position, error in enumerate(report.recent_errors):
        label = "recent errors" if position == 0 else ""
        rows.append((label, f"{clock(error.at)}  {one_line(error.message)}"))
    return rows


def _describe_health(report: StatusReport) -> str:
    if not report.healthy:
        return f"UNHEALTHY: {report.problem}"
    return f"healthy: {report.first_sync}" if report.first_sync else "healthy"


def check_line(report: StatusReport) -> str:
    """The one line `syncd status --check` prints."""
    if report.healthy and report.first_sync:
        return f"healthy: {report.first_sync}"
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
        text += f"; waiting for the rate budget until {clock(daemon.budget_wait_until)}"
    return text


def _describe_settings(report: StatusReport) -> str:
    """'sync every 5 min, reconcile every 1 h, push off, git on (the running daemon's)'."""
    settings = report.settings
    assert settings is not None
    text = (
        f"sync every {duration(settings.sync_seconds)}, "
        f"reconcile every {duration(settings.reconcile_seconds)}, "
        f"push {'on' if settings.push else 'off'}, git {'on' if settings.git else 'off'}"
    )
    if report.settings_from == "daemon":
        return f"{text} (the running daemon's)"
    if report.daemon_running:
        return f"{text} (this command's configuration; the running daemon does not say its own)"
    return f"{text} (this command's configuration; no daemon is running)"


def _describe_run(run: RunRecord | None, now: datetime, in_progress: bool) -> str:
    if run is None:
        return "none yet"
    if run.ended_at is None and in_progress:
        return f"{run_kind(run)}, in progress since {when(run.started_at, now)}"
    if run.ended_at is None:
        return (
            f"{run_kind(run)}, never finished (started {when(run.started_at, now)}; "
            "the process was killed or lost power)"
        )
    seconds = (run.ended_at - run.started_at).total_seconds()
    counts = f"{run.new} new, {run.updated} updated, {run.unchanged} unchanged, {run.failed} failed"
    if run.deferred:
        counts += f", {run.deferred} deferred"
    if run.deleted:
        counts += f", {run.deleted} deleted"
    # Only a run that did not succeed says how it ended: 'sync, failed, ended ...'.
    outcome = "" if run.outcome in (RunOutcome.SUCCEEDED, None) else f", {run.outcome}"
    return (
        f"{run_kind(run)}{outcome}, ended {when(run.ended_at, now)}, took {duration(seconds)}: "
        f"{counts}; {plural(run.requests, 'request')} ({run.not_modified} of them 304)"
    )


def _describe_sessions(report: StatusReport) -> str:
    """What the index holds, and what the cloud listed last when that differs."""
    text = f"{report.sessions} in {plural(report.projects, 'project')}"
    listed, at = report.listed, report.listed_at
    if listed is None or at is None or listed == report.live_sessions:
        return text
    return f"{text}; the cloud listed {listed} at the last full listing ({local(at)})"


def _describe_archive(archive: ArchiveState, now: datetime) -> list[tuple[str, str]]:
    sha, committed = archive.last_commit_sha, archive.last_commit_at
    commits = "no commit yet"
    if sha is not None and committed is not None:
        commits = f"last commit {sha[:SHORT_SHA]}, {when(committed, now)}"
    if archive.error is not None:
        commits += f"; {_failing(archive.error, archive.failing_since, now)}"
    rows = [("git archive", commits)]
    if archive.push_error is not None:
        rows.append(("git push", _failing(archive.push_error, archive.push_failing_since, now)))
    return rows


def _failing(error: str, since: datetime | None, now: datetime) -> str:
    """'FAILING since 2026-03-01 11:00 (1 h ago): <error>', on one line."""
    moment = "" if since is None else f" since {when(since, now)}"
    return f"FAILING{moment}: {one_line(error)}"


def _describe_budget(budget: BudgetStatus | None) -> str:
    """'840 of 1000 left, resets at 14:05' and the like."""
    if budget is None:
        return "unknown (no request made yet)"
    if budget.wait_until is not None and budget.wait_until == budget.reset_at and budget.remaining:
        return (  # not a 429 and not zero left: stopped at the interactive reserve
            f"spent down to the {budget.reserved} kept for interactive commands, "
            f"waiting for reset at {clock(budget.wait_until)}"
        )
    if budget.wait_until is not None:
        return f"spent, waiting for reset at {clock(budget.wait_until)}"
    if budget.window_over:
        return f"{budget.limit} per window (a new window began at {clock(budget.reset_at)})"
    return f"{budget.remaining} of {budget.limit} left, resets at {clock(budget.reset_at)}"


def _describe_pushes(pushes: PushStatus, now: datetime) -> str:
    """'2 ready, 1 queued; PAUSED: <why> (next look at the usage 10:42 (in 2 min))'."""
    order = (
        StoryStatus.READY,
        StoryStatus.GENERATING,
        StoryStatus.QUEUED,
        StoryStatus.FAILED,
        StoryStatus.REJECTED,
    )
    parts = []
    for status in (s for s in order if pushes.counts.get(s)):
        part = f"{pushes.counts[status]} {status}"
        if status == StoryStatus.FAILED and pushes.next_retry is not None:
            part += f" (next retry {when(pushes.next_retry, now)})"
        parts.append(part)
    text = ", ".join(parts) if parts else "nothing pushed yet"
    if not pushes.paused_reason:
        return text
    check = pushes.next_usage_check
    later = f" (next look at the usage {when(check, now)})" if check is not None else ""
    return f"{text}; PAUSED: {one_line(pushes.paused_reason)}{later}"


def run_kind(run: RunRecord) -> str:
    """The kind of a run as people know it: 'sync --once', 'sync', 'full reconcile'."""
    return RUN_KINDS.get(run.kind, run.kind)


def when(moment: datetime, now: datetime) -> str:
    """'2026-01-16 22:28 (3 min ago)' or '... (in 4 min)' in local time."""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return f"{local(moment)} (just now)"
    relative = f"in {duration(seconds)}" if seconds > 0 else f"{duration(-seconds)} ago"
    return f"{local(moment)} ({relative})"


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


def local(moment: datetime) -> str:
    """'2026-01-16 22:28' in local time."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def clock(moment: datetime) -> str:
    """'14:05' in local time."""
    return moment.astimezone().strftime("%H:%M")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines from git or a server) as one space."""
    return " ".join(text.split())
