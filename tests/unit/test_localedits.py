"""Whether a mirrored file is still syncd's, decided from its bytes alone (no disk)."""

from __future__ import annotations

import dataclasses
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from syncd.mirror import frontmatter
from syncd.mirror.frontmatter import header_for, render, split
from syncd.mirror.writer import FileInspection
from syncd.model import Session, SessionMetadata, SessionRecord
from syncd.sync.localedits import FileState, classify

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
sessions = st.builds(
    Session,
    id=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=8),
    project_id=st.just("proj_1"),
    name=words,
    created_at=st.none() | st.just("2025-07-20T10:28:48.000Z"),
    metadata=st.builds(
        SessionMetadata,
        client_name=st.none() | words,
        tags=st.lists(words.filter(bool), max_size=2).map(tuple),
    ),
    etag=st.none() | st.just('W/"1"'),
)
bodies = st.binary(max_size=60)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def written(session: Session, body: bytes, project: str = "App") -> tuple[bytes, SessionRecord]:
    """The file syncd writes for `session`, and the record it saves for it."""
    header = header_for(session, project, session.etag, "https://cloud/s")
    data = render(header) + body
    record = SessionRecord.of(
        session,
        path="app/x.md",
        etag=session.etag,
        markdown_size=len(body),
        body_sha256=sha(body),
        file_sha256=sha(data),
    )
    return data, record


def inspect(data: bytes) -> FileInspection:
    try:
        mapping, body = split(data)
    except frontmatter.FrontMatterError:
        return FileInspection(sha(data), None, 0, sha(data), len(data))
    return FileInspection(sha(data), mapping, len(data) - len(body), sha(body), len(data))


def test_a_missing_file_is_missing() -> None:
    _, record = written(Session("a", "proj_1"), b"body")
    assert classify(None, record).state is FileState.MISSING


@given(sessions, bodies)
def test_the_file_syncd_wrote_is_pristine_and_replaceable(session: Session, body: bytes) -> None:
    data, record = written(session, body)
    verdict = classify(inspect(data), record)
    assert verdict.state is FileState.PRISTINE
    assert verdict.body_reusable
    assert sha(data) in verdict.replaceable(record)


@given(sessions, bodies, st.booleans())
def test_a_pullstory_mark_keeps_the_file_syncds(session: Session, body: bytes, mark: bool) -> None:
    data, record = written(session, body)
    marked = render(dataclasses.replace(_header(data), pullstory=mark)) + body
    verdict = classify(inspect(marked), record)
    assert verdict.state is FileState.MARKED
    assert verdict.pullstory is mark
    assert sha(marked) in verdict.replaceable(record)


@given(sessions, bodies, st.binary(min_size=1, max_size=20))
def test_an_edited_body_is_the_users_and_never_replaceable(
    session: Session, body: bytes, extra: bytes
) -> None:
    data, record = written(session, body)
    edited = data + extra
    verdict = classify(inspect(edited), record)
    assert verdict.state is FileState.EDITED
    assert not verdict.body_reusable
    assert sha(edited) not in verdict.replaceable(record)


@given(sessions, bodies, words)
def test_an_edited_front_matter_is_the_users(session: Session, body: bytes, name: str) -> None:
    data, record = written(session, body)
    header = dataclasses.replace(_header(data), name=session.name + "!" + name)
    edited = render(header) + body
    verdict = classify(inspect(edited), record)
    assert verdict.state is FileState.EDITED
    assert sha(edited) not in verdict.replaceable(record)


@given(sessions, bodies)
def test_a_key_of_the_users_own_makes_the_file_theirs(session: Session, body: bytes) -> None:
    data, record = written(session, body)
    edited = data.replace(b"---\n", b"---\nmy_note: keep\n", 1)
    assert classify(inspect(edited), record).state is FileState.EDITED


@given(sessions, bodies)
def test_a_link_is_never_syncds(session: Session, body: bytes) -> None:
    _, record = written(session, body)
    verdict = classify(FileInspection.not_a_file(), record)
    assert verdict.state is FileState.EDITED
    assert verdict.replaceable(record) == frozenset({record.file_sha256})


@given(sessions, bodies)
def test_a_renamed_project_still_reads_as_syncds(session: Session, body: bytes) -> None:
    # The project name and source URL are display values syncd rewrites anyway.
    data, record = written(session, body, project="Old name")
    renamed = render(dataclasses.replace(_header(data), project="New name")) + body
    assert classify(inspect(renamed), record).state is FileState.MARKED


def _header(data: bytes) -> frontmatter.SessionHeader:
    return frontmatter.header_from_mapping(split(data)[0])
