"""The daemon's SpecStory Cloud client: one per process, reused by every cycle, rebuilt on
a reload. Runs `Daemon` in-process (a thread) so the client factory can be counted."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.config import ScheduleSettings, Settings
from syncd.daemon.connection import daemon_client
from syncd.daemon.notify import Notifier
from syncd.daemon.service import Daemon
from syncd.devserver import DevServer

DEADLINE = 20.0


class ReadyCount(Notifier):
    """Counts READY=1 (start-up, and the end of every reload) instead of sending it."""

    def __init__(self) -> None:
        super().__init__({})
        self.readies = 0

    def ready(self, status: str | None = None) -> None:
        self.readies += 1


def until(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < end, f"no {what} within {DEADLINE} s"
        time.sleep(0.02)


@contextmanager
def daemon_thread(daemon: Daemon) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    try:
        yield thread
    finally:
        daemon.request_stop()
        thread.join(DEADLINE)


def test_one_client_serves_every_cycle_and_a_reload_builds_the_next(tmp_path: Path) -> None:
    built: list[CloudClient] = []

    def counted(
        settings: Settings, api_key: str, *, budget: RateBudget, sleep: Callable[[float], None]
    ) -> CloudClient:
        built.append(daemon_client(settings, api_key, budget=budget, sleep=sleep))
        return built[-1]

    root = tmp_path / "mirror"
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        server.add_project("App", project_id="proj_app")
        server.put_session("proj_app", session_id="00000001-s", name="one", markdown="# 1\n")
        settings = Settings(
            root=root,
            base_url=server.url,
            api_key="k",
            schedule=ScheduleSettings(sync_seconds=3600, jitter_seconds=0),
        )
        notifier = ReadyCount()
        daemon = Daemon(
            lambda: settings, notifier=notifier, install_signals=False, client_factory=counted
        )

        def runs() -> list[int]:
            """Requests of every finished run, oldest first (read beside the daemon, which
            owns the index: plain SQLite, no migrations)."""
            database = root / ".syncd" / "index.db"
            query = "SELECT requests FROM sync_runs WHERE ended_at IS NOT NULL ORDER BY id"
            with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                return [int(requests) for (requests,) in db.execute(query)]

        # Jobs the scheduler has seen to the end: its run record is written a little
        # before, and a job started again before then would be skipped as still running.
        finished: list[str] = []

        def cycle_now() -> None:
            before, done = len(runs()), finished.count("incremental")
            assert daemon._scheduler is not None
            daemon._scheduler.modify_job("incremental", next_run_time=datetime.now(UTC))
            until(lambda: finished.count("incremental") == done + 1, "incremental cycle")
            assert len(runs()) == before + 1

        with daemon_thread(daemon) as thread:
            until(lambda: notifier.readies == 1, "readiness")  # the index is migrated
            assert daemon._scheduler is not None
            daemon._scheduler.add_listener(
                lambda event: finished.append(event.job_id), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
            )
            until(lambda: len(runs()) == 1, "the start-up reconciliation")
            cycle_now()
            cycle_now()
            assert len(built) == 1
            # Each run records its own requests (the fast path: one), not the client's total.
            assert runs()[1:] == [1, 1]

            daemon.request_reload()
            until(lambda: notifier.readies == 2, "reload")
            assert len(built) == 1, "a reload builds the client when a cycle needs it"
            cycle_now()
            assert len(built) == 2
            assert built[0]._http.is_closed
            cycle_now()
            assert len(built) == 2
        assert not thread.is_alive()
        assert built[1]._http.is_closed, "the daemon closes its client when it stops"
