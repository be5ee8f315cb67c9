"""DevServer: a local SpecStory Cloud on 127.0.0.1 that tests and demos drive directly."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from syncd.devserver import seed as seeding
from syncd.devserver import synthetic
from syncd.devserver.body import BytesBody
from syncd.devserver.faults import Fault, FaultBook
from syncd.devserver.http import DevHTTPServer, ServerContext
from syncd.devserver.listing_shape import ListingShape, ShapeBox
from syncd.devserver.loopback import BackgroundServing, LoopbackService
from syncd.devserver.ratelimit import RateWindow
from syncd.devserver.requestlog import RequestLog, RequestRecord
from syncd.devserver.routes import Api
from syncd.devserver.state import Store
from syncd.devserver.timestamps import parse_iso, to_millis

logger = logging.getLogger(__name__)


class DevServer(LoopbackService):
    """The SpecStory Cloud API (REST and GraphQL `searchSessions`) over real HTTP, with knobs
    for tests.

    Data methods work before and after start(). `clock` drives the rate windows and default
    timestamps, so tests move time instead of sleeping. REST and GraphQL spend separate
    budgets (`rate_limit`, `graphql_rate_limit`; None is unlimited) over the same window.
    """

    def __init__(
        self,
        api_key: str = "dev-key",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = 1000,
        graphql_rate_limit: int | None = 500,
        window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
        recent_includes_etag: bool = False,
    ) -> None:
        self._api_key = api_key
        self._address = (host, port)
        self._clock = clock
        self._store = Store()
        self._faults = FaultBook()
        self._log = RequestLog()
        self._shapes = ShapeBox()
        self._context = ServerContext(
            api_key=api_key,
            api=Api(self._store, clock, recent_includes_etag, self._shapes),
            rate=RateWindow(rate_limit, window_seconds, clock),
            graphql_rate=RateWindow(graphql_rate_limit, window_seconds, clock),
            faults=self._faults,
            log=self._log,
        )
        self._serving = BackgroundServing(
            lambda: DevHTTPServer(self._address, self._context), "devserver"
        )

    # Lifecycle

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without /api/v1."""
        host, port = self._serving.address
        return f"http://{host}:{port}"

    @property
    def api_key(self) -> str:
        return self._api_key

    # Data

    def add_project(self, name: str, project_id: str | None = None) -> str:
        """Create a project (or rename an existing id); returns its id (default proj_<12 hex>)."""
        project_id = project_id or f"proj_{uuid.uuid4().hex[:12]}"
        self._store.add_project(project_id, name, self._now())
        return project_id

    def rename_project(self, project_id: str, name: str) -> None:
        self._store.update_project(project_id, {"name": name}, self._now())

    def put_session(
        self,
        project_id: str,
        *,
        name: str,
        markdown: str | bytes,
        session_id: str | None = None,
        created_at: str | None = None,
        started_at: str | None = None,
        ended_at: str | None = None,
        metadata: dict[str, object] | None = None,
    ) -> str:
        """Create or replace a session; returns its id (default: a new UUID4).

        On replace, arguments left None keep their stored values. updatedAt (from the clock)
        and the ETag change only when something actually changed. Raises LookupError for an
        unknown project, ValueError for a timestamp that is not ISO 8601.
        """
        data = markdown.encode("utf-8") if isinstance(markdown, str) else bytes(markdown)
        session = self._store.put_session(
            project_id,
            session_id or str(uuid.uuid4()),
            name=name,
            body=BytesBody(data),
            now_ms=self._now(),
            created_ms=_millis_or_none(created_at),
            started_ms=_millis_or_none(started_at),
            ended_ms=_millis_or_none(ended_at),
            metadata=metadata,
        )
        return session.id

    def rename_session(self, project_id: str, session_id: str, name: str) -> None:
        self._store.rename_session(project_id, session_id, name, self._now())

    def delete_session(self, project_id: str, session_id: str) -> None:
        self._store.delete_session(project_id, session_id)

    def add_large_session(
        self, project_id: str, size_bytes: int, name: str = "huge session"
    ) -> str:
        """A session of exactly `size_bytes` (e.g. 200 MB), streamed from a repeated block."""
        session_id = str(uuid.uuid4())
        self._store.put_session(
            project_id,
            session_id,
            name=name,
            body=synthetic.large_body(size_bytes),
            now_ms=self._now(),
        )
        return session_id

    # Seeding

    def seed_from_folder(self, path: Path) -> int:
        """One project per sub-folder (folder name = project name), one session per *.md.

        Ids derive from relative paths, so seeding again replaces rather than duplicates.
        Returns the number of sessions seeded.
        """
        return seeding.seed_folder(self._store, path, self._now())

    def seed_corpus_flat(self, path: Path, projects: int = 4) -> int:
        """Every *.md of a flat folder (FORMAT.md skipped) dealt over `projects` projects."""
        return seeding.seed_flat(self._store, path, projects, self._now())

    def seed_synthetic(
        self, sessions: int, projects: int, seed: int = 0, sizes: list[int] | None = None
    ) -> None:
        """Deterministic synthetic sessions; sizes from `sizes` (jittered) or corpus-shaped."""
        seeding.seed_synthetic(self._store, sessions, projects, seed, sizes, self._now())

    # Observation and faults

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests answered so far (401s and 429s included; the last 100,000), oldest first.

        A copy: later requests do not change it. Each is recorded before its response is
        written, so a client that has its answer will find the record.
        """
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    def wait_for_requests(
        self, predicate: Callable[[list[RequestRecord]], bool], timeout: float = 10.0
    ) -> bool:
        """Wait (on a condition, not by polling) until the request log satisfies `predicate`."""
        return self._log.wait_for(predicate, timeout)

    def inject(self, fault: Fault) -> None:
        """Make matching requests fail; faults are tried in the order injected."""
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def listing_shape(self) -> ListingShape:
        return self._shapes.get()

    def shape_listings(self, shape: ListingShape) -> None:
        """Answer the listings in this shape from the next request on (pages, a short answer,
        repeated ids, recent as a bare array); `ListingShape()` is the documented one."""
        self._shapes.set(shape)

    def _now(self) -> int:
        return to_millis(self._clock())


def _millis_or_none(value: str | None) -> int | None:
    return None if value is None else parse_iso(value)


def serve(server: DevServer) -> None:
    """Run `server` (starting it if needed) until KeyboardInterrupt or SIGTERM, then stop it."""
    stopping = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = None
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    if not server.running:
        server.start()
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        logger.info("devserver: interrupted, stopping")
    finally:
        server.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
