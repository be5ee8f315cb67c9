"""What the running daemon says about itself, for `syncd status`: `<root>/.syncd/daemon.json`.

Written atomically (temp file + rename), so a reader sees the previous or the next
version, never half of one. A reader treats a missing or unreadable file as "no state":
the file only describes; the lock says whether a daemon runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from syncd.errors import StorageError
from syncd.mirror.names import DAEMON_STATE, STATE_TEMP_SUFFIX

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaemonSettings:
    """The settings the daemon runs with (after its last reload), for `syncd status`."""

    sync_seconds: float
    reconcile_seconds: float
    push: bool  # a PullStory token was found, so the push worker runs
    git: bool


@dataclass(frozen=True)
class CycleProgress:
    """How far the running cycle is: `done` of `total` sessions, the last step at `at`."""

    done: int
    total: int
    at: AwareDatetime


@dataclass(frozen=True)
class DaemonState:
    """The daemon's own account of what it is doing; times are aware (UTC when written)."""

    pid: int
    started_at: AwareDatetime
    activity: str  # e.g. "idle", "syncing", "waiting for the rate budget"
    next_sync: AwareDatetime | None
    next_reconcile: AwareDatetime | None
    budget_wait_until: AwareDatetime | None
    # Absent from a file an older syncd wrote.
    settings: DaemonSettings | None = None
    progress: CycleProgress | None = None


_ADAPTER = TypeAdapter(DaemonState)


def write_state(state_dir: Path, state: DaemonState) -> None:
    """Replace `<state_dir>/daemon.json` with `state` in one rename (the folder must exist)."""
    target = state_dir / DAEMON_STATE
    temp = state_dir / f".{DAEMON_STATE}.{secrets.token_hex(4)}{STATE_TEMP_SUFFIX}"
    data = _ADAPTER.dump_json(_in_utc(state), indent=2) + b"\n"
    try:
        with temp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(str(target), exc.strerror or str(exc)) from exc


def read_state(state_dir: Path) -> DaemonState | None:
    """The last state written; None when there is none or it cannot be read (never raises)."""
    path = state_dir / DAEMON_STATE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.warning("cannot read %s: %s", path, exc.strerror or exc)
        return None
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        logger.warning("ignoring %s: %d problem(s) in its content", path, exc.error_count())
        return None


def _in_utc(state: DaemonState) -> DaemonState:
    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    return DaemonState(
        pid=state.pid,
        started_at=state.started_at.astimezone(UTC),
        activity=state.activity,
        next_sync=utc(state.next_sync),
        next_reconcile=utc(state.next_reconcile),
        budget_wait_until=utc(state.budget_wait_until),
        settings=state.settings,
        progress=None
        if state.progress is None
        else dataclasses.replace(state.progress, at=state.progress.at.astimezone(UTC)),
    )
