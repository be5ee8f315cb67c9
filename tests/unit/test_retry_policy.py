"""Backoff between retries: exponential, jittered, capped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.client import RetryPolicy, _retry_after_seconds


def test_backoff_doubles_per_attempt() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert [policy.backoff(attempt, 1.0) for attempt in range(4)] == [0.5, 1.0, 2.0, 4.0]


def test_backoff_never_exceeds_the_ceiling() -> None:
    assert RetryPolicy(base_delay=0.5, max_delay=30.0).backoff(20, 1.0) == 30.0


@given(st.integers(min_value=0, max_value=60), st.floats(min_value=0.0, max_value=0.999))
def test_jitter_spreads_the_wait_below_the_cap(attempt: int, jitter: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    wait = policy.backoff(attempt, jitter)
    assert 0.0 <= wait <= min(30.0, 0.5 * 2**attempt)
    assert wait == min(30.0, 0.5 * 2**attempt) * jitter


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after_seconds("42", now=0.0) == 42.0
    assert _retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0


def test_unreadable_retry_after_means_a_cautious_minute() -> None:
    assert _retry_after_seconds("soon", now=0.0) == 60.0
    assert _retry_after_seconds(None, now=0.0) == 60.0
