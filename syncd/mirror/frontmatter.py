"""YAML front matter of mirrored session files: render, split off, and read back.

Pure: bytes in, bytes out. This module owns the mapping between the session model and
the file: `header_for` says what a file shows of a session, `record_from_header` reads
it back. A mirrored file is ``render(header) + body`` where
the body is the session Markdown exactly as the cloud sent it; ``split`` gives
both back unchanged, which is what lets ``syncd db rebuild`` recover the index
from the tree alone.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from syncd.errors import SyncdError
from syncd.model import Session, SessionMetadata, SessionRecord

_OPEN = (b"---\n", b"---\r\n")
_CLOSE = (b"---\n", b"---\r\n", b"---")
_UTF8_BOM = b"\xef\xbb\xbf"
# Characters YAML treats as line breaks. Scalars holding them are double-quoted so
# each value stays on one physical line (no line of the header can read "---") and
# PyYAML's single-quoted folding, which mangles "\x85", is never used.
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")
_NO_LINE_WRAP = 2**31 - 1


class FrontMatterError(SyncdError):
    """A mirrored file's front matter is missing, unterminated or not a valid session header."""

    def __init__(self, problem: str, where: str | None = None) -> None:
        self.problem = problem
        self.where = where
        subject = f"Front matter of {where}" if where else "Front matter"
        super().__init__(f"{subject} is unreadable: {problem}")


@dataclass(frozen=True, kw_only=True)
class SessionHeader:
    """What syncd records about a session at the top of its mirrored file.

    Timestamps are the ISO 8601 strings the API sent, kept verbatim.
    """

    id: str
    client_id: str | None = None
    project_id: str
    project: str
    name: str
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    ended_at: str | None
    client: str | None
    client_version: str | None
    agent: str | None
    models: tuple[str, ...]
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    etag: str | None
    source_url: str | None
    pullstory: bool | None = None
    pullstory_url: str | None = None
    deleted_in_cloud: str | None = None  # when, for a session kept after its deletion


def header_for(
    session: Session,
    project: str,
    etag: str | None,
    source_url: str | None,
    pullstory_url: str | None = None,
    deleted_in_cloud: str | None = None,
) -> SessionHeader:
    """What a file shows of `session`, filed under the project named `project`."""
    meta = session.metadata
    return SessionHeader(
        id=session.id,
        client_id=session.client_id,
        project_id=session.project_id,
        project=project,
        name=session.name,
        created_at=session.created_at,
        updated_at=session.updated_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        client=meta.client_name,
        client_version=meta.client_version,
        agent=meta.agent_name,
        models=meta.llm_models,
        branches=meta.git_branches,
        tags=meta.tags,
        etag=etag,
        source_url=source_url,
        pullstory_url=pullstory_url,
        deleted_in_cloud=deleted_in_cloud,
    )


def shows_same(left: Session, right: Session) -> bool:
    """Whether the two render the same front matter (project, etag and URLs aside): a
    change a file cannot show (say deviceId or rawDataSize) never rewrites it."""
    return header_for(left, "", None, None) == header_for(right, "", None, None)


def record_from_header(
    header: SessionHeader,
    *,
    path: str,
    markdown_size: int,
    body_sha256: str,
    file_sha256: str,
) -> SessionRecord:
    """The index record a mirrored file's front matter describes (for a rebuild). What the
    front matter does not show (the device id, the raw size) is unknown here."""
    metadata = SessionMetadata(
        client_name=header.client,
        client_version=header.client_version,
        agent_name=header.agent,
        git_branches=header.branches,
        llm_models=header.models,
        tags=header.tags,
    )
    session = Session(
        id=header.id,
        project_id=header.project_id,
        client_id=header.client_id,
        name=header.name,
        created_at=header.created_at,
        updated_at=header.updated_at,
        started_at=header.started_at,
        ended_at=header.ended_at,
        metadata=metadata,
    )
    return SessionRecord.of(
        session,
        path=path,
        etag=header.etag,
        markdown_size=markdown_size,
        body_sha256=body_sha256,
        file_sha256=file_sha256,
        pullstory_url=header.pullstory_url,
        cloud_deleted_at=header.deleted_in_cloud,
    )


class _HeaderDumper(yaml.SafeDumper):
    """SafeDumper that double-quotes any string containing a line break."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if not _LINE_BREAKS.isdisjoint(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_HeaderDumper.add_representer(str, _represent_str)


# libyaml's C emitter when PyYAML was built with it.
_C_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _FastHeaderDumper(_C_DUMPER):  # type: ignore[misc,valid-type]
    """The same dumper on libyaml's C emitter, ten times faster: a first sync renders one
    header per session. It writes the same bytes as `_HeaderDumper` for every string of
    the Basic Multilingual Plane, but escapes the characters beyond it (emoji) where the
    Python emitter keeps them, so a header holding one goes through `_HeaderDumper`."""


_FastHeaderDumper.add_representer(str, _represent_str)


def _all_in_bmp(mapping: dict[str, object]) -> bool:
    texts = (v if isinstance(v, list) else [v] for v in mapping.values())
    return all(not isinstance(t, str) or _in_bmp(t) for ts in texts for t in ts)


# Beyond the Basic Multilingual Plane, or a lone surrogate (never valid UTF-8).
_OUTSIDE_BMP = re.compile("[\U00010000-\U0010ffff\ud800-\udfff]")


def _in_bmp(text: str) -> bool:
    return text.isascii() or _OUTSIDE_BMP.search(text) is None


def render(header: SessionHeader) -> bytes:
    """Return ``---\\n<YAML>---\\n`` for ``header``: keys in field order, None values omitted.

    The same header always gives the same bytes. Every value sits on its own
    line, so no line between the delimiters is ever ``---``.
    """
    mapping: dict[str, object] = {}
    for field in dataclasses.fields(header):
        value = getattr(header, field.name)
        if value is None:
            continue
        mapping[field.name] = list(value) if isinstance(value, tuple) else value
    text = yaml.dump(
        mapping,
        Dumper=_FastHeaderDumper if _all_in_bmp(mapping) else _HeaderDumper,
        sort_keys=False,
        allow_unicode=True,
        width=_NO_LINE_WRAP,
        default_flow_style=False,
    )
    return b"---\n" + text.encode("utf-8") + b"---\n"


def split(data: bytes) -> tuple[dict[str, object], bytes]:
    """Return (front matter mapping, body) of a mirrored file.

    The body is every byte after the closing ``---`` line, untouched. Front
    matter saved with CRLF line endings or behind a UTF-8 byte order mark is
    accepted. Keys that are not strings are dropped. Raises
    :class:`FrontMatterError` when there is no opening or closing ``---`` line
    or the YAML between them is not a mapping.
    """
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    opening = next((d for d in _OPEN if data.startswith(d, start)), None)
    if opening is None:
        raise FrontMatterError("the file does not start with a '---' line")
    yaml_start = start + len(opening)
    yaml_end, body_start = _find_closing_line(data, yaml_start)
    try:
        text = data[yaml_start:yaml_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrontMatterError(f"it is not valid UTF-8 (byte {exc.start})") from exc
    try:
        loaded: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"it is not valid YAML ({_one_line(exc)})") from exc
    if loaded is None:
        raise FrontMatterError("there is nothing between the '---' lines")
    if not isinstance(loaded, dict):
        raise FrontMatterError(f"it is a YAML {type(loaded).__name__}, not a mapping of keys")
    mapping = {key: value for key, value in loaded.items() if isinstance(key, str)}
    return mapping, data[body_start:]


def body_of(data: bytes) -> bytes:
    """The body of a mirrored file without reading its YAML (for indexing, where the header
    is not needed and parsing it cost more than the rest); the whole file if it has none."""
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    opening = next((d for d in _OPEN if data.startswith(d, start)), None)
    if opening is None:
        return data
    try:
        return data[_find_closing_line(data, start + len(opening))[1] :]
    except FrontMatterError:
        return data


def _find_closing_line(data: bytes, pos: int) -> tuple[int, int]:
    """Return (start, end) of the first ``---`` line at or after ``pos``."""
    while pos <= len(data):
        newline = data.find(b"\n", pos)
        line_end = len(data) if newline == -1 else newline + 1
        if data[pos:line_end] in _CLOSE:
            return pos, line_end
        if newline == -1:
            break
        pos = line_end
    raise FrontMatterError("there is no closing '---' line")


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


def header_from_mapping(mapping: dict[str, object]) -> SessionHeader:
    """Rebuild the header that :func:`render` wrote; the inverse of ``split(render(h))``.

    ``id`` and ``project_id`` must be strings. Hand edits are tolerated where
    the meaning is clear: a missing name or project reads as ``""``, an
    unquoted timestamp or number as its text, a single string as a one-item
    list. Unknown keys are ignored. Anything else raises
    :class:`FrontMatterError` naming the key.
    """
    return SessionHeader(
        id=_required_text(mapping, "id"),
        client_id=_optional_text(mapping, "client_id"),
        project_id=_required_text(mapping, "project_id"),
        project=_optional_text(mapping, "project") or "",
        name=_optional_text(mapping, "name") or "",
        created_at=_optional_text(mapping, "created_at"),
        updated_at=_optional_text(mapping, "updated_at"),
        started_at=_optional_text(mapping, "started_at"),
        ended_at=_optional_text(mapping, "ended_at"),
        client=_optional_text(mapping, "client"),
        client_version=_optional_text(mapping, "client_version"),
        agent=_optional_text(mapping, "agent"),
        models=_text_list(mapping, "models"),
        branches=_text_list(mapping, "branches"),
        tags=_text_list(mapping, "tags"),
        etag=_optional_text(mapping, "etag"),
        source_url=_optional_text(mapping, "source_url"),
        pullstory=_optional_flag(mapping, "pullstory"),
        pullstory_url=_optional_text(mapping, "pullstory_url"),
        deleted_in_cloud=_optional_text(mapping, "deleted_in_cloud"),
    )


def _required_text(mapping: dict[str, object], key: str) -> str:
    value = mapping.get(key)
    if value is None:
        raise FrontMatterError(f"the required key {key!r} is missing")
    if not isinstance(value, str):
        raise FrontMatterError(f"{key!r} must be a string, not {type(value).__name__}")
    return value


def _optional_text(mapping: dict[str, object], key: str) -> str | None:
    return _as_text(mapping.get(key), key)


def _as_text(value: object, key: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FrontMatterError(f"{key!r} must be a string, not {type(value).__name__}")


def _text_list(mapping: dict[str, object], key: str) -> tuple[str, ...]:
    value = mapping.get(key)
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    texts = tuple(_as_text(item, key) for item in items)
    if any(text is None for text in texts):
        raise FrontMatterError(f"{key!r} must be a list of strings, but holds an empty item")
    return tuple(text for text in texts if text is not None)


def _optional_flag(mapping: dict[str, object], key: str) -> bool | None:
    value = mapping.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise FrontMatterError(f"{key!r} must be true or false, not {type(value).__name__}")
