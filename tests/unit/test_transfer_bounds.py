"""How much, how deep and how slowly a response body may come: bounded before it is used."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.cloud.transfer import MAX_JSON_DEPTH, Pace, parse_json
from syncd.errors import (
    BadResponseError,
    BodySizeError,
    BodyTooLargeError,
    TransferInterruptedError,
    TransferTooSlowError,
)

URL = "http://cloud.test/api/v1/x"


class Clock:
    """Monotonic seconds that move only when told: a drip costs no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_body_may_start_within_the_grace_and_then_keep_the_minimum_rate() -> None:
    clock = Clock()
    pace = Pace(URL, min_rate=1000.0, grace=30.0, clock=clock)
    clock.now = 29.0
    pace.arrived(1)  # slow to start is fine
    clock.now = 40.0
    pace.arrived(10_000)  # 10,001 bytes are due by 30 + 10.001 s
    clock.now = 41.0
    with pytest.raises(TransferTooSlowError, match=r"10001 bytes in 41\.0 s"):
        pace.arrived(0)


def test_a_drip_is_ended_by_the_pace_not_by_the_server() -> None:
    clock = Clock()
    pace = Pace(URL, min_rate=1024.0, grace=30.0, clock=clock)

    def drip() -> None:
        for _ in range(1_000_000):
            clock.now += 2.0  # one byte every 2 s: each read is well within a timeout
            pace.arrived(1)

    with pytest.raises(TransferTooSlowError):
        drip()
    assert clock.now <= 32.0


def nested(depth: int) -> bytes:
    return b'{"success": true, "data": {"projects": ' + b"[" * depth + b"]" * depth + b"}}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 100_000])
def test_json_nested_too_deep_is_a_bad_response(depth: int) -> None:
    with pytest.raises(BadResponseError, match="nested more than"):
        parse_json(nested(depth), URL)


def test_json_as_deep_as_the_api_nests_is_read() -> None:
    assert parse_json(nested(4), URL) == {"success": True, "data": {"projects": [[[[]]]]}}


# --- through the client, over a transport in memory ---------------------------------------


def client_for(
    answer: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None, **limits: int
) -> CloudClient:
    return CloudClient(
        "http://cloud.test",
        "k",
        retry=RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0),
        sleep=lambda seconds: None,
        transport=httpx.MockTransport(answer),
        budget=RateBudget(interactive=True),
        clock=clock or Clock(),
        **limits,  # type: ignore[arg-type]
    )


def read_body(client: CloudClient, listed_size: int | None = None) -> bytes:
    with client.session_body("p", "s", listed_size=listed_size) as body:
        assert body is not None
        return b"".join(body.chunks())


def endless() -> Iterator[bytes]:
    while True:
        yield b"x" * 65536


def test_a_body_of_no_declared_size_stops_at_max_body_bytes() -> None:
    answer = lambda request: httpx.Response(200, content=endless())  # noqa: E731
    with (
        client_for(answer, max_body_bytes=1_000_000) as client,
        pytest.raises(BodyTooLargeError, match="max_body_bytes"),
    ):
        read_body(client)


def test_a_body_announced_larger_than_max_body_bytes_is_not_downloaded() -> None:
    headers = {"Content-Length": "2000"}
    answer = lambda request: httpx.Response(200, headers=headers, content=iter([]))  # noqa: E731
    with (
        client_for(answer, max_body_bytes=1000) as client,
        pytest.raises(BodyTooLargeError, match="announced as 2000 bytes"),
    ):
        read_body(client)


def test_a_body_longer_than_its_content_length_fails() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "3"}, content=iter([b"abcdef"]))

    with client_for(answer) as client, pytest.raises(BodySizeError, match="oversized"):
        read_body(client)


@pytest.mark.parametrize("declared", [True, False])
def test_a_listed_size_the_body_does_not_have_is_only_a_warning(
    declared: bool, caplog: pytest.LogCaptureFixture
) -> None:
    content = b"# a session\n" * 10

    def answer(request: httpx.Request) -> httpx.Response:
        # Streamed either way; Content-Length announced or not.
        headers = {"Content-Length": str(len(content))} if declared else {}
        return httpx.Response(200, headers=headers, content=iter([content]))

    with client_for(answer) as client:
        assert read_body(client, listed_size=len(content) - 7) == content
    assert caplog.text.count("markdownSize") == 1


def test_a_dripping_body_ends_in_a_transfer_error_without_real_waiting() -> None:
    clock = Clock()

    def drip() -> Iterator[bytes]:
        for _ in range(100_000):
            clock.now += 2.0
            yield b"x"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "100000"}, content=drip())

    with client_for(answer, clock) as client, pytest.raises(TransferInterruptedError):
        read_body(client)
    assert clock.now <= 40.0  # the 30 s grace, and the little that arrived in it


def test_a_dripping_listing_ends_in_a_transfer_error_and_is_not_asked_again() -> None:
    clock = Clock()
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)

        def drip() -> Iterator[bytes]:
            for byte in json.dumps({"success": True, "data": {"projects": []}}).encode():
                clock.now += 5.0
                yield bytes([byte])

        return httpx.Response(200, content=drip())

    with client_for(answer, clock) as client, pytest.raises(TransferTooSlowError):
        client.list_projects()
    assert len(calls) == 1


def test_a_list_answer_larger_than_the_cap_is_a_bad_response() -> None:
    answer = lambda request: httpx.Response(200, content=endless())  # noqa: E731
    with (
        client_for(answer, max_json_bytes=1_000_000) as client,
        pytest.raises(BadResponseError, match="longer than 1000000 bytes"),
    ):
        client.list_projects()
