"""Pure conversions between API summaries, index records and front-matter headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.cloud.models import SessionMetadata, SessionSummary
from syncd.index.records import SessionRecord
from syncd.mirror.frontmatter import SessionHeader
from syncd.mirror.paths import parse_time


def session_time(summary: SessionSummary) -> datetime | None:
    """The moment a session's file name is dated by: its start, else its creation."""
    return parse_time(summary.started_at) or parse_time(summary.created_at)


def metadata_dict(summary: SessionSummary) -> dict[str, Any]:
    return summary.metadata.model_dump(by_alias=True)


def summary_from_record(record: SessionRecord) -> SessionSummary:
    """What the index remembers of a session, in the listing's shape."""
    return SessionSummary(
        id=record.id,
        project_id=record.project_id,
        name=record.name,
        markdown_size=record.markdown_size,
        raw_data_size=record.raw_data_size,
        created_at=record.created_at,
        updated_at=record.updated_at,
        started_at=record.started_at,
        ended_at=record.ended_at,
        metadata=SessionMetadata.model_validate(record.metadata or {}),
        etag=record.etag,
    )


def header_for(
    summary: SessionSummary,
    project_name: str,
    etag: str | None,
    source_url: str | None,
    pullstory_url: str | None = None,
    deleted_in_cloud: str | None = None,
) -> SessionHeader:
    meta = summary.metadata
    return SessionHeader(
        id=summary.id,
        project_id=summary.project_id,
        project=project_name,
        name=summary.name,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        started_at=summary.started_at,
        ended_at=summary.ended_at,
        client=meta.client_name,
        client_version=meta.client_version,
        agent=meta.agent_name,
        models=tuple(meta.llm_models),
        branches=tuple(meta.git_branches),
        tags=tuple(meta.tags),
        etag=etag,
        source_url=source_url,
        pullstory_url=pullstory_url,
        deleted_in_cloud=deleted_in_cloud,
    )


def record_for(
    summary: SessionSummary,
    *,
    path: str,
    etag: str | None,
    body_sha256: str | None,
    file_sha256: str | None,
    markdown_size: int | None,
    synced_at: datetime,
    pullstory_url: str | None = None,
    cloud_deleted_at: str | None = None,
) -> SessionRecord:
    return SessionRecord(
        id=summary.id,
        project_id=summary.project_id,
        name=summary.name,
        path=path,
        etag=etag,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        started_at=summary.started_at,
        ended_at=summary.ended_at,
        markdown_size=markdown_size,
        raw_data_size=summary.raw_data_size,
        body_sha256=body_sha256,
        file_sha256=file_sha256,
        metadata=metadata_dict(summary),
        synced_at=synced_at,
        pullstory_url=pullstory_url,
        cloud_deleted_at=cloud_deleted_at,
    )


def describes_same_file(summary: SessionSummary, record: SessionRecord) -> bool:
    """True when `summary` renders the front matter that `record`'s file was written with.

    Only what the front matter shows counts (not, say, deviceId or rawDataSize), so a
    change the file cannot show never rewrites it.
    """
    if summary.project_id != record.project_id:
        return False
    now = header_for(summary, "", None, None)
    then = header_for(summary_from_record(record), "", None, None)
    return now == then


def record_from_header(
    header: SessionHeader,
    *,
    path: str,
    markdown_size: int,
    body_sha256: str,
    file_sha256: str,
) -> SessionRecord:
    """The index record a mirrored file's front matter describes (for a rebuild). The
    device id and raw size are not in the front matter, so they are unknown here."""
    metadata = SessionMetadata(
        client_name=header.client,
        client_version=header.client_version,
        agent_name=header.agent,
        git_branches=list(header.branches),
        llm_models=list(header.models),
        tags=list(header.tags),
    )
    return SessionRecord(
        id=header.id,
        project_id=header.project_id,
        name=header.name,
        path=path,
        etag=header.etag,
        created_at=header.created_at,
        updated_at=header.updated_at,
        started_at=header.started_at,
        ended_at=header.ended_at,
        markdown_size=markdown_size,
        body_sha256=body_sha256,
        file_sha256=file_sha256,
        metadata=metadata.model_dump(by_alias=True),
        pullstory_url=header.pullstory_url,
        cloud_deleted_at=header.deleted_in_cloud,
    )
