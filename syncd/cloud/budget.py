"""The rate budget: how many requests we may still send, and when.

Fed by the X-RateLimit-* headers of every response (the server's count is the truth:
other machines may spend the same key). Pure arithmetic; the clock is passed in.

- A reserve (default 10% of the limit) is kept for interactive commands.
- Work that fits in what is left goes at once; the daemon paces a backlog bigger than
  that evenly across the rest of the window instead of bursting (an interactive command
  goes at once and stops when the budget is spent).
- A 429's Retry-After blocks every request until it has passed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

SKEWED_WINDOW = 60.0
MAX_REFUSAL_BACKOFF = 3600.0


@dataclass(frozen=True)
class BudgetSnapshot:
    limit: int
    remaining: int
    reset_at: float
    observed_at: float
    blocked_until: float | None


class RateBudget:
    def __init__(
        self,
        *,
        reserve: float = 0.1,
        interactive: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reserve = reserve
        self.interactive = interactive
        self._clock = clock
        self.limit: int | None = None
        self.remaining = 0
        self.reset_at = 0.0
        self.observed_at = 0.0
        self.blocked_until = 0.0
        self.pending = 1  # requests the caller still has to make (for pacing)
        self._last_send = -math.inf
        self._refusals = 0  # 429s in a row

    def restore(self, snapshot: BudgetSnapshot) -> None:
        """Resume from what an earlier process learnt (so a restart does not forget)."""
        self.limit, self.remaining = snapshot.limit, snapshot.remaining
        self.reset_at, self.observed_at = snapshot.reset_at, snapshot.observed_at
        self.blocked_until = snapshot.blocked_until or 0.0

    def now(self) -> float:
        return self._clock()

    @property
    def known(self) -> bool:
        return self.limit is not None

    def reserved(self) -> int:
        if self.limit is None or self.interactive:
            return 0
        return math.ceil(self.limit * self.reserve)

    def usable(self) -> int | None:
        """Requests that may still go out in this window; None when nothing is known yet."""
        if self.limit is None:
            return None
        if self.now() >= self.reset_at:
            return self.limit - self.reserved()  # a new window has begun
        return self.remaining - self.reserved()

    def delay(self) -> float:
        """Seconds to wait before the next request may be sent (0 when it may go now)."""
        now = self.now()
        if now < self.blocked_until:
            return self.blocked_until - now
        usable = self.usable()
        if usable is None or now >= self.reset_at:
            return 0.0
        if usable <= 0:
            return self.reset_at - now
        if self.pending <= usable or self.interactive:
            return 0.0  # someone is waiting at a terminal: go now, stop when it is spent
        # More work than budget: spread what is left evenly over the rest of the window.
        interval = (self.reset_at - now) / usable
        return max(0.0, self._last_send + interval - now)

    def waiting_for_reset(self) -> bool:
        """True when the budget is spent or a 429 holds everything (not mere pacing)."""
        now = self.now()
        if now < self.blocked_until:
            return True
        usable = self.usable()
        return usable is not None and usable <= 0 and now < self.reset_at

    def note_send(self) -> None:
        """A request is going out; count it until the response's headers correct us."""
        self._last_send = self.now()
        if self.limit is not None:
            if self._last_send >= self.reset_at:
                self.remaining = self.limit
            self.remaining = max(0, self.remaining - 1)

    def observe(self, limit: int, remaining: int, reset_at: float) -> None:
        """The server's own figures, from a response's X-RateLimit-* headers.

        A reset already in the past (clock skew) still leaves `remaining` trusted for a
        minute, so a skewed clock never switches pacing and the reserve off.
        """
        now = self.now()
        if reset_at <= now:
            reset_at = now + SKEWED_WINDOW
        self.limit = max(1, limit)
        self.remaining = max(0, remaining)
        self.reset_at = reset_at
        self.observed_at = now

    def note_success(self) -> None:
        self._refusals = 0

    def block(self, seconds: float) -> None:
        """A 429 said to come back in `seconds`: nothing goes out before then.

        Consecutive 429s back off exponentially whatever Retry-After says, so a server
        that keeps refusing is never hammered (the count survives across cycles).
        """
        self._refusals += 1
        backoff = min(MAX_REFUSAL_BACKOFF, 2.0 ** (self._refusals - 1))
        # Only the wait is certain; the next response's headers say what is left after it.
        self.blocked_until = max(self.blocked_until, self.now() + max(seconds, backoff))

    def snapshot(self) -> BudgetSnapshot | None:
        if self.limit is None:
            return None
        blocked = self.blocked_until if self.blocked_until > self.now() else None
        return BudgetSnapshot(self.limit, self.remaining, self.reset_at, self.observed_at, blocked)
