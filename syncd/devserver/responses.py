"""A response as the handler writes it: status, headers and a body of known length."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from syncd.devserver.payloads import encode, wrapped_error

JSON_TYPE = "application/json; charset=utf-8"
MARKDOWN_TYPE = "text/markdown; charset=utf-8"


@dataclass
class Response:
    """`length` is the Content-Length; None means no body and no Content-Length (304)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    parts: Iterable[bytes] = ()
    length: int | None = 0


def json_response(
    status: int, payload: object, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    body = encode(payload)
    return Response(status, [("Content-Type", JSON_TYPE), *headers], (body,), len(body))


def error_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """`{"success": false, "error": message}` with the given status."""
    return json_response(status, wrapped_error(message), headers)


def raw_response(status: int, body: bytes, content_type: str = JSON_TYPE) -> Response:
    return Response(status, [("Content-Type", content_type)], (body,), len(body))


def not_modified(headers: Iterable[tuple[str, str]]) -> Response:
    return Response(304, list(headers), (), None)


def body_etag(body: bytes) -> str:
    """A weak ETag for a generated body (the list endpoints)."""
    return f'W/"{hashlib.sha1(body).hexdigest()[:16]}"'
