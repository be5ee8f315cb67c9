"""The endpoints under /api/v1 (REST, and GraphQL handed to its own module): a request in,
a Response out, against the Store."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import TypeVar
from urllib.parse import unquote

from syncd.devserver.body import BytesBody
from syncd.devserver.graphql_api import GraphQLEndpoint
from syncd.devserver.headers import none_match_hits, wants_markdown
from syncd.devserver.listing_shape import BadCursorError, ListingShape, ShapeBox, page_of, shown
from syncd.devserver.payloads import (
    encode,
    project_json,
    session_detail,
    summary_json,
    wrapped,
)
from syncd.devserver.responses import (
    JSON_TYPE,
    MARKDOWN_TYPE,
    Response,
    body_etag,
    error_response,
    json_response,
    not_modified,
)
from syncd.devserver.state import NotFoundError, Session, Store
from syncd.devserver.timestamps import http_date, iso_ms, parse_iso, to_millis

API_PREFIX = "/api/v1/"
RECENT_DEFAULT = 5
RECENT_MAX = 100
_JSON_NAMES: dict[type, str] = {str: "string", dict: "JSON object"}

T = TypeVar("T")


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, str]
    body: bytes
    accept: str | None
    if_none_match: str | None


class ApiError(Exception):
    """Ends a request with a wrapped error."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


def segments(path: str) -> list[str] | None:
    """The decoded path segments after /api/v1/, or None for a path outside the API."""
    if not path.startswith(API_PREFIX):
        return None
    return [unquote(part) for part in path[len(API_PREFIX) :].split("/")]


def is_graphql(path: str) -> bool:
    """True for the GraphQL endpoint, which spends a rate budget of its own."""
    return segments(path) == ["graphql"]


def is_session_content(method: str, path: str) -> bool:
    """True for GET/HEAD of one session (where the oversize fault applies)."""
    parts = segments(path)
    return (
        method in ("GET", "HEAD")
        and parts is not None
        and len(parts) == 4
        and parts[0] == "projects"
        and parts[2] == "sessions"
    )


@dataclass(frozen=True)
class Api:
    store: Store
    clock: Callable[[], float]
    recent_includes_etag: bool
    shapes: ShapeBox
    graphql: GraphQLEndpoint = field(default_factory=GraphQLEndpoint)

    def handle(self, request: ApiRequest, *, oversize: bytes | None = None) -> Response:
        """Answer one authorized, unthrottled request; never raises for a bad request."""
        try:
            return self._route(request, oversize or b"")
        except NotFoundError as exc:
            return error_response(404, exc.message)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.headers)

    def _now(self) -> int:
        return to_millis(self.clock())

    def _route(self, request: ApiRequest, extra: bytes) -> Response:
        parts = segments(request.path)
        method = request.method
        if parts is None or any(part == "" for part in parts):
            raise ApiError(404, f"Not found: {request.path}")
        match parts:
            case ["projects"]:
                _allow(method, "GET", "HEAD")
                return self._list_projects(request)
            case ["projects", project_id]:
                _allow(method, "PATCH", "DELETE")
                if method == "PATCH":
                    return self._update_project(project_id, request)
                return self._delete_project(project_id)
            case ["projects", project_id, "sessions"]:
                _allow(method, "GET", "HEAD")
                return self._list_sessions(project_id, request)
            case ["projects", project_id, "sessions", session_id]:
                _allow(method, "GET", "HEAD", "PUT", "DELETE")
                if method == "PUT":
                    return self._write_session(project_id, session_id, request)
                if method == "DELETE":
                    return self._delete_session(project_id, session_id)
                return self._read_session(project_id, session_id, request, extra)
            case ["sessions", "recent"]:
                _allow(method, "GET", "HEAD")
                return self._recent(request)
            case ["graphql"]:
                _allow(method, "POST")
                return self.graphql.answer(request.body, self.store)
        raise ApiError(404, f"Not found: {request.path}")

    # Listings

    def _list_projects(self, request: ApiRequest) -> Response:
        projects = [project_json(p) for p in self.store.projects()]
        return _paged(request, self.shapes.get(), "projects", projects, {})

    def _list_sessions(self, project_id: str, request: ApiRequest) -> Response:
        shape = self.shapes.get()
        sessions = [summary_json(s) for s in self.store.sessions(project_id)]
        elsewhere = [
            sid
            for sid, listed_under in shape.also_listed_under.items()
            if listed_under == project_id
        ]
        sessions += [summary_json(s) for s in self.store.find_sessions(elsewhere)]
        return _paged(request, shape, "sessions", sessions, {"projectId": project_id})

    def _recent(self, request: ApiRequest) -> Response:
        shape = self.shapes.get()
        limit = _parse_limit(request.query.get("limit"))
        recent = self.store.recent(limit)
        sessions = shown(
            [summary_json(s, with_etag=self.recent_includes_etag) for s in recent], shape
        )
        payload: object = wrapped({"sessions": sessions, "total": len(sessions)})
        if shape.recent == "data-array":
            payload = wrapped(sessions)
        elif shape.recent == "bare-array":
            payload = sessions
        return _listing(request, payload)

    # One session

    def _read_session(
        self, project_id: str, session_id: str, request: ApiRequest, extra: bytes
    ) -> Response:
        project = self.store.project(project_id)
        session = self.store.session(project_id, session_id)
        headers = [
            ("ETag", session.etag),
            ("Last-Modified", http_date(session.updated_ms)),
            ("Vary", "Accept"),
            # The sizes of the two representations, as the SDK's HEAD describes them.
            ("X-Markdown-Size", str(session.body.size)),
        ]
        if session.raw_data_size:
            headers.append(("X-Session-Data-Size", str(session.raw_data_size)))
        if none_match_hits(request.if_none_match, session.etag):
            return not_modified(headers)
        if wants_markdown(request.accept):
            length = session.body.size + len(extra)
            pieces = _Pieces(session, extra)
            return Response(200, [("Content-Type", MARKDOWN_TYPE), *headers], pieces, length)
        length, detail = session_detail(session, project, extra)
        return Response(200, [("Content-Type", JSON_TYPE), *headers], detail, length)

    def _write_session(self, project_id: str, session_id: str, request: ApiRequest) -> Response:
        payload = _json_object(request.body)
        markdown = _required(payload, "markdown", str)
        name = _required(payload, "name", str)
        project_name = _optional(payload, "projectName", str)
        raw_data = _optional(payload, "rawData", str)
        metadata = _optional(payload, "metadata", dict)
        now = self._now()
        try:
            self.store.project(project_id)
        except NotFoundError:
            if project_name is None:
                raise
            self.store.add_project(project_id, project_name, now)
        session = self.store.put_session(
            project_id,
            session_id,
            name=name,
            body=BytesBody(markdown.encode("utf-8")),
            now_ms=now,
            created_ms=_timestamp(payload, "createdAt"),
            started_ms=_timestamp(payload, "startedAt"),
            ended_ms=_timestamp(payload, "endedAt"),
            metadata=metadata,
            raw_data_size=None if raw_data is None else len(raw_data.encode("utf-8")),
        )
        data = {
            "sessionId": session.id,
            "projectId": project_id,
            "createdAt": iso_ms(session.created_ms),
        }
        return json_response(200, wrapped(data), [("ETag", session.etag)])

    def _delete_session(self, project_id: str, session_id: str) -> Response:
        self.store.delete_session(project_id, session_id)
        data = {"sessionId": session_id, "deletedAt": iso_ms(self._now())}
        return json_response(200, wrapped(data))

    # One project

    def _update_project(self, project_id: str, request: ApiRequest) -> Response:
        payload = _json_object(request.body)
        changes: dict[str, str | None] = {}
        name = _optional(payload, "name", str)
        if name is not None:
            changes["name"] = name
        for key in ("icon", "color"):
            if key in payload:
                changes[key] = _optional(payload, key, str)
        project = self.store.update_project(project_id, changes, self._now())
        return json_response(200, wrapped(project_json(project)))

    def _delete_project(self, project_id: str) -> Response:
        project = self.store.delete_project(project_id)
        data = {"deletedProject": project_json(project), "deletedAt": iso_ms(self._now())}
        return json_response(200, wrapped(data))


class _Pieces:
    """A session's raw Markdown followed by `extra`, re-iterable."""

    def __init__(self, session: Session, extra: bytes) -> None:
        self._session = session
        self._extra = extra

    def __iter__(self) -> chain[bytes]:
        return chain(self._session.body.pieces(), (self._extra,))


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        message = f"Method {method} not allowed here; use {', '.join(allowed)}"
        raise ApiError(405, message, [("Allow", ", ".join(allowed))])


def _paged(
    request: ApiRequest,
    shape: ListingShape,
    key: str,
    items: list[dict[str, object]],
    extra: dict[str, object],
) -> Response:
    """A listing as `shape` answers it: `total` counts every item (hidden ones too), the
    page the `cursor` query parameter asks for, and where the next page's cursor goes."""
    try:
        offset = shape.extra_total.get(request.path.removeprefix(API_PREFIX[:-1]), 0)
        total = max(0, len(items) + offset)
        page = page_of(shown(items, shape), total, shape, request.query.get("cursor"))
    except BadCursorError as exc:
        raise ApiError(400, str(exc)) from exc
    data: dict[str, object] = {key: page.items, "total": page.total, **extra}
    payload = wrapped(data)
    if page.next_cursor is not None:
        (data if shape.cursor_in == "data" else payload)["nextCursor"] = page.next_cursor
    return _listing(request, payload)


def _listing(request: ApiRequest, payload: object) -> Response:
    """A JSON listing with an ETag of its own bytes, honouring If-None-Match."""
    body = encode(payload)
    etag = body_etag(body)
    if none_match_hits(request.if_none_match, etag):
        return not_modified([("ETag", etag)])
    return Response(200, [("Content-Type", JSON_TYPE), ("ETag", etag)], (body,), len(body))


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return RECENT_DEFAULT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= RECENT_MAX:
        raise ApiError(400, f"limit must be an integer from 1 to {RECENT_MAX}, got {raw!r}")
    return int(raw)


def _json_object(body: bytes) -> dict[str, object]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return payload


def _optional(payload: Mapping[str, object], key: str, kind: type[T]) -> T | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ApiError(400, f"Field {key!r} must be a {_JSON_NAMES.get(kind, kind.__name__)}")
    return value


def _required(payload: Mapping[str, object], key: str, kind: type[T]) -> T:
    value = _optional(payload, key, kind)
    if value is None:
        raise ApiError(400, f"Field {key!r} is required")
    return value


def _timestamp(payload: Mapping[str, object], key: str) -> int | None:
    text = _optional(payload, key, str)
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise ApiError(400, f"Field {key!r} is not an ISO 8601 timestamp: {text!r}") from exc
