"""A fixed-window request counter with an injectable clock, and the headers it produces."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

UNLIMITED = 1_000_000
"""The X-RateLimit-Limit announced when the server has no limit."""


@dataclass(frozen=True)
class RateDecision:
    """What one request did to the window: allowed or not, and the header values."""

    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int
    allowed: bool

    def headers(self) -> list[tuple[str, str]]:
        """X-RateLimit-* for every response, plus Retry-After when refused."""
        headers = [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(self.reset_epoch)),
        ]
        if not self.allowed:
            headers.append(("Retry-After", str(self.retry_after)))
        return headers


class RateWindow:
    """Counts every request in a window that opens at the first request after the last one ended.

    `limit=None` never refuses but still counts, against a nominal limit of 1,000,000.
    """

    def __init__(
        self, limit: int | None, window_seconds: float, clock: Callable[[], float]
    ) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"rate limit must be >= 0 or None, got {limit}")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds}")
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._window_end: float | None = None
        self._count = 0

    def now(self) -> float:
        return self._clock()

    def hit(self) -> RateDecision:
        """Count one request and say whether it may be served."""
        now = self._clock()
        with self._lock:
            if self._window_end is None or now >= self._window_end:
                self._window_end = now + self._window
                self._count = 0
            self._count += 1
            limit = UNLIMITED if self._limit is None else self._limit
            allowed = self._limit is None or self._count <= self._limit
            return RateDecision(
                limit=limit,
                remaining=max(0, limit - self._count),
                reset_epoch=math.ceil(self._window_end),
                retry_after=max(1, math.ceil(self._window_end - now)),
                allowed=allowed,
            )
