"""The record of every request the devserver answered, for tests that count requests."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it.

    `status` is the status sent; 0 means the connection was reset without a response.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    if_none_match: str | None
    accept: str | None
    authorized: bool
    accept_encoding: str | None = None
    at: float = 0.0  # the server's clock when the request arrived (epoch seconds)


class RequestLog:
    """Thread-safe record of the most recent `capacity` requests (a long demo run stays small)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Condition()
        self._records: deque[RequestRecord] = deque(maxlen=capacity)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._lock.notify_all()

    def wait_for(self, predicate: Callable[[list[RequestRecord]], bool], timeout: float) -> bool:
        """Block until `predicate(records)` holds (True) or `timeout` passes (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self._records)), timeout)

    def snapshot(self) -> list[RequestRecord]:
        """A copy: later requests do not change it."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
