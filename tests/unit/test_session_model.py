"""The session model: one typed shape from the API mapping to the index's JSON column."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.models import SessionSummary
from syncd.index.records import (
    metadata_from_json,
    metadata_to_json,
    session_from_json,
    session_to_json,
)
from syncd.model import Session, SessionMetadata, SessionRecord
from syncd.model.session import same_listing

texts = st.text(max_size=12)
optional_texts = st.none() | texts
text_tuples = st.lists(texts, max_size=3).map(tuple)

metadata = st.builds(
    SessionMetadata,
    client_name=optional_texts,
    client_version=optional_texts,
    agent_name=optional_texts,
    device_id=optional_texts,
    git_branches=text_tuples,
    llm_models=text_tuples,
    tags=text_tuples,
)
sessions = st.builds(
    Session,
    id=st.text(min_size=1, max_size=12),
    project_id=st.text(min_size=1, max_size=12),
    client_id=optional_texts,
    name=texts,
    created_at=optional_texts,
    updated_at=optional_texts,
    started_at=optional_texts,
    ended_at=optional_texts,
    markdown_size=st.none() | st.integers(min_value=0),
    raw_data_size=st.none() | st.integers(min_value=0),
    metadata=metadata,
    etag=optional_texts,
)


def test_a_summary_becomes_a_session_with_typed_metadata() -> None:
    summary = SessionSummary.model_validate(
        {
            "id": "550e8400",
            "projectId": "proj_1",
            "clientId": "cursor-8f3a",
            "name": "fix login",
            "markdownSize": 12,
            "startedAt": "2025-07-20T10:28:48.000Z",
            "metadata": {
                "clientName": "cursor",
                "clientVersion": "1.2",
                "agentName": "agent",
                "deviceId": "dev-1",
                "gitBranches": ["main"],
                "llmModels": ["gpt-5", "claude"],
                "tags": None,
            },
            "etag": 'W/"1"',
        }
    )
    session = summary.to_session()
    assert session.metadata == SessionMetadata(
        client_name="cursor",
        client_version="1.2",
        agent_name="agent",
        device_id="dev-1",
        git_branches=("main",),
        llm_models=("gpt-5", "claude"),
        tags=(),
    )
    assert (session.id, session.project_id, session.markdown_size) == ("550e8400", "proj_1", 12)
    assert session.client_id == "cursor-8f3a"
    assert session.started_at == "2025-07-20T10:28:48.000Z"


def test_a_summary_without_metadata_has_every_field_unknown() -> None:
    summary = SessionSummary.model_validate({"id": "a", "projectId": "p", "metadata": None})
    assert summary.to_session().metadata == SessionMetadata()


def test_a_client_id_of_another_type_is_unknown_and_the_session_kept() -> None:
    summary = SessionSummary.model_validate({"id": "a", "projectId": "p", "clientId": 42})
    assert summary.to_session().client_id is None


def test_the_index_keeps_metadata_under_the_api_key_names() -> None:
    meta = SessionMetadata(client_name="cursor", llm_models=("gpt-5",), tags=("auth",))
    assert metadata_to_json(meta) == {
        "clientName": "cursor",
        "clientVersion": None,
        "agentName": None,
        "deviceId": None,
        "gitBranches": [],
        "llmModels": ["gpt-5"],
        "tags": ["auth"],
    }


def test_metadata_an_older_syncd_saved_is_read_back() -> None:
    saved = {"clientName": "cursor", "llmModels": ["gpt-5"], "tags": [], "futureKey": 1}
    assert metadata_from_json(saved) == SessionMetadata(client_name="cursor", llm_models=("gpt-5",))


def test_metadata_of_the_wrong_shape_reads_as_unknown() -> None:
    assert metadata_from_json(None) == SessionMetadata()
    assert metadata_from_json({"clientName": 3, "tags": "auth"}) == SessionMetadata()


@given(metadata)
def test_metadata_round_trips_through_the_json_column(meta: SessionMetadata) -> None:
    assert metadata_from_json(metadata_to_json(meta)) == meta


@given(sessions, st.text(min_size=1, max_size=20), st.none() | st.text(max_size=8))
def test_a_record_round_trips_through_a_pending_write(
    session: Session, path: str, story: str | None
) -> None:
    record = SessionRecord.of(
        session,
        path=path,
        etag=session.etag,
        markdown_size=session.markdown_size,
        body_sha256="ab" * 32,
        file_sha256="cd" * 32,
        synced_at=datetime(2025, 7, 20, 10, 0, tzinfo=UTC),
        pullstory_url=story,
    )
    assert session_from_json(session_to_json(record)) == record
    assert record.session == session


@given(sessions, sessions)
def test_a_refreshed_record_says_what_the_listing_says_and_keeps_its_body(
    old: Session, listed: Session
) -> None:
    record = SessionRecord.of(
        old, path="p/x.md", etag=old.etag, markdown_size=1, body_sha256=None, file_sha256=None
    )
    refreshed = record.refreshed(listed)
    assert same_listing(refreshed, listed)
    assert (refreshed.etag, refreshed.markdown_size, refreshed.path) == (old.etag, 1, "p/x.md")


@given(sessions, st.text(max_size=8), st.integers(min_value=0))
def test_the_body_facts_alone_never_make_a_listing_differ(
    session: Session, etag: str, size: int
) -> None:
    assert same_listing(session, dataclasses.replace(session, etag=etag, markdown_size=size))
