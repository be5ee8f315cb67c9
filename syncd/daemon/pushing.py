"""The daemon's PullStory half: the push worker, the mark watcher and story URLs.

The worker runs on its own executor thread ("push"), so a slow PullStory never holds up a
sync; files are rewritten (story URLs) on the sync thread, the one writer of the mirror.
A quota pause stored by an earlier run is looked at again at start-up and on SIGHUP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

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
from syncd.push.watcher import MarkWatcher

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
        # Sessions whose story is ready and whose file waits for its URL (one commit).
        self._urls_due: list[str] = []
        self._urls_lock = threading.Lock()

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
        self._watcher = MarkWatcher(settings.mirror_root, self._on_files_changed)
        self._watcher.start()
        # Marks and drops made while the daemon was down are picked up now.
        scheduler.add_job(self._catch_up, executor="push")

    def stop(self) -> None:
        """Stop watching (the scheduler, shut down by the daemon, ends the jobs)."""
        if self._watcher is not None:
            self._watcher.stop()

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

    def enqueue_by_rules(self) -> None:
        """After a sync: queue the sessions the rules select that have no story yet."""
        pullstory = self._settings().pullstory
        rules = Rules(tuple(pullstory.projects), tuple(pullstory.tags), tuple(pullstory.names))
        if not rules or self._token is None:
            return
        if enqueue_by_rules(self._store, self._mirror, rules, time.time()):
            self._wake()

    # --- jobs --------------------------------------------------------------------------

    def _catch_up(self) -> None:
        paths = set(self._outbox.entries()) | set(marked_since_synced(self._store, self._mirror))
        self._on_files_changed(paths)

    def _on_files_changed(self, paths: set[Path]) -> None:
        queued = handle_changed_files(
            self._store,
            self._mirror,
            paths,
            time.time(),
            outbox=self._outbox,
            stopping=self._stop_event.is_set,
        )
        if queued:
            self._wake()

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
        if self._stop_event.wait(seconds):
            raise StopRequested()

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
