"""Backoff between retries, and what a server's Retry-After and X-RateLimit-* may do to it."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.budget import MAX_RATE_FIGURE, MAX_SERVER_WAIT, RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.cloud.headers import MAX_EPOCH, count, rate_figures, retry_after
from syncd.errors import RateLimitedError

NOW = 1_800_000_000.0
PROJECTS = {"success": True, "data": {"projects": []}}


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
    assert retry_after("42", now=0.0) == 42.0
    assert retry_after(" 42 ", now=0.0) == 42.0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 -0000", now=40.0) == 60.0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=400.0) == 0.0


def test_retry_after_is_read_as_said_and_capped_by_the_caller() -> None:
    assert retry_after("9999999999", now=NOW) == 9_999_999_999.0
    assert retry_after("Thu, 01 Jan 2099 00:00:00 GMT", now=NOW) == 4_070_908_800.0 - NOW


@pytest.mark.parametrize(
    "value",
    [
        "\u00b2",  # superscript two: str.isdigit() says yes, float() says no
        "\u0661\u0662",  # Arabic-Indic digits: int() would take them
        "\uff11\uff12",  # fullwidth digits
        "+5",
        "-1",
        "1.5",
        "1_000",
        "1e3",
        "9" * 400,
        "soon",
        "",
        "Fri, 31 Dec 99999 00:00:00 GMT",
        "Thu, 01 Jan 2099 99:99:99 GMT",
        "Thu, 01 Jan 2099 00:00:00 +9999",
    ],
)
def test_a_retry_after_that_does_not_read_is_none(value: str) -> None:
    assert retry_after(value, now=NOW) is None


def test_counts_are_ascii_digits_within_their_maximum() -> None:
    assert count("1000", MAX_RATE_FIGURE) == 1000
    assert count("\t0 ", MAX_RATE_FIGURE) == 0
    assert count(str(MAX_RATE_FIGURE), MAX_RATE_FIGURE) == MAX_RATE_FIGURE
    for bad in (
        str(MAX_RATE_FIGURE + 1),
        "1" + "0" * 300,
        "\u00b2",
        "\u0661",
        "+1",
        "-1",
        "1 000",
        "",
    ):
        assert count(bad, MAX_RATE_FIGURE) is None, bad
    assert count(None, MAX_RATE_FIGURE) is None


def test_rate_figures_read_only_when_all_three_do() -> None:
    good = {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "7", "x-ratelimit-reset": "99"}
    figures, unreadable = rate_figures(good)
    assert figures is not None
    assert (figures.limit, figures.remaining, figures.reset_at, unreadable) == (1000, 7, 99.0, [])
    huge = dict(good, **{"x-ratelimit-limit": "1" + "0" * 300})
    assert rate_figures(huge) == (None, ["x-ratelimit-limit"])
    far = dict(good, **{"x-ratelimit-reset": str(MAX_EPOCH + 1)})
    assert rate_figures(far) == (None, ["x-ratelimit-reset"])
    assert rate_figures({"x-ratelimit-limit": "10"}) == (None, [])


# --- what the client does with them (a transport in memory, a clock that only sleeps move) --


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def client_for(
    answers: Callable[[httpx.Request], httpx.Response], clock: Clock, **policy: float
) -> CloudClient:
    return CloudClient(
        "http://cloud.test",
        "k",
        retry=RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, **policy),  # type: ignore[arg-type]
        sleep=clock.sleep,
        transport=httpx.MockTransport(answers),
        budget=RateBudget(interactive=True, clock=clock),
        max_budget_wait=MAX_SERVER_WAIT,
    )


def refusing(
    retry_after_value: str, then_ok: bool = False
) -> Callable[[httpx.Request], httpx.Response]:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if then_ok and len(calls) > 1:
            return httpx.Response(200, json=PROJECTS)
        # As the wire carries it: UTF-8 bytes, which httpx decodes for us.
        headers = {"Retry-After": retry_after_value.encode()}
        return httpx.Response(429, headers=headers, json={})

    return answer


@pytest.mark.parametrize("value", ["9999999999", "Thu, 01 Jan 2099 00:00:00 GMT"])
def test_a_retry_after_of_centuries_blocks_for_the_cap_at_most(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with client_for(refusing(value), clock) as client, pytest.raises(RateLimitedError) as caught:
        client.list_projects()
    assert caught.value.retry_after == MAX_SERVER_WAIT
    assert client.budget.delay() == MAX_SERVER_WAIT
    assert "longer than the API's hourly window" in caplog.text


def test_an_unreadable_retry_after_waits_the_cautious_minute_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    with client_for(refusing("\u00b2", then_ok=True), clock) as client:
        assert client.list_projects().projects == []
    assert clock.waits == [60.0]
    assert caplog.text.count("Retry-After") == 1


def test_rate_limit_figures_that_do_not_read_are_ignored_with_one_warning_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = "1" + "0" * 300
    headers = {"X-RateLimit-Limit": huge, "X-RateLimit-Remaining": huge, "X-RateLimit-Reset": huge}
    clock = Clock()
    answer = lambda request: httpx.Response(200, headers=headers, json=PROJECTS)  # noqa: E731
    with caplog.at_level(logging.WARNING), client_for(answer, clock) as client:
        for _ in range(5):
            assert client.list_projects().projects == []
    assert not client.budget.known
    assert clock.waits == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert huge not in caplog.text  # quoted shortened, never whole


def test_a_reset_beyond_the_cap_is_clamped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    far = str(int(NOW) + 10**9)
    headers = {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "500",
        "X-RateLimit-Reset": far,
    }
    clock = Clock()
    answer = lambda request: httpx.Response(200, headers=headers, json=PROJECTS)  # noqa: E731
    with client_for(answer, clock) as client:
        for _ in range(3):
            client.list_projects()
    assert client.budget.reset_at == NOW + MAX_SERVER_WAIT
    assert caplog.text.count("X-RateLimit-Reset") == 1


def test_requests_carry_a_versioned_user_agent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PROJECTS)

    with client_for(answer, Clock()) as client:
        client.list_projects()
    assert seen[0].headers["user-agent"] == f"syncd/{importlib.metadata.version('syncd')}"
