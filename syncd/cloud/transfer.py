"""Bounds on a response body in flight: how slowly it may arrive, and how big and deep a
JSON answer may be. httpx's timeout is per read, so a server sending one byte now and
then would otherwise hold a run for as long as it liked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx

from syncd.cloud.headers import count
from syncd.errors import BadResponseError, TransferTooSlowError

MAX_JSON_BYTES = 64 * 1024 * 1024
"""The largest JSON answer read (a listing of 10,000 sessions is about 5 MB)."""
MAX_JSON_DEPTH = 64
"""The deepest nesting a JSON answer may have (the API's own is 6 levels)."""


class Pace:
    """A body must arrive at `min_rate` bytes/s: `received` bytes are due by
    `grace + received / min_rate` seconds after it began (the clock is injected)."""

    def __init__(self, url: str, min_rate: float, grace: float, clock: Callable[[], float]) -> None:
        self.url = url
        self.min_rate = min_rate
        self.grace = grace
        self.received = 0
        self._clock = clock
        self._started = clock()

    def arrived(self, size: int) -> None:
        """`size` more bytes came in: raises TransferTooSlowError when they came too late."""
        self.received += size
        elapsed = self._clock() - self._started
        if elapsed > self.grace + self.received / self.min_rate:
            raise TransferTooSlowError(self.url, self.received, elapsed, self.min_rate)


class _PacedStream(httpx.SyncByteStream):
    """The network stream of a response, checked against its Pace as each piece arrives
    (before httpx gathers pieces into chunks, so a drip is seen byte by byte)."""

    def __init__(self, inner: httpx.SyncByteStream, pace: Pace) -> None:
        self._inner = inner
        self._pace = pace

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._inner:
            self._pace.arrived(len(piece))
            yield piece

    def close(self) -> None:
        self._inner.close()


def keep_pace(response: httpx.Response, pace: Pace) -> None:
    """From now on, reading `response`'s body raises TransferTooSlowError when it falls
    behind `pace`."""
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):  # pragma: no cover - sync client only
        raise TypeError("a synchronous response was expected")
    response.stream = _PacedStream(stream, pace)


def read_limited(response: httpx.Response, url: str, limit: int) -> bytes:
    """The (decoded) body, refused with BadResponseError once it is past `limit` bytes,
    or at once when its Content-Length says it will be. httpx errors pass through."""
    announced = count(response.headers.get("content-length"), 2**63)
    if announced is not None and announced > limit:
        raise BadResponseError(url, f"answer of {announced} bytes, more than {limit} allowed")
    parts: list[bytes] = []
    size = 0
    for part in response.iter_bytes():
        size += len(part)
        if size > limit:
            raise BadResponseError(url, f"answer longer than {limit} bytes")
        parts.append(part)
    return b"".join(parts)


def parse_json(data: bytes, url: str) -> object:
    """`data` parsed; BadResponseError when it nests deeper than MAX_JSON_DEPTH. Text that
    is not JSON raises ValueError (a garbled transfer is worth another try, unlike this)."""
    try:
        payload = json.loads(data)
    except RecursionError:
        raise BadResponseError(url, f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    if _deeper_than(payload, MAX_JSON_DEPTH):
        raise BadResponseError(url, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return payload


def _deeper_than(value: object, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
