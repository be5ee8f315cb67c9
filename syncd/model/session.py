"""A session, from the cloud's listing to the mirrored file and the index row. Pure.

The cloud client parses payloads into `Session` (the API mapping is `syncd.cloud.models`),
the planner compares sessions with the `SessionRecord`s the index holds, the front matter
renders both (`syncd.mirror.frontmatter`) and the store maps records to rows. A new
session field is added here, in the API mapping, in the front matter when files should
show it, and in a migration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SessionMetadata:
    """What the recording tool said about a session; every field may be unknown."""

    client_name: str | None = None
    client_version: str | None = None
    agent_name: str | None = None
    device_id: str | None = None
    git_branches: tuple[str, ...] = ()
    llm_models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """A session as the cloud describes it. Timestamps are the ISO 8601 strings the API
    sent, kept verbatim; `etag` names the version of the body."""

    id: str
    project_id: str
    client_id: str | None = None  # the id the recording tool gave it
    name: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    markdown_size: int | None = None
    raw_data_size: int | None = None
    metadata: SessionMetadata = SessionMetadata()
    etag: str | None = None


#: Fields a record keeps from its own file, not from the latest listing: the version and
#: the size of the body on disk.
BODY_FIELDS = frozenset({"etag", "markdown_size"})


@dataclass(frozen=True, kw_only=True)
class SessionRecord(Session):
    """A mirrored session: the cloud's facts as last written, plus where and what the
    file is. `etag` and `markdown_size` are those of the body on disk."""

    path: str  # relative to the mirror's root
    body_sha256: str | None = None
    # Hash of the whole file as syncd wrote it: a different file on disk means a local edit.
    file_sha256: str | None = None
    synced_at: datetime | None = None
    pullstory_url: str | None = None
    cloud_deleted_at: str | None = None  # kept after a confirmed deletion in the cloud
    # The slug of the first words of its first user message when the file is named by them
    # (its name says nothing), as the file name shows it; None when named by its name.
    name_words: str | None = None

    @classmethod
    def of(
        cls,
        session: Session,
        *,
        path: str,
        etag: str | None,
        markdown_size: int | None,
        body_sha256: str | None,
        file_sha256: str | None,
        synced_at: datetime | None = None,
        pullstory_url: str | None = None,
        cloud_deleted_at: str | None = None,
        name_words: str | None = None,
    ) -> SessionRecord:
        """The record of `session` mirrored at `path`, its body being `etag`'s version."""
        values: dict[str, Any] = _session_values(session)
        return cls(
            **(values | {"etag": etag, "markdown_size": markdown_size}),
            path=path,
            body_sha256=body_sha256,
            file_sha256=file_sha256,
            synced_at=synced_at,
            pullstory_url=pullstory_url,
            cloud_deleted_at=cloud_deleted_at,
            name_words=name_words,
        )

    @property
    def session(self) -> Session:
        """The session as the index remembers it, in the listing's shape."""
        return Session(**_session_values(self))

    def refreshed(self, listed: Session) -> SessionRecord:
        """This record with what `listed` says of the session, the body's facts kept."""
        updates = {
            f.name: getattr(listed, f.name)
            for f in dataclasses.fields(Session)
            if f.name not in BODY_FIELDS
        }
        return dataclasses.replace(self, **updates)


def same_listing(left: Session, right: Session) -> bool:
    """Whether two sessions say the same of the session, the bodies' facts aside."""
    return all(
        getattr(left, f.name) == getattr(right, f.name)
        for f in dataclasses.fields(Session)
        if f.name not in BODY_FIELDS
    )


def _session_values(session: Session) -> dict[str, Any]:
    return {f.name: getattr(session, f.name) for f in dataclasses.fields(Session)}
