"""The JSON shapes of the SpecStory Cloud REST API, built from stored projects and sessions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import chain

from syncd.devserver.body import json_escape
from syncd.devserver.state import OWNER_ID, Project, Session
from syncd.devserver.timestamps import iso_ms

_CONTENT_MARKER = "@@devserver-markdown-content@@"


def encode(payload: object) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (which UTF-8 cannot carry) goes out escaped,
    as `\\ud800`, the way a JSON encoder in another language would send it."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode("ascii")


def wrapped(data: object) -> dict[str, object]:
    return {"success": True, "data": data}


def wrapped_error(message: str) -> dict[str, object]:
    return {"success": False, "error": message}


def project_json(project: Project) -> dict[str, object]:
    return {
        "id": project.id,
        "ownerId": OWNER_ID,
        "name": project.name,
        "icon": project.icon,
        "color": project.color,
        "createdAt": iso_ms(project.created_ms),
        "updatedAt": iso_ms(project.updated_ms),
    }


def summary_json(session: Session, *, with_etag: bool = True) -> dict[str, object]:
    """A session summary as the list and recent endpoints give it."""
    summary: dict[str, object] = {
        "id": session.id,
        "projectId": session.project_id,
        "name": session.name,
        "markdownSize": session.body.size,
        "rawDataSize": session.raw_data_size,
        "createdAt": iso_ms(session.created_ms),
        "updatedAt": iso_ms(session.updated_ms),
        "startedAt": None if session.started_ms is None else iso_ms(session.started_ms),
        "endedAt": None if session.ended_ms is None else iso_ms(session.ended_ms),
        "metadata": dict(session.metadata),
    }
    if with_etag:
        summary["etag"] = session.etag
    return summary


def session_detail(session: Session, project: Project, extra: bytes) -> tuple[int, Iterable[bytes]]:
    """Length and pieces of `{"success":true,"data":{"session":{...,"markdownContent":...}}}`.

    The Markdown is streamed from the body, escaped piece by piece; `extra` is appended to
    it (the oversize fault) while markdownSize stays the stored size.
    """
    fields = summary_json(session, with_etag=False)
    fields["markdownContent"] = _CONTENT_MARKER
    fields["project"] = {
        "id": project.id,
        "name": project.name,
        "icon": project.icon,
        "color": project.color,
    }
    envelope = encode(wrapped({"session": fields}))
    # Quotes inside string values are escaped, so this exact key/value text is unique.
    marker = b'"markdownContent":"' + _CONTENT_MARKER.encode() + b'"'
    start = envelope.index(marker)
    prefix = envelope[:start] + b'"markdownContent":"'
    suffix = b'"' + envelope[start + len(marker) :]
    content_length, content = session.body.json_escaped()
    escaped_extra = json_escape(extra)
    length = len(prefix) + content_length + len(escaped_extra) + len(suffix)
    return length, _Chain((prefix,), content, (escaped_extra, suffix))


class _Chain:
    """A re-iterable concatenation of byte iterables."""

    def __init__(self, *parts: Iterable[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        return chain.from_iterable(self._parts)
