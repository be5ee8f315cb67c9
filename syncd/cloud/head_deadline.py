"""A deadline for the head of an answer (status line and headers).

httpx times each read on its own, so a server dripping its headers a byte at a time would
hold a run for as long as it liked; bodies are paced in transfer.py, and this bounds what
comes before them. The socket reads go through a wrapper that, while `head_deadline` is
active in the calling thread, never waits past the deadline: it starts at the first wait
for the answer and lasts `seconds`, what a per-read timeout promises an honest server.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

TOO_SLOW = "the status line and headers took longer than the timeout in all"


@dataclass
class _Deadline:
    seconds: float
    clock: Callable[[], float]
    due: float | None = None  # set by the first read

    def left(self) -> float:
        now = self.clock()
        if self.due is None:
            self.due = now + self.seconds
        return self.due - now


_active: ContextVar[_Deadline | None] = ContextVar("syncd_head_deadline", default=None)


@contextmanager
def head_deadline(seconds: float, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Reads in this block (sending a request and reading its head) end by the deadline."""
    token = _active.set(_Deadline(seconds, clock))
    try:
        yield
    finally:
        _active.reset(token)


def install(client: httpx.Client) -> bool:
    """Route the client's connections through the deadline; False when its transports are
    not httpx's own (a test transport), which then go unbounded as before."""
    installed = False
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and pool is not None:
            pool._network_backend = _Backend(backend)
            installed = True
    return installed


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = _active.get()
        if deadline is None:
            return self._inner.read(max_bytes, timeout)
        left = deadline.left()
        if left <= 0:
            raise httpcore.ReadTimeout(TOO_SLOW)
        try:
            return self._inner.read(max_bytes, left if timeout is None else min(timeout, left))
        except httpcore.ReadTimeout:
            if deadline.left() <= 0:
                raise httpcore.ReadTimeout(TOO_SLOW) from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
