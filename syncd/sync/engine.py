"""Run sync cycles: the incremental fast path, full listings, and reconciliation.

- incremental: one request (`/sessions/recent`) when nothing changed; k changed sessions
  cost k + 1 requests. Falls back to a full listing when the recent page cannot tell.
- full listing (`syncd sync --once`, reconciliation): every project's listing, sent with
  If-None-Match; deletions are detected here and only here.

One item failing never stops the cycle: it is logged once, counted and retried on the
next run. A spent budget, a long Retry-After or a stop request ends the cycle early with
the rest deferred; only a rejected key stops it with an error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncd.cloud.budget import MAX_SERVER_WAIT, BudgetSnapshot
from syncd.cloud.client import CloudClient
from syncd.cloud.models import Project, etags_match
from syncd.config import DeletionMode
from syncd.errors import (
    BudgetExhaustedError,
    RateLimitedError,
    StopRequested,
    SyncdError,
)
from syncd.index import search
from syncd.index.store import BudgetRecord, ProjectRecord, RunRecord, SessionRecord, Store
from syncd.mirror.writer import Mirror
from syncd.model import Session
from syncd.sync.executor import Executor, Progress
from syncd.sync.first import sessions_first
from syncd.sync.halts import Halt
from syncd.sync.listing import Lister
from syncd.sync.plan import CloudView, CyclePlan, Fetch
from syncd.sync.planner import DeletionRules, plan_cycle
from syncd.sync.recovery import finish_pending_writes
from syncd.sync.removal import Removal
from syncd.sync.report import CycleReport
from syncd.sync.searching import refresh_search_index
from syncd.sync.sessions import SessionSync

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

RECENT_LIMIT = 100  # the API's maximum page of recently updated sessions


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncOptions:
    deletion_mode: DeletionMode = DeletionMode.ARCHIVE
    max_delete_share: float = 0.25
    allow_mass_delete: bool = False
    dry_run: bool = False


@dataclass
class SyncEngine:
    client: CloudClient
    store: Store
    mirror: Mirror
    clock: Clock = _utcnow
    progress: Progress | None = None
    options: SyncOptions = field(default_factory=SyncOptions)
    # Called between projects and items: a heartbeat, and the place a stop request lands.
    checkpoint: Callable[[], None] = lambda: None
    heartbeat: Callable[[], None] = lambda: None
    # Fingerprints of malformed recent-page items a full listing has already dealt with;
    # the daemon keeps one set across cycles so a broken item costs one listing, not one
    # per cycle.
    known_bad_items: set[str] = field(default_factory=set)
    # The newest run's report, also when the run raised (its writes are still committed).
    report: CycleReport = field(default_factory=CycleReport)
    # sync.first: a cloud search whose hits are downloaded before the rest (see first.py).
    first: str | None = None

    def __post_init__(self) -> None:
        self.sessions = SessionSync(
            self.client, self.store, self.mirror, self.clock, heartbeat=self.heartbeat
        )

    def run_once(self, kind: str = "once") -> CycleReport:
        """List everything, mirror every change, and handle deletions (reconciliation)."""
        return self._run(kind, lambda report: self._full(report, deletions=True))

    def run_incremental(self) -> CycleReport:
        """The cheap cycle: the recent-sessions page first, a full listing only if needed."""
        return self._run("incremental", self._incremental)

    def run_listing(self, kind: str) -> CycleReport:
        """Every listing, without deletions (draining a backlog the budget left)."""
        return self._run(kind, lambda report: self._full(report, deletions=False))

    def refresh_file(self, session_id: str) -> None:
        """Rewrite one session's front matter from the index (e.g. its new story URL)."""
        # A write a kill cut short is finished first: its row is the one to refresh.
        finish_pending_writes(self.store, self.mirror, self.clock, CycleReport())
        record = self.store.session(session_id)
        project = self.store.projects().get(record.project_id) if record else None
        if record is None or project is None:
            return
        self.store.journal([record.path])
        self.sessions.refresh_file(Project(id=project.id, name=project.name), record)

    # --- bookkeeping -------------------------------------------------------------------

    def _run(self, kind: str, cycle: Callable[[CycleReport], object]) -> CycleReport:
        report = self.report = CycleReport()
        if self.options.dry_run:
            self._restore_budget()  # respects a saved Retry-After, and saves nothing
            cycle(report)  # a dry run writes nothing: no temp sweep, no run record
            return report
        self.mirror.ensure_root()
        self.mirror.sweep_temp_files()
        report.journal_mark = self.store.journal_mark()
        self._restore_budget()
        started_at = self.clock()
        run_id = self.store.start_run(started_at, kind)
        requests_before = self.client.stats.requests
        not_modified_before = self.client.stats.not_modified
        try:
            finish_pending_writes(self.store, self.mirror, self.clock, report)
            cycle(report)
        except SyncdError as exc:
            report.abort(f"{kind} cycle failed: {exc.message}")
            raise
        except Exception as exc:
            report.abort(f"{kind} cycle crashed: {type(exc).__name__}: {exc}")
            raise
        except BaseException as exc:  # Ctrl-C, SIGTERM: never recorded as a success
            report.interrupt(_interruption(exc))
            raise
        finally:
            self._save_budget()
            self.store.finish_run(
                RunRecord(
                    id=run_id,
                    started_at=started_at,
                    ended_at=self.clock(),
                    requests=self.client.stats.requests - requests_before,
                    not_modified=self.client.stats.not_modified - not_modified_before,
                    fetched=report.fetched,
                    new=report.new,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    failed=report.failed,
                    errors=report.errors[:100],
                    kind=kind,
                    deferred=report.deferred,
                    deleted=report.deleted,
                    outcome=report.outcome,
                    listed=report.listed,
                )
            )
        return report

    def update_search_index(self) -> None:
        """Bring search up to date with the mirror after a run; never fails the sync.

        Called after the run (and its git commit), so an indexing problem, a stop request
        or an interrupt here costs nothing but freshness: the next search catches up. Also
        after runs that changed nothing, so an index emptied by an upgrade or a rebuild
        fills in the background (checking a current index is two indexed queries).
        """
        if self.store.engine.dialect.name not in search.SEARCHABLE:
            return

        def step() -> None:
            self.heartbeat()
            self.checkpoint()

        try:
            refresh_search_index(self.store, self.mirror, step=step)
        except StopRequested:
            logger.info("search indexing stopped with the daemon; the next run resumes it")
        except SyncdError as exc:
            logger.warning("search index not brought up to date (the next search will): %s", exc)
        except Exception:  # a bug in indexing must not turn a good sync into a failed one
            logger.exception("search index not brought up to date (the next search will)")

    def _restore_budget(self) -> None:
        saved = self.store.budget()
        if self.client.budget.known or saved is None:
            return
        # The index's record and the budget's snapshot hold the same fields.
        if self.client.budget.restore(BudgetSnapshot(**dataclasses.asdict(saved))):
            logger.warning(
                "the saved rate budget waited longer than %.0f s or held figures out of "
                "range (an older syncd kept what the server said): clamped",
                MAX_SERVER_WAIT,
            )

    def _save_budget(self) -> None:
        snapshot = self.client.budget.snapshot()
        if snapshot is not None:
            self.store.save_budget(BudgetRecord(**dataclasses.asdict(snapshot)))

    def _halt(self, report: CycleReport, halt: Halt) -> None:
        cause, resume_at = halt.cause, None
        if isinstance(cause, BudgetExhaustedError):
            resume_at = cause.resume_at
        elif isinstance(cause, RateLimitedError):
            resume_at = self.client.budget.now() + cause.retry_after
        report.halt(cause.message, halt.pending, resume_at)
        logger.warning("cycle stopped early: %s", cause.message)

    # --- the incremental fast path -----------------------------------------------------

    def _incremental(self, report: CycleReport) -> None:
        recent = Lister(self.client, report, self.checkpoint).recent(RECENT_LIMIT)
        if isinstance(recent, SyncdError):
            self._halt(report, Halt(recent))
            return
        summaries, bad = recent
        # Most cycles find nothing: the page's own rows decide that, not the whole index.
        on_page = self.store.sessions(ids={s.id for s in summaries})
        new_bad = [item for item in bad if item.fingerprint not in self.known_bad_items]
        if not new_bad and not any(_is_new_or_changed(s, on_page) for s in summaries):
            report.unchanged = self.store.count_sessions()
            return
        indexed = self.store.sessions()
        projects = self.store.projects()
        changed = [s for s in summaries if _is_new_or_changed(s, indexed)]
        report.unchanged = len(indexed) - sum(1 for s in changed if s.id in indexed)
        if not changed and not new_bad:
            return
        page_full = len(summaries) >= RECENT_LIMIT and len(changed) == len(summaries)
        unknown_project = any(s.project_id not in projects for s in changed)
        if new_bad or page_full or unknown_project:
            # The page cannot tell the whole story: list everything (no deletions here).
            report.unchanged = 0
            if self._full(report, deletions=False):
                self.known_bad_items.update(item.fingerprint for item in bad)
            return
        view = _view_of_changes(changed, projects)
        self._execute(view, report, deletions=False, indexed=indexed, projects=projects)

    # --- full listings -----------------------------------------------------------------

    def _full(self, report: CycleReport, *, deletions: bool) -> bool:
        """List every project and apply what changed; True when every project was gone
        through (individual sessions or listings may still have failed)."""
        projects = self.store.projects()
        indexed = self.store.sessions()
        lister = Lister(self.client, report, self.checkpoint)
        gathered = lister.everything(projects, indexed, for_deletions=deletions)
        if gathered.view is None:
            if gathered.halt is not None:
                self._halt(report, Halt(gathered.halt))
            return False
        if gathered.view.complete:
            report.listed = _listed_count(gathered.view, indexed)
        finished = self._execute(
            gathered.view, report, deletions=deletions, indexed=indexed, projects=projects
        )
        if gathered.halt is not None:
            self._halt(report, Halt(gathered.halt))
            return False
        return finished

    def _execute(
        self,
        view: CloudView,
        report: CycleReport,
        *,
        deletions: bool,
        indexed: dict[str, SessionRecord],
        projects: dict[str, ProjectRecord],
    ) -> bool:
        """Plan the cycle from the view and apply it (a dry run only describes it); False
        when a halt cut it short."""
        missing = {
            r.id
            for r in indexed.values()
            if r.cloud_deleted_at is None
            and (not view.partial or r.project_id in view.listings)
            and self.mirror.missing(r.path)
        }
        rules = DeletionRules(
            allowed=deletions,
            mode=self.options.deletion_mode,
            max_share=self.options.max_delete_share,
            allow_mass_delete=self.options.allow_mass_delete,
        )
        plan = plan_cycle(view, projects, indexed, missing, rules)
        if self.first and not self.options.dry_run and _downloads(plan):
            # Asked only when there is something to download: a quiet cycle spends nothing.
            plan = dataclasses.replace(
                plan, first=sessions_first(self.client, self.store, self.first)
            )
        if self.options.dry_run:
            report.unchanged += plan.unchanged
            report.actions.extend(plan.describe())
            return True
        removal = Removal(self.client, self.store, self.mirror, self.sessions, self.clock)
        executor = Executor(
            self.sessions,
            removal,
            self.store,
            self.mirror,
            self.client.budget,
            self.checkpoint,
            self.progress,
            catch_up_search=self.update_search_index,
        )
        halt = executor.run(plan, report)
        if halt is not None:
            self._halt(report, halt)  # recorded before the pages, which could fail
        executor.finish(plan, report)
        return halt is None


def _downloads(plan: CyclePlan) -> bool:
    return any(isinstance(step, Fetch) for _, step in plan.session_steps())


def _view_of_changes(changed: list[Session], projects: dict[str, ProjectRecord]) -> CloudView:
    """The recent page's changes as a partial view: only these sessions, nothing missing."""
    by_project: dict[str, list[Session]] = {}
    for session in changed:
        by_project.setdefault(session.project_id, []).append(session)
    records = [projects[project_id] for project_id in sorted(by_project)]
    return CloudView(
        projects=[Project(id=r.id, name=r.name, created_at=r.created_at) for r in records],
        dirnames={r.id: r.dirname for r in records},
        listings=dict(by_project),
        partial=True,
    )


def _listed_count(view: CloudView, indexed: dict[str, SessionRecord]) -> int:
    """How many sessions the cloud lists (a 304 stands for what the index holds of it)."""
    unchanged = {project_id for project_id, s in view.listings.items() if s is None}
    fresh = sum(len(s) for s in view.listings.values() if s is not None)
    held = (r for r in indexed.values() if r.project_id in unchanged)
    return fresh + sum(1 for r in held if r.cloud_deleted_at is None)


def _interruption(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by Ctrl-C or a signal"
    if isinstance(exc, SystemExit):
        return f"the process exited ({exc.code})"
    return type(exc).__name__


def _is_new_or_changed(session: Session, indexed: dict[str, SessionRecord]) -> bool:
    record = indexed.get(session.id)
    if record is None:
        return True
    if session.etag:  # the recent page may carry etags; when it does they decide
        return not etags_match(session.etag, record.etag)
    return session.updated_at != record.updated_at


__all__ = ["SyncEngine", "SyncOptions"]
