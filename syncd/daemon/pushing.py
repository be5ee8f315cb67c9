"""The daemon's PullStory half: the push worker, the mark watcher and story URLs.

The worker runs on its own executor thread ("push"), so a slow PullStory never holds up a
sync; files are rewritten (story URLs) on the sync thread, the one writer of the mirror.
The mark watcher's threads only hand changed paths over (`ChangedPaths`) and wake the
worker, which reads the files, claims outbox entries and builds briefs on its own thread,
between requests. A quota pause stored by an earlier run is looked at again at start-up
and on SIGHUP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syncd.config import Settings
from syncd.daemon.runtime import push_policy, write_story_urls
from syncd.errors import StopRequested, SyncdError
from syncd.index.store import Store, StoryRecord
from syncd.mirror.writer import Mirror
from syncd.push.outbox import Outbox
from syncd.push.pullstory import PullStoryClient
from syncd.push.queue import PushQueue, check_usage_soon
from syncd.push.selection import (
    Rules,
    enqueue_by_rules,
    handle_changed_files,
    marked_since_synced,
)
from syncd.push.watcher import ChangedPaths, MarkWatcher
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)


class PushWorker:
    """Pushing for one daemon; inert (every method a no-op) without a PullStory token."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        mirror: Mirror,
        stop_event: threading.Event,
        api_key: Callable[[], str],
    ) -> None:
        self._settings = settings
        self._store = store
        self._mirror = mirror
        self._stop_event = stop_event
        self._api_key = api_key
        self._outbox = Outbox(mirror)
        self._token: str | None = None
        self._queue: PushQueue | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._watcher: MarkWatcher | None = None
        self._changes = ChangedPaths()
        # Set when changed paths arrive or the daemon stops: either ends a pause early.
        self._wakeup = threading.Event()
        # Sessions whose story is ready and whose file waits for its URL (one commit).
        self._urls_due: list[str] = []
        self._urls_lock = threading.Lock()
        # Whether the index may hold a session the rules select that has no story yet:
        # true at start and after a cycle that changed (or may have changed) the index.
        # Looking reads every session's row, which an idle cycle need not pay for.
        self._rules_due = True

    @property
    def enabled(self) -> bool:
        """Whether pushing runs: a PullStory token was found at start."""
        return self._token is not None

    def start(self, scheduler: BackgroundScheduler) -> None:
        settings = self._settings()
        token = settings.pullstory.resolve_api_key()
        if token is None:
            logger.info("no PullStory token (SYNCD_PULLSTORY__API_KEY): pushing is off")
            return
        self._token, self._scheduler = token, scheduler
        if check_usage_soon(self._store, time.time()):
            # The pause was stored by an earlier run: the minutes may be back by now.
            logger.info("pushing to PullStory was paused; looking at the usage again now")
        scheduler.add_job(
            self._push_job,
            IntervalTrigger(seconds=settings.pullstory.interval_seconds, timezone=UTC),
            id="push",
            executor="push",
            next_run_time=datetime.now(UTC),  # resume stories a restart interrupted
        )
        self._watcher = MarkWatcher(settings.mirror_root, self._changes, self._paths_arrived)
        self._watcher.start()
        # Marks and drops made while the daemon was down are picked up now.
        scheduler.add_job(self._catch_up, executor="push")

    def stop(self) -> None:
        """Stop watching and end a pause in progress (the scheduler, shut down by the
        daemon, ends the jobs)."""
        if self._watcher is not None:
            self._watcher.stop()
        self._wakeup.set()

    def close(self) -> None:
        """After the scheduler has shut down: close the PullStory connection."""
        if self._queue is not None:
            self._queue.client.close()

    def recheck_quota(self) -> None:
        """SIGHUP: a quota pause looks at the usage now (the minutes may have been bought)."""
        if self._token is None:
            return
        try:
            paused = check_usage_soon(self._store, time.time())
        except SyncdError as exc:
            logger.error("cannot read the push state: %s", exc.message)
            return
        if paused:
            logger.info("pushing to PullStory is paused; looking at the usage again now")
            self._wake()

    def index_changed(self) -> None:
        """A cycle changed the index, or may have (one that failed): the rules look again."""
        self._rules_due = True

    def enqueue_by_rules(self) -> None:
        """After a sync: queue the sessions the rules select that have no story yet, when
        the index changed since the rules last looked."""
        pullstory = self._settings().pullstory
        rules = Rules(tuple(pullstory.projects), tuple(pullstory.tags), tuple(pullstory.names))
        if not rules or self._token is None or not self._rules_due:
            return
        queued = enqueue_by_rules(self._store, self._mirror, rules, time.time())
        self._rules_due = False  # only once the look succeeded
        if queued:
            self._wake()

    # --- jobs --------------------------------------------------------------------------

    def _paths_arrived(self) -> None:
        # On the watcher's timer thread: wake the worker and nothing else (no file, no index).
        self._wakeup.set()
        scheduler = self._scheduler
        if scheduler is not None and not self._stop_event.is_set():
            # A job of its own each time (no shared id): one still running never makes
            # the scheduler skip the next. One that finds the paths taken does nothing.
            scheduler.add_job(self._changes_job, executor="push")

    def _catch_up(self) -> None:
        self._changes.put(self._outbox.entries())
        self._changes.put(marked_since_synced(self._store, self._mirror))
        self._changes_job()

    def _changes_job(self) -> None:
        if self._take_changes():
            self._wake()

    def _take_changes(self) -> bool:
        """On the push thread: queue what the user marked or dropped among the paths the
        watcher saw. Whether anything was queued. The stop is asked between files."""
        paths = self._changes.take()
        if not paths:
            return False
        try:
            queued = handle_changed_files(
                self._store,
                self._mirror,
                paths,
                time.time(),
                outbox=self._outbox,
                stopping=self._stop_event.is_set,
            )
        except SyncdError as exc:
            logger.error("handling changes to %d file(s): %s", len(paths), exc.message)
            return False
        except Exception:
            logger.exception("handling changes to %d file(s) failed", len(paths))
            return False
        return bool(queued)

    def _wake(self) -> None:
        scheduler = self._scheduler
        if scheduler is not None and scheduler.get_job("push") is not None:
            scheduler.modify_job("push", next_run_time=datetime.now(UTC))

    def _push_job(self) -> None:
        if self._stop_event.is_set():
            return
        settings = self._settings()
        try:
            if self._queue is None:
                assert self._token is not None  # the job exists only with a token
                # One queue for the daemon's life: its request spacing carries across ticks.
                client = PullStoryClient(
                    settings.pullstory.base_url, self._token, timeout=settings.timeout_seconds
                )
                self._queue = PushQueue(
                    self._store,
                    client,
                    on_ready=self._story_ready,
                    sleep=self._pause,
                    stopping=self._stop_event.is_set,
                    policy=push_policy(settings),
                    retry_failed=True,
                )
            self._queue.drain(max_seconds=settings.pullstory.interval_seconds)
        except StopRequested:
            return
        except SyncdError as exc:
            logger.error("pushing to PullStory: %s", exc.message)
        except Exception:
            logger.exception("pushing to PullStory crashed; will try again")

    def _pause(self, seconds: float) -> None:
        """The queue's wait. A stop ends the drain; changed paths end the wait early, are
        taken here, on this thread, and the queue looks again at what is due."""
        # Cleared before looking: the paths are put, and the stop set, before the wakeup.
        self._wakeup.clear()
        if not self._changes and not self._stop_event.is_set():
            self._wakeup.wait(seconds)
        if self._stop_event.is_set():
            raise StopRequested()
        self._take_changes()

    def _story_ready(self, story: StoryRecord) -> None:
        # The file is rewritten on the sync thread: one writer for the mirror. Stories
        # ready meanwhile are written together, as one commit.
        with self._urls_lock:
            self._urls_due.append(story.session_id)
        if self._scheduler is not None:
            self._scheduler.add_job(self._write_story_urls, id="story-urls", replace_existing=True)

    def _write_story_urls(self) -> None:
        with self._urls_lock:
            session_ids, self._urls_due = self._urls_due, []
        if not session_ids:
            return
        try:
            write_story_urls(
                self._settings(), self._store, self._mirror, session_ids, self._api_key()
            )
        except SyncdError as exc:
            logger.error("writing the story URL of %s: %s", ", ".join(session_ids), exc.message)


def may_change_selection(kind: str, report: CycleReport) -> bool:
    """Whether a cycle may have given the rules a session to select: one that wrote or
    removed a file or did not finish; a full listing always (what a cycle cannot see,
    like a file edited by hand, is caught up with there)."""
    wrote = report.new or report.updated or report.written or report.removed
    return kind != "incremental" or bool(wrote) or not report.ok
