"""The record of every request the devserver answered, for tests that count requests."""

from __future__ import annotations

import threading
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


class RequestLog:
    """Thread-safe append-only list of RequestRecord."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """A copy: later requests do not change it."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
