"""What a response's headers say, read strictly (RFC 9110): a count is ASCII digits of
bounded length and value, a date is an HTTP-date; anything else is not guessed at.

The parsing functions are pure (the caller passes the time); ServerHeaders feeds what
they read into the rate budget and says, once, what it ignored or clamped.
"""

from __future__ import annotations

import email.utils
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

from syncd.cloud.budget import MAX_RATE_FIGURE, MAX_SERVER_WAIT, RateBudget

logger = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 60.0
"""The wait after a 429 whose Retry-After is missing or unreadable (seconds)."""
MAX_EPOCH = 253_402_300_799
"""The last X-RateLimit-Reset taken as a time (9999-12-31T23:59:59Z, the last a date holds)."""
# Longest Retry-After in digits still read as a number (and then clamped by the budget).
_RETRY_AFTER_DIGITS = 32
# A wait this little past the cap is clamped without a warning: whole seconds rounded up
# and a little clock skew, not a server asking for the impossible.
_QUIET_OVERRUN = 60.0

LIMIT = "x-ratelimit-limit"
REMAINING = "x-ratelimit-remaining"
RESET = "x-ratelimit-reset"


@dataclass(frozen=True)
class RateFigures:
    """The X-RateLimit-* figures of one response."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds


def count(value: str | None, maximum: int) -> int | None:
    """`value` as a whole number when it is only ASCII digits (surrounding blanks allowed)
    and at most `maximum`; None otherwise ("²", "+5", "1_000", "1e3" and "-1" included)."""
    if value is None:
        return None
    text = value.strip(" \t")
    if re.fullmatch(f"[0-9]{{1,{len(str(maximum))}}}", text) is None:
        return None
    number = int(text)
    return number if number <= maximum else None


def rate_figures(headers: Mapping[str, str]) -> tuple[RateFigures | None, list[str]]:
    """The X-RateLimit-* figures when all three are there and read, and the names of those
    that are there but do not read (a count beyond MAX_RATE_FIGURE, a reset beyond
    MAX_EPOCH, anything not digits)."""
    raw = {name: headers.get(name) for name in (LIMIT, REMAINING, RESET)}
    read = {
        LIMIT: count(raw[LIMIT], MAX_RATE_FIGURE),
        REMAINING: count(raw[REMAINING], MAX_RATE_FIGURE),
        RESET: count(raw[RESET], MAX_EPOCH),
    }
    unreadable = [name for name in raw if raw[name] is not None and read[name] is None]
    limit, remaining, reset = read[LIMIT], read[REMAINING], read[RESET]
    if limit is None or remaining is None or reset is None:
        return None, unreadable
    return RateFigures(limit, remaining, float(reset)), unreadable


def retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now` (never negative): delay-seconds (ASCII digits) or
    an HTTP-date. None when absent or unreadable. Not capped: the caller clamps."""
    if value is None:
        return None
    text = value.strip(" \t")
    if re.fullmatch(f"[0-9]{{1,{_RETRY_AFTER_DIGITS}}}", text) is not None:
        return float(int(text))
    if not text.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP dates are in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class ServerHeaders:
    """Reads each response's X-RateLimit-* and Retry-After for one client's budget.

    A value that does not read is ignored with one warning per header for the client's
    life, not one per request; a wait beyond MAX_SERVER_WAIT is clamped with a warning.
    """

    def __init__(self, budget: RateBudget) -> None:
        self._budget = budget
        self._warned: set[str] = set()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Feed the budget the response's rate-limit figures, when they read."""
        figures, unreadable = rate_figures(headers)
        for name in unreadable:
            self._warn_once(
                name, "ignoring %s: %s is not a usable figure", name, _quoted(headers[name])
            )
        if figures is None:
            return
        ahead = figures.reset_at - self._budget.now()
        if ahead > MAX_SERVER_WAIT + _QUIET_OVERRUN:
            self._warn_once(
                "far reset",
                "X-RateLimit-Reset lies %.0f s ahead, beyond the API's hourly window: "
                "taken as %.0f s",
                ahead,
                MAX_SERVER_WAIT,
            )
        self._budget.observe(figures.limit, figures.remaining, figures.reset_at)

    def retry_after(self, headers: Mapping[str, str]) -> float:
        """A 429's Retry-After in seconds, at most MAX_SERVER_WAIT; DEFAULT_RETRY_AFTER
        when it is missing or does not read."""
        value = headers.get("retry-after")
        seconds = retry_after(value, self._budget.now())
        if seconds is None:
            if value is not None:
                self._warn_once(
                    "retry-after",
                    "unreadable Retry-After %s: waiting %.0f s",
                    _quoted(value),
                    DEFAULT_RETRY_AFTER,
                )
            return DEFAULT_RETRY_AFTER
        if seconds > MAX_SERVER_WAIT + _QUIET_OVERRUN:
            logger.warning(
                "Retry-After of %.0f s is longer than the API's hourly window: waiting %.0f s",
                seconds,
                MAX_SERVER_WAIT,
            )
        return min(seconds, MAX_SERVER_WAIT)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)


def _quoted(value: str) -> str:
    """A header value as it may go into a log line: quoted, and at most 40 characters."""
    return repr(value[:40] + ("..." if len(value) > 40 else ""))
