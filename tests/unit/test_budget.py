"""The rate budget's arithmetic, driven by a simulated server window and clock."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.budget import BudgetSnapshot, RateBudget


class Window:
    """A server-side fixed window, answering like X-RateLimit-* headers would."""

    def __init__(self, limit: int, seconds: float, start: float) -> None:
        self.limit, self.seconds, self.start = limit, seconds, start
        self.used = 0
        self.rejected = 0
        self.per_window: dict[int, int] = {}

    def request(self, now: float) -> tuple[int, int, float]:
        index = int((now - self.start) // self.seconds)
        count = self.per_window.get(index, 0)
        if count >= self.limit:
            self.rejected += 1
        else:
            self.per_window[index] = count + 1
        reset = self.start + (index + 1) * self.seconds
        return self.limit, self.limit - self.per_window.get(index, 0), reset


def drain(budget: RateBudget, window: Window, clock: list[float], work: int) -> None:
    for done in range(work):
        budget.pending = work - done
        for _ in range(3):
            wait = budget.delay()
            if wait <= 0:
                break
            clock[0] += wait
        budget.note_send()
        budget.observe(*window.request(clock[0]))


@given(
    limit=st.integers(min_value=10, max_value=200),
    work=st.integers(min_value=1, max_value=600),
    reserve=st.sampled_from([0.0, 0.1, 0.25]),
)
def test_a_backlog_never_draws_a_429_nor_touches_the_reserve(
    limit: int, work: int, reserve: float
) -> None:
    clock = [1000.0]
    window = Window(limit, 60.0, start=990.0)
    budget = RateBudget(reserve=reserve, clock=lambda: clock[0])
    drain(budget, window, clock, work)
    assert window.rejected == 0
    kept = math.ceil(limit * reserve)
    # The first request learns the window; after that the reserve is never spent.
    assert all(used <= limit - kept + 1 for used in window.per_window.values())


def test_backlog_uses_the_minimum_number_of_windows() -> None:
    clock = [0.0]
    window = Window(100, 60.0, start=0.0)
    budget = RateBudget(reserve=0.1, clock=lambda: clock[0])
    drain(budget, window, clock, 600)
    assert len(window.per_window) <= math.ceil(600 / 90) + 1


def test_work_that_fits_goes_at_once() -> None:
    clock = [0.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(1000, 900, 3600.0)
    budget.pending = 10
    assert budget.delay() == 0.0


def test_a_larger_backlog_is_paced_evenly_over_the_window() -> None:
    clock = [0.0]
    budget = RateBudget(reserve=0.0, clock=lambda: clock[0])
    budget.note_send()
    budget.observe(100, 60, 60.0)  # the response: 60 left, 60 s to go
    budget.pending = 500
    assert budget.delay() == 1.0


def test_interactive_commands_may_use_the_reserve() -> None:
    clock = [0.0]
    daemon = RateBudget(reserve=0.1, clock=lambda: clock[0])
    daemon.observe(1000, 50, 600.0)
    assert daemon.delay() == 600.0  # 50 left is all reserve: wait for the reset
    interactive = RateBudget(reserve=0.1, interactive=True, clock=lambda: clock[0])
    interactive.observe(1000, 50, 600.0)
    assert interactive.delay() == 0.0


def test_retry_after_blocks_every_request_until_it_passes() -> None:
    clock = [0.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(1000, 500, 3600.0)
    budget.block(30.0)
    assert budget.delay() == 30.0
    clock[0] = 30.0
    assert budget.delay() == 0.0


def test_a_new_window_frees_the_budget_before_any_header_says_so() -> None:
    clock = [0.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(100, 0, 60.0)
    assert budget.delay() == 60.0
    clock[0] = 61.0
    assert budget.delay() == 0.0


def test_state_round_trips_through_a_snapshot() -> None:
    clock = [10.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(1000, 3, 70.0)
    budget.block(5.0)
    snapshot = budget.snapshot()
    assert snapshot == BudgetSnapshot(1000, 3, 70.0, 10.0, 15.0)
    restored = RateBudget(clock=lambda: clock[0])
    restored.restore(snapshot)
    assert restored.delay() == budget.delay()


def test_a_server_that_keeps_answering_429_is_backed_off_exponentially() -> None:
    clock = [0.0]
    budget = RateBudget(clock=lambda: clock[0])
    waits = []
    for _ in range(6):
        budget.block(0.0)  # "Retry-After: 0", six times in a row
        waits.append(budget.delay())
        clock[0] += budget.delay()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    budget.note_success()
    budget.block(0.0)
    assert budget.delay() == 1.0


def test_a_reset_time_in_the_past_keeps_pacing_and_the_reserve() -> None:
    clock = [10_000.0]
    budget = RateBudget(reserve=0.1, clock=lambda: clock[0])
    budget.observe(100, 5, 9_000.0)  # the server's clock is behind ours
    assert budget.usable() == 5 - 10
    assert budget.waiting_for_reset()
    assert budget.delay() > 0
