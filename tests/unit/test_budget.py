"""The rate budget's arithmetic, driven by a simulated server window and clock."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.budget import (
    MAX_RATE_FIGURE,
    MAX_SERVER_WAIT,
    SKEWED_WINDOW,
    BudgetSnapshot,
    RateBudget,
)


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
    budget.note_send()
    budget.observe(100, 30, 9_000.0)  # the server's clock is behind ours
    budget.pending = 500
    assert budget.usable() == 30 - 10
    assert not budget.waiting_for_reset()
    assert budget.delay() == SKEWED_WINDOW / 20  # paced over the minute the figures hold


@pytest.mark.parametrize("interactive", [False, True])
@pytest.mark.parametrize("remaining", [0, 5, 10])
def test_a_spent_budget_whose_reset_has_passed_is_a_new_window(
    interactive: bool, remaining: int
) -> None:
    clock = [10_000.0]
    budget = RateBudget(reserve=0.1, interactive=interactive, clock=lambda: clock[0])
    budget.observe(100, remaining, 9_990.0)
    assert not budget.waiting_for_reset()
    assert budget.delay() == 0.0


def test_a_server_stuck_at_nothing_left_and_a_past_reset_never_paces_the_work() -> None:
    clock = [10_000.0]
    budget = RateBudget(reserve=0.1, clock=lambda: clock[0])
    waited = 0.0
    for done in range(200):
        budget.pending = 200 - done
        wait = budget.delay()
        waited += wait
        clock[0] += wait
        budget.note_send()
        budget.observe(100, 0, clock[0] - 5.0)  # "0 left; the window reset 5 s ago"
    assert waited == 0.0


def test_a_reset_further_than_the_cap_is_clamped_to_it() -> None:
    clock = [10_000.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(1000, 0, 1e300)
    assert budget.delay() == MAX_SERVER_WAIT
    assert budget.reset_at == 10_000.0 + MAX_SERVER_WAIT


def test_a_retry_after_further_than_the_cap_is_clamped_to_it() -> None:
    clock = [10_000.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.block(9_999_999_999.0)
    assert budget.delay() == MAX_SERVER_WAIT
    clock[0] += MAX_SERVER_WAIT
    assert budget.delay() == 0.0


@given(
    limit=st.integers(min_value=-(10**12), max_value=10**12),
    remaining=st.integers(min_value=-(10**12), max_value=10**12),
    reset_in=st.floats(min_value=-1e300, max_value=1e300),
    retry_after=st.floats(min_value=0.0, max_value=1e300),
)
def test_no_figure_from_a_server_makes_anything_wait_longer_than_the_cap(
    limit: int, remaining: int, reset_in: float, retry_after: float
) -> None:
    clock = [1_800_000_000.0]
    budget = RateBudget(clock=lambda: clock[0])
    budget.observe(limit, remaining, clock[0] + reset_in)
    assert 0.0 <= budget.delay() <= MAX_SERVER_WAIT
    budget.block(retry_after)
    assert 0.0 <= budget.delay() <= MAX_SERVER_WAIT


def test_a_saved_block_beyond_the_cap_is_clamped_when_read_back() -> None:
    clock = [1_800_000_000.0]
    # What an older syncd saved after "Retry-After: 9999999999": blocked until 2343.
    saved = BudgetSnapshot(1000, 500, clock[0] + 3000.0, clock[0], clock[0] + 9_999_999_999.0)
    budget = RateBudget(clock=lambda: clock[0])
    assert budget.restore(saved)  # True: something had to be clamped
    assert budget.delay() == MAX_SERVER_WAIT
    assert budget.snapshot() == BudgetSnapshot(
        1000, 500, clock[0] + 3000.0, clock[0], clock[0] + MAX_SERVER_WAIT
    )
    clock[0] += MAX_SERVER_WAIT
    assert budget.delay() == 0.0


@pytest.mark.parametrize(
    "saved",
    [
        BudgetSnapshot(1000, 0, 1e300, 0.0, None),
        BudgetSnapshot(1000, 0, math.inf, 0.0, math.nan),
        BudgetSnapshot(10**15, -5, math.nan, math.nan, math.inf),
    ],
)
def test_a_saved_budget_with_absurd_figures_heals_when_read_back(saved: BudgetSnapshot) -> None:
    clock = [1_800_000_000.0]
    budget = RateBudget(clock=lambda: clock[0])
    assert budget.restore(saved)
    assert 0.0 <= budget.delay() <= MAX_SERVER_WAIT
    snapshot = budget.snapshot()
    assert snapshot is not None
    assert snapshot.limit <= MAX_RATE_FIGURE
    assert snapshot.reset_at <= clock[0] + MAX_SERVER_WAIT
    assert all(math.isfinite(v) for v in (snapshot.reset_at, snapshot.observed_at))


def test_a_sound_saved_budget_is_restored_as_it_was() -> None:
    clock = [1_800_000_000.0]
    saved = BudgetSnapshot(1000, 3, clock[0] + 70.0, clock[0] - 10.0, clock[0] + 5.0)
    budget = RateBudget(clock=lambda: clock[0])
    assert not budget.restore(saved)
    assert budget.snapshot() == saved


def test_requests_may_overlap_only_when_the_window_holds_them_all() -> None:
    clock = [0.0]
    budget = RateBudget(reserve=0.1, clock=lambda: clock[0])
    assert budget.has_room_for(5000)  # no limit known: nothing to pace
    budget.observe(1000, 900, 3600.0)
    assert budget.has_room_for(800)  # 900 left, 100 of them the reserve
    assert not budget.has_room_for(801)
    budget.block(30.0)
    assert not budget.has_room_for(1)
