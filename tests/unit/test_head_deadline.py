"""The status line and headers of an answer arrive within the timeout in full, however
the server drips them (httpx alone times each read apart)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.errors import CloudUnavailableError

BODY = b'{"success": true, "data": {"projects": [], "total": 0}}'
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: "
    + b"x" * 200
    + b"\r\nContent-Length: %d\r\n\r\n" % len(BODY)
)


def serve_once(drip: float) -> Iterator[str]:
    """One connection: the head a byte every `drip` seconds (0: at once), then the body."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                for byte in HEAD:
                    if stop.is_set():
                        return
                    connection.sendall(bytes([byte]))
                    if drip:
                        stop.wait(drip)
                connection.sendall(BODY)
            except OSError:
                return  # the client gave up: what the test expects of a drip

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


@pytest.fixture
def dripping() -> Iterator[str]:
    yield from serve_once(drip=0.01)


@pytest.fixture
def honest() -> Iterator[str]:
    yield from serve_once(drip=0)


def test_a_dripped_head_ends_by_the_timeout(dripping: str) -> None:
    client = CloudClient(dripping, "key", timeout=0.3, retry=RetryPolicy(attempts=1))
    started = time.monotonic()
    with client, pytest.raises(CloudUnavailableError, match="took longer than the timeout in all"):
        client.list_projects()
    # Every byte came well within the 0.3 s a read may take; the head as a whole did not.
    assert time.monotonic() - started < 1.5


def test_a_head_that_comes_at_once_is_read_as_before(honest: str) -> None:
    with CloudClient(honest, "key", timeout=0.3, retry=RetryPolicy(attempts=1)) as client:
        assert client.list_projects().projects == []
