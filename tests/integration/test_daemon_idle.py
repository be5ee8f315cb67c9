"""The daemon at rest: a cycle that finds nothing new pays for little more than its request.

Reading every session's row (the incremental check, the push rules) and validating the
same recent page again were most of an idle cycle; these tests hold that they stay out of
it, and that a change still brings them back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

import syncd.cloud.client as cloud_client
from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.config import PullStorySettings, Settings
from syncd.daemon.pushing import PushWorker, may_change_selection
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport
from tests.integration.conftest import NO_WAIT, Harness
from tests.integration.test_incremental_and_deletions import seed_project
from tests.integration.test_push import TOKEN, ThreadNotingStore, World, world

__all__ = ["world"]  # the fixture, shared with the push tests


def daemon_client(harness: Harness) -> CloudClient:
    return CloudClient(
        harness.server.url,
        harness.server.api_key,
        retry=NO_WAIT,
        sleep=harness.sleep,
        budget=RateBudget(interactive=False),
    )


def whole_index_reads(store: ThreadNotingStore, calls_before: int = 0) -> int:
    return sum(1 for name, _ in store.calls[calls_before:] if name == "sessions")


class SessionsReads:
    """The index, noting the arguments of each `sessions()` read."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def sessions(self, *args: object, ids: object = None) -> object:
        self.reads.append("whole" if ids is None and not args else "some")
        return self._store.sessions(*args, ids=ids)  # type: ignore[arg-type]


def test_an_idle_incremental_cycle_reads_only_the_rows_on_the_recent_page(
    harness: Harness,
) -> None:
    ids = seed_project(harness.server, 20)
    harness.sync()
    with daemon_client(harness) as client, Store.open(harness.database_url) as real:
        store = SessionsReads(real)
        engine = SyncEngine(client, store, Mirror(harness.root))  # type: ignore[arg-type]
        idle = engine.run_incremental()
        idle_reads = list(store.reads)
        harness.server.put_session("proj_big", session_id=ids[4], name="renamed", markdown="# 2\n")
        store.reads.clear()
        busy = engine.run_incremental()
    assert (idle.new, idle.updated, idle.unchanged, idle.failed) == (0, 0, 20, 0)
    assert idle_reads == ["some"]
    assert (busy.updated, busy.unchanged) == (1, 19)
    assert "whole" in store.reads  # a change is planned against the whole index, as before


def test_the_same_recent_page_is_validated_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_project(harness.server, 5)
    parsed: list[int] = []
    parse_items = cloud_client.parse_items

    def counting(*args: object, **kwargs: object) -> object:
        parsed.append(1)
        return parse_items(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cloud_client, "parse_items", counting)
    with daemon_client(harness) as client:
        first, _ = client.recent_sessions()
        again, _ = client.recent_sessions()
        assert len(parsed) == 1
        assert again == first
        assert again is not first  # a list of its own for each caller
        harness.server.put_session("proj_big", session_id=ids[0], name="new name", markdown="#\n")
        changed, _ = client.recent_sessions()
    assert len(parsed) == 2
    assert {s.name for s in changed if s.id == ids[0]} == {"new name"}


@contextmanager
def rules_worker(world: World, names: list[str]) -> Iterator[tuple[PushWorker, ThreadNotingStore]]:
    """A push worker whose rules select by name; its scheduler never starts (no job runs)."""
    settings = Settings(
        root=world.harness.root,
        pullstory=PullStorySettings(
            base_url=world.stories.url, api_key=TOKEN, interval_seconds=3600, names=names
        ),
    )
    with world.store() as real:
        store = ThreadNotingStore(real)
        mirror = Mirror(world.harness.root)
        worker = PushWorker(lambda: settings, store, mirror, threading.Event(), lambda: "k")  # type: ignore[arg-type]
        worker.start(BackgroundScheduler(timezone=UTC))
        try:
            yield worker, store
        finally:
            worker.stop()
            worker.close()


def test_the_push_rules_look_through_the_index_only_after_it_changed(world: World) -> None:
    with rules_worker(world, ["Fix the parser"]) as (worker, store):
        worker.enqueue_by_rules()  # the first cycle: the rules have never looked
        first = whole_index_reads(store)
        worker.enqueue_by_rules()  # an idle cycle
        worker.enqueue_by_rules()
        idle = whole_index_reads(store)
        worker.index_changed()  # a cycle wrote something
        worker.enqueue_by_rules()
        after_change = whole_index_reads(store)
    with world.store() as index:
        stories = index.stories()
    assert (first, idle, after_change) == (1, 1, 2)
    assert [s.session_id for s in stories] == ["00000000-aaaa"]
    assert stories[0].source == "rule"


def test_a_failed_look_is_tried_again_at_the_next_cycle(world: World) -> None:
    with rules_worker(world, ["Fix the parser"]) as (worker, store):
        real_sessions = store.__getattr__("sessions")

        def broken(*args: object, **kwargs: object) -> object:
            raise RuntimeError("the index went away")

        store.sessions = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            worker.enqueue_by_rules()
        store.sessions = real_sessions  # type: ignore[method-assign]
        worker.enqueue_by_rules()
    with world.store() as index:
        assert [s.session_id for s in index.stories()] == ["00000000-aaaa"]


def _report(**changes: object) -> CycleReport:
    report = CycleReport()
    for name, value in changes.items():
        setattr(report, name, value)
    return report


@pytest.mark.parametrize(
    ("kind", "report", "expected"),
    [
        ("incremental", _report(unchanged=300), False),
        ("incremental", _report(new=1), True),
        ("incremental", _report(updated=1), True),
        ("incremental", _report(written={"p/a.md"}), True),
        ("incremental", _report(removed={"p/a.md"}), True),
        ("incremental", _report(errors=["listing failed"]), True),
        ("incremental", _report(halted="budget spent"), True),
        ("reconcile", _report(), True),
        ("drain", _report(), True),
    ],
)
def test_which_cycles_have_the_rules_look_again(
    kind: str, report: CycleReport, expected: bool
) -> None:
    assert may_change_selection(kind, report) is expected
