"""When a quota pause looks at the usage again, and when a failed story is retried."""

from __future__ import annotations

from itertools import pairwise

from syncd.index.store import PushState
from syncd.push.queue import FIRST_USAGE_CHECK, RESET_GRACE, PushPolicy, next_usage_check
from syncd.push.retry import RetryPolicy, asks_for_smaller

PAUSED_AT = 1_800_000_000.0
HOUR = 3600.0
POLICY = PushPolicy(usage_check_max=HOUR)


def checks(state: PushState, until: float, policy: PushPolicy = POLICY) -> list[float]:
    """The moments the usage is looked at, each check finding no minutes, as offsets."""
    moments, now = [], state.paused_at or PAUSED_AT
    while True:
        now = next_usage_check(state, now, policy)
        if now > until:
            return moments
        moments.append(now - PAUSED_AT)


def test_the_first_look_is_within_minutes_then_the_waits_double_up_to_the_ceiling() -> None:
    state = PushState(paused_reason="used up", paused_at=PAUSED_AT)
    seen = checks(state, PAUSED_AT + 6 * HOUR)
    assert seen[0] == FIRST_USAGE_CHECK == 120.0
    assert seen[:6] == [120.0, 240.0, 480.0, 960.0, 1920.0, 3840.0]
    gaps = [later - earlier for earlier, later in pairwise(seen)]
    assert max(gaps) == HOUR  # never longer than quota_check_max_seconds


def test_the_period_end_is_looked_at_even_in_the_middle_of_a_long_wait() -> None:
    resets_at = PAUSED_AT + 2 * HOUR + 17
    state = PushState(paused_reason="used up", paused_at=PAUSED_AT, resets_at=resets_at)
    seen = checks(state, PAUSED_AT + 3 * HOUR)
    assert resets_at + RESET_GRACE - PAUSED_AT in seen
    after = [moment for moment in seen if moment > resets_at - PAUSED_AT]
    # Still used up after the reset (clocks differ): back to looking within minutes.
    assert after[1] - after[0] == FIRST_USAGE_CHECK


def test_a_pause_of_unknown_age_looks_again_within_minutes() -> None:
    now = PAUSED_AT + 10 * HOUR
    assert next_usage_check(PushState(paused_reason="used up"), now, POLICY) == now + 120.0


def test_failed_stories_are_retried_a_few_times_with_doubling_waits() -> None:
    policy = RetryPolicy(retries=2, first_delay=300.0)
    assert policy.next_retry(1, 0.0) == 300.0
    assert policy.next_retry(2, 0.0) == 600.0
    assert policy.next_retry(3, 0.0) is None
    assert RetryPolicy(retries=0).next_retry(1, 0.0) is None


def test_only_a_failure_that_asks_for_it_gets_a_smaller_brief() -> None:
    assert asks_for_smaller("Story generation failed. Retry with a smaller brief.")
    assert asks_for_smaller("The brief is too large to narrate")
    assert not asks_for_smaller("Renderer crashed.")
    assert not asks_for_smaller(None)
