"""Download the bodies of a plan's next new sessions while the executor writes the current one.

The executor stays serial: it takes each body in plan order and writes, fsyncs and indexes
it exactly as before. Only the network part runs ahead, on a few threads and at most
`AHEAD` sessions in front, so a cycle waits on the server and on the disk at the same time
instead of one after the other. Every request still goes through the client's one budget
gate, which counts it. A body waits in memory up to `IN_MEMORY_BYTES`, beyond that in an
unnamed temp file in the state folder (it vanishes with the process): memory stays bounded
whatever the sessions weigh.

Only sessions new to the index are fetched ahead: their request needs nothing from the
mirror (no file to inspect, no If-None-Match). A body fetched ahead that the executor does
not take (a halt, a stop) is dropped; its request was counted like any other.
"""

from __future__ import annotations

import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from syncd.cloud.client import CloudClient
from syncd.cloud.models import Project
from syncd.sync.plan import Fetch

WORKERS = 3  # connections at once: enough to hide a round trip, few enough to be polite
AHEAD = 6  # bodies in flight or waiting to be written, at most
IN_MEMORY_BYTES = 1 << 20  # the median session is a few KB; the largest spill to disk
CHUNK_BYTES = 1 << 20
# How often a wait for a body beats the heartbeat (a long download is progress).
BEAT_SECONDS = 1.0


class ArrivedBody(Protocol):
    """What writing a body needs of it, streamed (SessionBody) or fetched ahead."""

    @property
    def session_id(self) -> str: ...

    @property
    def etag(self) -> str | None: ...

    @property
    def received(self) -> int: ...

    @property
    def short_of_listing(self) -> bool: ...

    def chunks(self) -> Iterator[bytes]: ...


@dataclass
class FetchedBody:
    """A whole body already received (its sizes checked as it arrived)."""

    session_id: str
    etag: str | None
    received: int
    short_of_listing: bool
    _spool: IO[bytes]

    def chunks(self) -> Iterator[bytes]:
        self._spool.seek(0)
        while chunk := self._spool.read(CHUNK_BYTES):
            yield chunk

    def close(self) -> None:
        self._spool.close()


@dataclass(frozen=True)
class Arrived:
    """A fetch done ahead: its body, or None when the server answered 304."""

    body: FetchedBody | None


class _Dropped(Exception):
    """The prefetcher closed while this body was on its way."""


class Prefetcher:
    """Fetches the bodies of `fetches` (new sessions, in plan order) a few steps ahead."""

    def __init__(
        self,
        client: CloudClient,
        fetches: Iterable[tuple[Project, Fetch]],
        spool_dir: Path | None,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        self._client = client
        self._waiting = deque(f for f in fetches if eligible(f[1]))
        self._spool_dir = str(spool_dir) if spool_dir is not None and spool_dir.is_dir() else None
        self._heartbeat = heartbeat
        self._pending: dict[str, Future[Arrived]] = {}
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="syncd-fetch")
        self._fill()

    def take(self, session_id: str) -> Arrived | None:
        """The body fetched ahead for this session (raising what its fetch raised); None
        when it was not fetched ahead, or was taken already (a retry fetches it itself)."""
        future = self._pending.pop(session_id, None)
        if future is None:
            return None
        self._fill()
        while True:
            try:
                return future.result(timeout=BEAT_SECONDS)
            except FutureTimeout:
                self._heartbeat()

    def close(self) -> None:
        """Stop fetching ahead; bodies not taken are dropped."""
        self._closed.set()
        self._waiting.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for future in self._pending.values():
            future.add_done_callback(_drop)
        self._pending.clear()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fill(self) -> None:
        while self._waiting and len(self._pending) < AHEAD and not self._closed.is_set():
            project, fetch = self._waiting.popleft()
            future = self._pool.submit(self._fetch, project, fetch)
            self._pending[fetch.session.id] = future

    def _fetch(self, project: Project, fetch: Fetch) -> Arrived:
        if self._closed.is_set():
            raise _Dropped
        session = fetch.session
        with self._client.session_body(
            project.id, session.id, listed_etag=session.etag, listed_size=session.markdown_size
        ) as body:
            if body is None:
                return Arrived(None)
            # Closed by whoever takes the body (or drops it): it outlives this block.
            spool = tempfile.SpooledTemporaryFile(IN_MEMORY_BYTES, dir=self._spool_dir)  # noqa: SIM115
            try:
                for chunk in body.chunks():
                    if self._closed.is_set():
                        raise _Dropped
                    spool.write(chunk)
            except BaseException:
                spool.close()
                raise
            fetched = FetchedBody(
                session.id, body.etag, body.received, body.short_of_listing, spool
            )
        return Arrived(fetched)


def eligible(fetch: Fetch) -> bool:
    """Whether a fetch can go ahead of its step: a session the index does not hold yet."""
    return fetch.previous is None and fetch.if_none_match is None


def _drop(future: Future[Arrived]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    body = future.result().body
    if body is not None:
        body.close()
