"""Fault rules: which requests fail, how, and how many more times."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["status", "latency", "reset", "truncate", "oversize", "body"]
_KINDS: frozenset[str] = frozenset({"status", "latency", "reset", "truncate", "oversize", "body"})


@dataclass(frozen=True)
class Fault:
    """A failure to inject into matching requests.

    - status: answer `status` with a wrapped JSON error (or exactly `body` when given);
      304 answers "Not Modified" with no body, like a stale cache in front of the API.
    - latency: wait `delay` seconds, then answer normally.
    - reset: close the TCP connection abruptly (RST) without answering.
    - truncate: send the headers with the full Content-Length, half the body, then close.
    - oversize: on a session GET/HEAD, append extra bytes (`body`, or a default line) to the
      Markdown; Content-Length counts them, the listing's markdownSize does not.
    - body: answer 200 with exactly `body` bytes as application/json.

    `path` is a regex searched in the request path; `method` (any case) narrows it;
    `times` is how many requests it hits, -1 for every one.
    """

    kind: FaultKind
    path: str = r".*"
    method: str | None = None
    times: int = 1
    status: int = 500
    delay: float = 0.0
    body: bytes | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {sorted(_KINDS)}")
        if self.times == 0 or self.times < -1:
            raise ValueError(f"times must be >= 1, or -1 for forever, got {self.times}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.delay < 0:
            raise ValueError(f"delay must be >= 0, got {self.delay}")
        re.compile(self.path)

    def matches(self, method: str, path: str, *, session_content: bool) -> bool:
        """True when this fault applies to the request (oversize only to session content)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.kind == "oversize" and not session_content:
            return False
        return re.search(self.path, path) is not None


@dataclass
class _Rule:
    fault: Fault
    remaining: int


class FaultBook:
    """The active faults, first injected first served, each with its remaining count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(_Rule(fault, fault.times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str, *, session_content: bool) -> Fault | None:
        """The first fault matching the request, spending one of its uses."""
        with self._lock:
            for rule in self._rules:
                if not rule.fault.matches(method, path, session_content=session_content):
                    continue
                if rule.remaining == 1:
                    self._rules.remove(rule)
                elif rule.remaining > 1:
                    rule.remaining -= 1
                return rule.fault
        return None
