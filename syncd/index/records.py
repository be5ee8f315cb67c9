"""What the index holds, as plain frozen records: no database, no I/O.

The store hands these out and takes them back; sync logic reasons about them without
knowing where they are kept. A session's record is the model's `SessionRecord`; its
metadata is kept as JSON under the API's key names (`clientName`), as it always was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from syncd.index.statuses import StorySource, StoryStatus
from syncd.model import SessionMetadata, SessionRecord


@dataclass(frozen=True)
class ProjectRecord:
    id: str
    name: str
    dirname: str
    created_at: str | None = None
    updated_at: str | None = None
    list_etag: str | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: datetime
    ended_at: datetime | None
    requests: int
    not_modified: int
    fetched: int
    new: int
    updated: int
    unchanged: int
    failed: int
    errors: list[str]
    kind: str = "once"
    deferred: int = 0
    deleted: int = 0
    # None while running, or when the process died before it could say (a kill, a power cut).
    outcome: RunOutcome | None = None
    listed: int | None = None  # sessions the cloud listed, when every listing was read

    @property
    def succeeded(self) -> bool:
        """Finished with every item landed (nothing failed, deferred or interrupted)."""
        return self.ended_at is not None and self.outcome == RunOutcome.SUCCEEDED


class RunOutcome(StrEnum):
    """How a sync run ended, as the index stores it (and `syncd status --json` shows it)."""

    SUCCEEDED = "succeeded"  # every item landed
    FAILED = "failed"  # an item or the run failed
    DEFERRED = "deferred"  # halted, or items left for a later run (nothing failed)
    INTERRUPTED = "interrupted"  # stopped by a signal or a lost lock


@dataclass(frozen=True)
class ArchiveState:
    """How the git archive's last commit and push went (all None before the first)."""

    last_attempt_at: datetime | None = None
    last_commit_at: datetime | None = None
    last_commit_sha: str | None = None
    error: str | None = None  # the last commit attempt failed with this
    failing_since: datetime | None = None
    push_error: str | None = None  # the last push failed with this
    push_failing_since: datetime | None = None


@dataclass(frozen=True)
class StoryRecord:
    """A brief on its way to (or back from) PullStory. Times are epoch seconds."""

    session_id: str
    brief_hash: str
    brief: dict[str, Any]
    status: StoryStatus
    source: StorySource
    created_at: float
    updated_at: float
    story_id: str | None = None
    url: str | None = None
    attempts: int = 0
    last_error: str | None = None
    # Queued/generating: when to post or poll. Failed: when the worker retries it, if it will.
    next_poll_at: float | None = None
    # The hash of the brief as built from the session (a smaller retry keeps it).
    built_hash: str | None = None
    failures: int = 0  # generations of this brief, and the bigger ones before it, that failed
    id: int | None = None


@dataclass(frozen=True)
class PushState:
    """Whether pushing is paused for quota (and until when), and a Retry-After in force.
    Times are epoch seconds."""

    paused_reason: str | None = None
    next_usage_check: float | None = None
    not_before: float | None = None
    paused_at: float | None = None
    resets_at: float | None = None  # the end of the usage period, when PullStory said it
    minutes_needed: float | None = None  # by the brief PullStory refused with 402


#: Which API's budget a rate_budget row holds: REST's and GraphQL's are counted apart.
BudgetKind = Literal["rest", "graphql"]
BUDGET_ROWS: dict[str, int] = {"rest": 1, "graphql": 2}


@dataclass(frozen=True)
class BudgetRecord:
    """The API's last word on the rate budget (epoch seconds)."""

    limit: int
    remaining: int
    reset_at: float
    observed_at: float
    blocked_until: float | None = None


def metadata_to_json(metadata: SessionMetadata) -> dict[str, Any]:
    """The metadata as the index's JSON column holds it: the API's camelCase key names."""
    return {key: _json_value(getattr(metadata, name)) for name, key, _ in _METADATA_KEYS}


def metadata_from_json(values: object) -> SessionMetadata:
    """The metadata `metadata_to_json` gave; a missing, null or mistyped value reads as
    unknown (or empty), and unknown keys are ignored."""
    data = values if isinstance(values, dict) else {}
    fields: dict[str, Any] = {}
    for name, key, is_list in _METADATA_KEYS:
        value = data.get(key)
        if is_list:
            items = value if isinstance(value, (list, tuple)) else ()
            fields[name] = tuple(map(str, items))
        else:
            fields[name] = value if isinstance(value, str) else None
    return SessionMetadata(**fields)


_METADATA_FIELDS = dataclasses.fields(SessionMetadata)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# (field, JSON key, whether a list): worked out once, as `ls` reads thousands of rows.
_METADATA_KEYS = [(f.name, _camel(f.name), isinstance(f.default, tuple)) for f in _METADATA_FIELDS]


def _json_value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def session_to_json(record: SessionRecord) -> dict[str, Any]:
    """The record as JSON-ready values (its time in ISO 8601, its metadata as the index
    keeps it)."""
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    synced_at = record.synced_at
    values["synced_at"] = synced_at.isoformat() if synced_at is not None else None
    values["metadata"] = metadata_to_json(record.metadata)
    return values


def session_from_json(values: dict[str, Any]) -> SessionRecord:
    """The record `session_to_json` gave; unknown keys (from a newer syncd) are ignored."""
    known = {f.name for f in dataclasses.fields(SessionRecord)}
    fields = {k: v for k, v in values.items() if k in known}
    synced_at = fields.get("synced_at")
    fields["synced_at"] = datetime.fromisoformat(synced_at) if synced_at else None
    fields["metadata"] = metadata_from_json(fields.get("metadata"))
    return SessionRecord(**fields)


# --- from the index's columns ------------------------------------------------------------
# One function per record type, from a row's values by column name (JSON already parsed,
# timestamps already datetimes): the Store and the stdlib reader (`queries`) both use them,
# so a row reads as the same record whichever of them read it.

_PROJECT_FIELDS = [f.name for f in dataclasses.fields(ProjectRecord)]
_SESSION_FIELDS = [f.name for f in dataclasses.fields(SessionRecord) if f.name != "metadata"]
_RUN_FIELDS = [f.name for f in dataclasses.fields(RunRecord)]
_ARCHIVE_FIELDS = [f.name for f in dataclasses.fields(ArchiveState)]
_BUDGET_FIELDS = [f.name for f in dataclasses.fields(BudgetRecord)]
_PUSH_STATE_FIELDS = [f.name for f in dataclasses.fields(PushState)]


def project_from_columns(columns: Mapping[str, Any]) -> ProjectRecord:
    return ProjectRecord(**{name: columns[name] for name in _PROJECT_FIELDS})


def session_from_columns(columns: Mapping[str, Any]) -> SessionRecord:
    """A session from its row; the metadata comes from the JSON column `metadata`."""
    values = {name: columns[name] for name in _SESSION_FIELDS}
    return SessionRecord(**values, metadata=metadata_from_json(columns["metadata"]))


def run_from_columns(columns: Mapping[str, Any]) -> RunRecord:
    values = {name: columns[name] for name in _RUN_FIELDS}
    ended, outcome = columns["ended_at"], columns["outcome"]
    return RunRecord(
        **values
        | {
            "started_at": as_utc(columns["started_at"]),
            "ended_at": as_utc(ended) if ended is not None else None,
            "outcome": RunOutcome(outcome) if outcome is not None else None,
        }
    )


def archive_from_columns(columns: Mapping[str, Any]) -> ArchiveState:
    values: dict[str, Any] = {}
    for name in _ARCHIVE_FIELDS:
        value = columns[name]
        values[name] = as_utc(value) if isinstance(value, datetime) else value
    return ArchiveState(**values)


def budget_from_columns(columns: Mapping[str, Any]) -> BudgetRecord:
    return BudgetRecord(**{name: columns[name] for name in _BUDGET_FIELDS})


def push_state_from_columns(columns: Mapping[str, Any]) -> PushState:
    return PushState(**{name: columns[name] for name in _PUSH_STATE_FIELDS})


def as_utc(value: datetime) -> datetime:
    """`value` with its zone: SQLite hands timestamps back without one; they were written
    in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
