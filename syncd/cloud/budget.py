"""The rate budget: how many requests we may still send, and when.

Fed by the X-RateLimit-* headers of every response (the server's count is the truth:
other machines may spend the same key). Pure arithmetic; the clock is passed in.

- A reserve (default 10% of the limit) is kept for interactive commands.
- Work that fits in what is left goes at once; the daemon paces a backlog bigger than
  that evenly across the rest of the window instead of bursting (an interactive command
  goes at once and stops when the budget is spent).
- A 429's Retry-After blocks every request until it has passed.
- No wait the server asks for lies further ahead than MAX_SERVER_WAIT, whatever it says.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# How long figures whose reset already passed (by our clock) stay trusted for pacing.
SKEWED_WINDOW = 60.0
MAX_REFUSAL_BACKOFF = 3600.0
MAX_SERVER_WAIT = 3600.0
"""The longest a Retry-After or an X-RateLimit-Reset may hold requests back (seconds).

The API's budget is an hourly window, so no honest wait lies further ahead than that; a
longer one (e.g. "Retry-After: 9999999999") is clamped to it, also when read back from
a state an older syncd saved.
"""
MAX_RATE_FIGURE = 10**9
"""The largest X-RateLimit-Limit or -Remaining taken as a figure (the API's is 1,000)."""


@dataclass(frozen=True)
class BudgetSnapshot:
    limit: int
    remaining: int
    reset_at: float
    observed_at: float
    blocked_until: float | None

    def bounded(self, now: float) -> BudgetSnapshot:
        """This state with every wait at most MAX_SERVER_WAIT after `now` and every figure
        within range (a state saved by an older syncd may hold a wait of centuries)."""
        latest = now + MAX_SERVER_WAIT
        reset_at = _at_most(self.reset_at, latest, otherwise=now)
        blocked = self.blocked_until
        if blocked is not None:
            blocked = _at_most(blocked, latest, otherwise=now)
        return BudgetSnapshot(
            limit=min(max(self.limit, 1), MAX_RATE_FIGURE),
            remaining=min(max(self.remaining, 0), MAX_RATE_FIGURE),
            reset_at=reset_at,
            observed_at=_at_most(self.observed_at, now, otherwise=now),
            blocked_until=blocked,
        )


def _at_most(value: float, latest: float, *, otherwise: float) -> float:
    """`value` within [epoch 0, `latest`] (so a datetime can hold it); `otherwise` for NaN."""
    if math.isnan(value):
        return otherwise
    return max(min(value, latest), 0.0)


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

    def restore(self, snapshot: BudgetSnapshot) -> bool:
        """Resume from what an earlier process learnt (so a restart does not forget).

        A wait further ahead than MAX_SERVER_WAIT is clamped to it; True when something in
        `snapshot` had to be clamped (the caller says so).
        """
        bounded = snapshot.bounded(self.now())
        self.limit, self.remaining = bounded.limit, bounded.remaining
        self.reset_at, self.observed_at = bounded.reset_at, bounded.observed_at
        self.blocked_until = bounded.blocked_until or 0.0
        return not _same(bounded, snapshot)

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

    def has_room_for(self, requests: int) -> bool:
        """Whether `requests` more may go out now, unpaced: nothing blocks and the window
        holds them all (or no limit is known). Only then may requests overlap in time."""
        usable = self.usable()
        return self.now() >= self.blocked_until and (usable is None or usable >= requests)

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

        A reset further ahead than MAX_SERVER_WAIT is taken as MAX_SERVER_WAIT from now.
        A reset already in the past means the window these figures describe is over and a
        new one has begun. `remaining` above the reserve stays trusted for SKEWED_WINDOW
        (a server whose clock is behind ours may still be counting the old window), so
        pacing and the reserve hold; at or below the reserve it is not read as a spent
        budget, since nothing can wait for a reset that has passed (a server that really
        is out of requests answers 429, and its Retry-After is honoured).
        """
        now = self.now()
        self.limit = min(max(1, limit), MAX_RATE_FIGURE)
        self.remaining = min(max(0, remaining), MAX_RATE_FIGURE)
        if reset_at <= now:
            reset_at = now + SKEWED_WINDOW if self.remaining > self.reserved() else now
        self.reset_at = min(reset_at, now + MAX_SERVER_WAIT)
        self.observed_at = now

    def note_success(self) -> None:
        self._refusals = 0

    def block(self, seconds: float) -> None:
        """A 429 said to come back in `seconds`: nothing goes out before then.

        Consecutive 429s back off exponentially whatever Retry-After says, so a server
        that keeps refusing is never hammered (the count survives across cycles). No
        wait is longer than MAX_SERVER_WAIT.
        """
        self._refusals += 1
        backoff = min(MAX_REFUSAL_BACKOFF, 2.0 ** (self._refusals - 1))
        wait = min(max(seconds, backoff), MAX_SERVER_WAIT)
        # Only the wait is certain; the next response's headers say what is left after it.
        self.blocked_until = max(self.blocked_until, self.now() + wait)

    def snapshot(self) -> BudgetSnapshot | None:
        if self.limit is None:
            return None
        blocked = self.blocked_until if self.blocked_until > self.now() else None
        return BudgetSnapshot(self.limit, self.remaining, self.reset_at, self.observed_at, blocked)


@dataclass(frozen=True)
class BudgetWait:
    """The client is about to wait for the rate budget: what a progress display says.

    `until` is epoch seconds; `backlog` the requests the caller still has to make (the
    executor's steps left); `per_hour` what the budget lets through in an hour, when known.
    """

    until: float
    seconds: float
    backlog: int
    per_hour: float | None

    def backlog_seconds(self) -> float | None:
        """How long the whole backlog takes at the budget's rate, from the end of this wait."""
        if not self.per_hour:
            return None
        return self.backlog / self.per_hour * 3600.0


def budget_wait(budget: RateBudget, seconds: float, window_seconds: float = 3600.0) -> BudgetWait:
    """The wait `budget` asks for now, as an event (the window is the API's hour)."""
    usable = None if budget.limit is None else budget.limit - budget.reserved()
    per_hour = None if usable is None else usable * 3600.0 / window_seconds
    return BudgetWait(budget.now() + seconds, seconds, max(budget.pending, 1), per_hour)


def _same(a: BudgetSnapshot, b: BudgetSnapshot) -> bool:
    """Field by field, NaN never being the same as anything (it had to be replaced)."""
    return dataclasses.astuple(a) == dataclasses.astuple(b) and not any(
        isinstance(v, float) and math.isnan(v) for v in dataclasses.astuple(b)
    )
