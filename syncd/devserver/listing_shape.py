"""How the listing endpoints answer: whole and as documented, or in the odd-but-legal shapes
a real server may one day send (pages linked by a cursor, a short answer whose `total`
counts more, a repeated id, `/sessions/recent` as a bare array).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

RecentShape = Literal["object", "data-array", "bare-array"]
CursorPlace = Literal["data", "top"]
Duplicate = Literal["identical", "conflicting"]

RECENT_SHAPES: tuple[RecentShape, ...] = ("object", "data-array", "bare-array")
CURSOR_PLACES: tuple[CursorPlace, ...] = ("data", "top")
CURSOR_PREFIX = "page-"
CONFLICTING_SUFFIX = " (another copy)"


class BadCursorError(ValueError):
    """A `cursor` query parameter this server never handed out."""


@dataclass(frozen=True)
class ListingShape:
    """The shape of `/projects`, a project's sessions and `/sessions/recent`.

    - page_size: answer `/projects` and session listings in pages of this many items; each
      page but the last carries `nextCursor`, which the client sends back as `?cursor=`.
      `total` always counts the whole listing. None: one page, no cursor (the API today).
    - cursor_in: where `nextCursor` goes: "data" (`data.nextCursor`) or "top" (beside
      `success` and `data`).
    - looping_cursor: every page's `nextCursor` leads back to the second page, forever.
    - recent: `/sessions/recent` as `data.sessions` ("object", what the TypeScript SDK
      reads), `data` being the array ("data-array"), or a top-level array without the
      envelope ("bare-array"), the two readings of the Python SDK's comment.
    - hidden: project or session ids left out of every listing, while `total` still
      counts them (an incomplete answer).
    - extra_total: listing path (`/projects`, `/projects/{id}/sessions`) -> how many items
      more than exist its `total` counts (a listing cut short, say after a deletion that
      really happened); fewer when negative (a count that lags behind).
    - duplicated: ids listed twice in a row: "identical" repeats the entry byte for byte,
      "conflicting" repeats it under another name.
    - also_listed_under: session id -> another project id whose listing lists it too.
    - size_offset: session id -> how many bytes the listing's `markdownSize` says more (or,
      negative, fewer) than the body has.
    """

    page_size: int | None = None
    cursor_in: CursorPlace = "data"
    looping_cursor: bool = False
    recent: RecentShape = "object"
    hidden: frozenset[str] = frozenset()
    extra_total: Mapping[str, int] = field(default_factory=dict)
    duplicated: Mapping[str, Duplicate] = field(default_factory=dict)
    also_listed_under: Mapping[str, str] = field(default_factory=dict)
    size_offset: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.page_size is not None and self.page_size < 1:
            raise ValueError(f"page_size must be >= 1 or None, got {self.page_size}")
        if self.cursor_in not in CURSOR_PLACES:
            raise ValueError(f"cursor_in must be one of {CURSOR_PLACES}, got {self.cursor_in!r}")
        if self.recent not in RECENT_SHAPES:
            raise ValueError(f"recent must be one of {RECENT_SHAPES}, got {self.recent!r}")
        for ident, kind in self.duplicated.items():
            if kind not in ("identical", "conflicting"):
                raise ValueError(f"duplicated[{ident!r}] must be identical or conflicting")


@dataclass(frozen=True)
class Page:
    """One answer of a listing: its items, the whole listing's count, the next cursor."""

    items: list[dict[str, object]]
    total: int
    next_cursor: str | None


class ShapeBox:
    """The current ListingShape, swapped atomically while requests are being served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shape = ListingShape()

    def get(self) -> ListingShape:
        with self._lock:
            return self._shape

    def set(self, shape: ListingShape) -> None:
        with self._lock:
            self._shape = shape


def shown(items: list[dict[str, object]], shape: ListingShape) -> list[dict[str, object]]:
    """The items as this shape lists them: hidden ones left out, duplicated ones repeated."""
    result: list[dict[str, object]] = []
    for item in items:
        ident = str(item.get("id"))
        if ident in shape.hidden:
            continue
        offset, size = shape.size_offset.get(ident), item.get("markdownSize")
        if offset is not None and isinstance(size, int):
            item = {**item, "markdownSize": max(0, size + offset)}
        result.append(item)
        kind = shape.duplicated.get(ident)
        if kind == "identical":
            result.append(dict(item))
        elif kind == "conflicting":
            result.append({**item, "name": f"{item.get('name')}{CONFLICTING_SUFFIX}"})
    return result


def page_of(
    items: list[dict[str, object]], total: int, shape: ListingShape, cursor: str | None
) -> Page:
    """The page `cursor` points at (the first when None) of an already shaped listing."""
    if shape.page_size is None:
        if cursor is not None:
            raise BadCursorError(f"This listing is not paginated; got cursor {cursor!r}")
        return Page(items, total, None)
    start = 0 if cursor is None else _offset(cursor)
    end = start + shape.page_size
    following: int | None = end if end < len(items) else None
    if shape.looping_cursor:
        following = shape.page_size
    next_cursor = None if following is None else f"{CURSOR_PREFIX}{following}"
    return Page(items[start:end], total, next_cursor)


def _offset(cursor: str) -> int:
    digits = cursor.removeprefix(CURSOR_PREFIX)
    if not cursor.startswith(CURSOR_PREFIX) or not digits.isascii() or not digits.isdigit():
        raise BadCursorError(f"Invalid cursor {cursor!r}")
    return int(digits)
