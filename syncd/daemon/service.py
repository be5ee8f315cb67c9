"""`syncd run`: the scheduler, signals, the watchdog and the daemon's own state file.

APScheduler 3 runs the jobs on a single worker thread, so two syncs never overlap:
- incremental: schedule.sync_seconds (jittered) after the last cycle ended, so a long
  cycle delays the next one instead of piling runs up behind it,
- reconcile: at start-up and every schedule.reconcile_seconds (the only deletions),
- drain: once, when the rate budget allows again, after a cycle it cut short.
Pushing to PullStory has a thread of its own (`pushing.PushWorker`).
The main thread only waits: for a signal, and to ping the watchdog while jobs progress.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.cloud.budget import RateBudget
from syncd.config import ScheduleSettings, Settings
from syncd.daemon.connection import ClientFactory, CloudConnection, daemon_client
from syncd.daemon.cycle import cycle_line, run_cycle, worth_telling
from syncd.daemon.heartbeat import Heartbeat
from syncd.daemon.notify import Notifier
from syncd.daemon.progress import ProgressNotes
from syncd.daemon.pushing import PushWorker, may_change_selection
from syncd.daemon.runtime import open_root, sync_options
from syncd.daemon.state import DaemonSettings, DaemonState, write_state
from syncd.errors import AuthError, ConfigError, StopRequested, SyncdError, redact_url
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

# How often the main thread looks around when no watchdog asks for more.
TICK_SECONDS = 30.0


class Daemon:
    """One daemon for one mirror root. `run()` returns the exit code."""

    def __init__(
        self,
        load_settings: Callable[[], Settings],
        *,
        notifier: Notifier | None = None,
        install_signals: bool = True,
        client_factory: ClientFactory = daemon_client,
    ) -> None:
        self._load_settings = load_settings
        self.settings = load_settings()
        self.notifier = notifier or Notifier()
        self.install_signals = install_signals
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self._wake = threading.Event()  # wakes the main loop for a signal
        self.heartbeat = Heartbeat()
        self.started_at = datetime.now(UTC)
        self.activity = "starting"
        self.budget_wait_until: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._pushing: PushWorker | None = None
        self._progress: ProgressNotes | None = None
        # One budget for the daemon's life: pacing and 429 back-off carry across jobs.
        self._budget = RateBudget(reserve=self.settings.budget.reserve, interactive=False)
        # One client (pool, TLS context) for every cycle; rebuilt after a reload.
        self._cloud = CloudConnection(client_factory, self._budget, self._pause)
        # Malformed recent-page items already answered with a full listing (see SyncEngine).
        self._known_bad_items: set[str] = set()

    # --- lifecycle ---------------------------------------------------------------------

    def run(self) -> int:
        settings = self.settings
        api_key = settings.resolve_api_key()
        if api_key is None:
            raise ConfigError("SYNCD_API_KEY", "the daemon needs an API key")
        self._api_key = api_key
        Mirror(settings.mirror_root).ensure_root()
        with open_root(settings) as (store, mirror):
            self._store, self._mirror = store, mirror
            self._progress = ProgressNotes(store.count_sessions)
            self._pushing = PushWorker(
                lambda: self.settings, store, mirror, self.stop_event, lambda: self._api_key
            )
            self._install_signal_handlers()
            scheduler = self._start_scheduler()
            self._pushing.start(scheduler)
            self.activity = "idle"
            self._write_state()
            self.notifier.ready(f"mirroring into {settings.mirror_root}")
            logger.info(
                "syncd running: %s -> %s (sync every %.0f s, reconcile every %.0f s)",
                redact_url(settings.base_url),
                settings.mirror_root,
                settings.schedule.sync_seconds,
                settings.schedule.reconcile_seconds,
            )
            try:
                self._main_loop()
            finally:
                self.notifier.stopping()
                self.activity = "stopping"
                logger.info("stopping: finishing the file in hand")
                self._pushing.stop()
                scheduler.shutdown(wait=True)
                self._cloud.close()
                self._pushing.close()
                self._write_state()
        logger.info("stopped")
        return 0

    def request_stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def request_reload(self) -> None:
        self.reload_event.set()
        self._wake.set()

    def _main_loop(self) -> None:
        interval = self.notifier.watchdog_interval
        tick = min(TICK_SECONDS, interval) if interval else TICK_SECONDS
        # A job silent for longer than this is hung: the watchdog stops being fed.
        max_silence = 2 * interval if interval else float("inf")
        while not self.stop_event.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self.stop_event.is_set():
                break
            if self.reload_event.is_set():
                self.reload_event.clear()
                self._reload()
            if self.heartbeat.healthy(max_silence):
                self.notifier.watchdog()
            else:
                logger.error(
                    "a sync has made no progress for %.0f s; not feeding the watchdog", max_silence
                )
            self._write_state()

    def _install_signal_handlers(self) -> None:
        if not self.install_signals:
            return

        def on_stop(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        def on_reload(signum: int, frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    # --- scheduling --------------------------------------------------------------------

    def _start_scheduler(self) -> BackgroundScheduler:
        schedule = self.settings.schedule
        scheduler = BackgroundScheduler(
            # Syncs (and every write to the mirror) on one thread; pushes on their own, so
            # a slow PullStory never holds up a sync.
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                "push": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        now = datetime.now(UTC)
        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=schedule.reconcile_seconds, timezone=UTC),
            args=["reconcile"],
            id="reconcile",
            next_run_time=now,  # reconciliation at start-up
        )
        scheduler.add_job(
            self._job,
            IntervalTrigger(
                seconds=schedule.sync_seconds, jitter=schedule.jitter_seconds, timezone=UTC
            ),
            args=["incremental"],
            id="incremental",
        )
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def _schedule_drain(self, report: CycleReport) -> None:
        if self._scheduler is None or report.resume_at is None or self.stop_event.is_set():
            return
        when = datetime.fromtimestamp(report.resume_at, UTC) + timedelta(seconds=1)
        self.budget_wait_until = when
        self._scheduler.add_job(
            self._job,
            DateTrigger(when, timezone=UTC),
            args=["drain"],
            id="drain",
            replace_existing=True,
        )
        logger.info("the rest of the work resumes at %s", when.strftime("%H:%M:%S UTC"))

    # --- one job -----------------------------------------------------------------------

    def _job(self, kind: str) -> None:
        if self.stop_event.is_set():
            return
        self.heartbeat.start_job()
        self.activity = f"{kind} sync"
        progress = self._progress
        if progress is not None:
            progress.new_cycle()
        self._write_state()
        started = time.monotonic()
        try:
            client = self._cloud.for_cycle(self.settings, self._api_key)
            engine = SyncEngine(
                client,
                self._store,
                self._mirror,
                options=sync_options(self.settings),
                checkpoint=self._checkpoint,
                heartbeat=self.heartbeat.beat,
                known_bad_items=self._known_bad_items,
                progress=None if progress is None else progress.step,
                first=self.settings.sync.first,
            )
            report = self._run_cycle(engine, kind)
            budget = self._budget
            self._log_cycle(kind, report, budget.remaining if budget.known else None, started)
            if self._pushing is not None:
                self._pushing.enqueue_by_rules()
            self.budget_wait_until = None
            if report.halted is not None:
                self._schedule_drain(report)
        except AuthError as exc:
            logger.error("%s; will try again at the next cycle", exc.message)
            self.notifier.status(f"{kind} failed: {exc.message}")
        except SyncdError as exc:
            logger.error("%s sync failed: %s", kind, exc.message)
            self.notifier.status(f"{kind} failed: {exc.message}")
        except Exception as exc:
            logger.exception("%s sync crashed; will try again at the next cycle", kind)
            self.notifier.status(f"{kind} crashed: {type(exc).__name__}")
        finally:
            self.activity = "idle"
            self.heartbeat.end_job()
            self._next_incremental_after_this()
            self._write_state()

    def _run_cycle(self, engine: SyncEngine, kind: str) -> CycleReport:
        """The cycle, telling the push worker when it changed the index (or may have: one
        that raised may have written before it did)."""
        try:
            report = run_cycle(self.settings, self._store, engine, kind)
        except BaseException:
            if self._pushing is not None:
                self._pushing.index_changed()
            raise
        if self._pushing is not None and may_change_selection(kind, report):
            self._pushing.index_changed()
        return report

    def _checkpoint(self) -> None:
        self.heartbeat.beat()
        if self.stop_event.is_set():
            raise StopRequested()

    def _pause(self, seconds: float) -> None:
        """A wait the rate budget asked for; a stop request cuts it short."""
        self.heartbeat.quiet_for(seconds)
        self.activity = f"pacing for the rate budget ({seconds:.1f} s)"
        if self.stop_event.wait(seconds):
            raise StopRequested()

    def _log_cycle(
        self, kind: str, report: CycleReport, remaining: int | None, started: float
    ) -> None:
        line = cycle_line(kind, report, remaining, time.monotonic() - started)
        logger.log(logging.INFO if worth_telling(report) else logging.DEBUG, "%s", line)
        for error in report.errors[:10]:
            logger.error("%s", error)
        self.notifier.status(line)

    def _next_incremental_after_this(self) -> None:
        """The next incremental sync one interval (and its jitter) after this cycle ended:
        a cycle longer than the interval delays it rather than queueing another behind."""
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running or self.stop_event.is_set():
            return
        schedule = self.settings.schedule
        delay = schedule.sync_seconds + random.uniform(0, schedule.jitter_seconds)
        next_run = datetime.now(UTC) + timedelta(seconds=delay)
        job = scheduler.get_job("incremental")
        if job is not None and (job.next_run_time is None or job.next_run_time < next_run):
            scheduler.modify_job("incremental", next_run_time=next_run)

    # --- reload and state --------------------------------------------------------------

    def _reload(self) -> None:
        self.notifier.reloading()
        try:
            settings = self._load_settings()
            api_key = settings.resolve_api_key()
        except SyncdError as exc:
            logger.error("reload failed, keeping the running configuration: %s", exc.message)
            self.notifier.ready("reload failed; running configuration kept")
            return
        if settings.mirror_root != self.settings.mirror_root or (
            settings.index_url != self.settings.index_url
        ):
            logger.error("the root and database cannot change on reload; restart syncd for that")
        else:
            previous = self.settings
            self.settings = settings
            if api_key is not None:
                self._api_key = api_key
            self._budget.reserve = settings.budget.reserve
            self._cloud.renew()  # the next cycle's client has the new URL, key and timeouts
            if settings.pullstory != previous.pullstory:
                logger.warning("the pullstory settings take effect when syncd restarts")
            if self._pushing is not None:
                self._pushing.recheck_quota()
            if self._scheduler is not None:
                self._reschedule(previous.schedule, settings)
            logger.info("configuration reloaded")
        self._write_state()
        self.notifier.ready("configuration reloaded")

    def _reschedule(self, before: ScheduleSettings, settings: Settings) -> None:
        """Move the timers only when their intervals changed (a reload is not a restart)."""
        assert self._scheduler is not None
        schedule = settings.schedule
        if before == schedule:
            return
        self._scheduler.reschedule_job(
            "incremental",
            trigger=IntervalTrigger(
                seconds=schedule.sync_seconds, jitter=schedule.jitter_seconds, timezone=UTC
            ),
        )
        self._scheduler.reschedule_job(
            "reconcile",
            trigger=IntervalTrigger(seconds=schedule.reconcile_seconds, timezone=UTC),
        )

    def _effective_settings(self) -> DaemonSettings:
        schedule = self.settings.schedule
        return DaemonSettings(
            sync_seconds=schedule.sync_seconds,
            reconcile_seconds=schedule.reconcile_seconds,
            push=self._pushing is not None and self._pushing.enabled,
            git=self.settings.git.enabled,
        )

    def _write_state(self) -> None:
        scheduler = self._scheduler
        next_sync = next_reconcile = None
        if scheduler is not None and scheduler.running:
            incremental = scheduler.get_job("incremental")
            reconcile = scheduler.get_job("reconcile")
            next_sync = incremental.next_run_time if incremental else None
            next_reconcile = reconcile.next_run_time if reconcile else None
        try:
            write_state(
                self.settings.state_dir,
                DaemonState(
                    pid=os.getpid(),
                    started_at=self.started_at,
                    activity=self.activity,
                    next_sync=next_sync,
                    next_reconcile=next_reconcile,
                    budget_wait_until=self.budget_wait_until,
                    settings=self._effective_settings(),
                    progress=None if self._progress is None else self._progress.latest,
                ),
            )
        except SyncdError as exc:
            logger.warning("cannot write the daemon state: %s", exc.message)
