"""The index schema. Alembic migrations in migrations/ create and evolve it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(Text, default="")
    dirname: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[str | None] = mapped_column(String(40))
    list_etag: Mapped[str | None] = mapped_column(String(255))


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    client_id: Mapped[str | None] = mapped_column(Text)  # the recording tool's id
    name: Mapped[str] = mapped_column(Text, default="")
    etag: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[str | None] = mapped_column(String(40), index=True)
    started_at: Mapped[str | None] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40))
    markdown_size: Mapped[int | None] = mapped_column(Integer)
    raw_data_size: Mapped[int | None] = mapped_column(Integer)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    # Hash of the whole file as syncd wrote it: a different file on disk means a local edit.
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, unique=True)
    session_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The PullStory story of this session once ready; kept in its front matter too.
    pullstory_url: Mapped[str | None] = mapped_column(Text)
    # When a deletion in the cloud was confirmed, for a session kept (deletion.mode = keep).
    cloud_deleted_at: Mapped[str | None] = mapped_column(String(40))
    # The slug the file is named by when its name says nothing (see sync/naming.py).
    name_words: Mapped[str | None] = mapped_column(Text)


class SyncRunRow(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[int] = mapped_column(Integer, default=0)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # once (a one-shot sync), incremental, reconcile; deferred = left for later by the budget
    kind: Mapped[str] = mapped_column(String(20), default="once", server_default="once")
    deferred: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # succeeded | failed | deferred | interrupted; NULL while running or when it never ended
    outcome: Mapped[str | None] = mapped_column(String(20))
    # Sessions the cloud listed, when every listing of the run was read (else NULL).
    listed: Mapped[int | None] = mapped_column(Integer)


class RateBudgetRow(Base):
    """The API's last word on our rate budget (one row), so a restart remembers it."""

    __tablename__ = "rate_budget"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    reset_at: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[float] = mapped_column(Float)
    blocked_until: Mapped[float | None] = mapped_column(Float)


class StoryRow(Base):
    """One brief pushed (or to push) to PullStory. A brief hash is never posted twice."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(255), index=True)
    brief_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The exact body to POST, kept so a restart can send it without rebuilding it.
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    story_id: Mapped[str | None] = mapped_column(String(64))
    # queued | generating | ready | failed | rejected (the brief was refused as invalid)
    # | superseded (failed, and retried with a smaller brief: a newer row)
    status: Mapped[str] = mapped_column(String(20), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))  # push | mark | outbox | rule
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # The brief as built from the session: a smaller brief retried after a failure keeps it.
    built_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Generations of this brief (and the smaller ones before it) that failed.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PushStateRow(Base):
    """Whether pushing is paused (quota spent), and when to look at the usage again."""

    __tablename__ = "push_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    next_usage_check: Mapped[float | None] = mapped_column(Float)
    not_before: Mapped[float | None] = mapped_column(Float)  # a Retry-After to honour
    paused_at: Mapped[float | None] = mapped_column(Float)
    resets_at: Mapped[float | None] = mapped_column(Float)  # the usage period's end
    minutes_needed: Mapped[float | None] = mapped_column(Float)  # by the refused brief


class GitJournalRow(Base):
    """A path a cycle is about to change; removed once a git commit holds it."""

    __tablename__ = "git_journal"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text)
    # Why, when the commit message should say it: "story-url" (a story URL written).
    reason: Mapped[str | None] = mapped_column(String(20))


class PendingWriteRow(Base):
    """The index row a session's new file stands for, kept from the moment the file's bytes
    are on disk until that row is saved: a restart in between finishes the step."""

    __tablename__ = "pending_writes"

    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class ArchiveStateRow(Base):
    """How the last git commit and push went (one row), for `status` and `doctor`."""

    __tablename__ = "archive_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_commit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_commit_sha: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    push_error: Mapped[str | None] = mapped_column(Text)
    push_failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IndexOwnerRow(Base):
    """The mirror root this index belongs to (one row, written on first use): one database
    serves one root, and a second root pointed at it is refused (see index/owner.py)."""

    __tablename__ = "index_owner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[str] = mapped_column(String(64))
    root_path: Mapped[str] = mapped_column(Text)
