"""The shape of a list answer: its `data` object, its items, its `total` and the cursor of
its next page. Pure: checks JSON already read, raises BadResponseError for a wrong shape."""

from __future__ import annotations

from typing import Any

from syncd.cloud.models import repaired
from syncd.errors import BadResponseError

#: The {success, data} envelope, or a bare array (how /sessions/recent may answer).
JsonBody = dict[str, Any] | list[Any]

#: A longer `nextCursor` is refused rather than sent back in a URL.
MAX_CURSOR_LENGTH = 4096


def data_object(body: JsonBody, url: str) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise BadResponseError(url, "'data' is not an object")
    return data


def list_field(data: dict[str, Any], key: str, url: str) -> list[object]:
    items = data.get(key)
    if not isinstance(items, list):
        raise BadResponseError(url, f"'data.{key}' is not a list")
    return items


def recent_items(body: JsonBody, url: str) -> list[object]:
    """The recent page's items: `data.sessions` (the TypeScript SDK), `data` being the
    array, or a bare top-level array (the two readings of the Python SDK's comment)."""
    if isinstance(body, list):
        return body
    data = body.get("data")
    if isinstance(data, list):
        return data
    return list_field(data_object(body, url), "sessions", url)


def stated_total(data: dict[str, Any]) -> int | None:
    """`data.total` when it is a count; anything else says nothing."""
    total = data.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    return None


def next_cursor(body: JsonBody, data: dict[str, Any], url: str) -> str | None:
    """The next page's cursor, from `data.nextCursor` or a top-level `nextCursor` (the API
    does not say where it will live); None (or "") on the last page."""
    cursor = data.get("nextCursor")
    if cursor is None and isinstance(body, dict):
        cursor = body.get("nextCursor")
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise BadResponseError(url, "'nextCursor' is not a string")
    if len(cursor) > MAX_CURSOR_LENGTH or repaired(cursor) != cursor:
        raise BadResponseError(url, "'nextCursor' cannot be sent back (too long, or not UTF-8)")
    return cursor
