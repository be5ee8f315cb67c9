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
from pathlib import PurePosixPath

from syncd.cloud.budget import BudgetSnapshot
from syncd.cloud.client import CloudClient
from syncd.cloud.models import Project, SessionSummary, etags_match
from syncd.errors import (
    AuthError,
    BudgetExhaustedError,
    CloudUnavailableError,
    RateLimitedError,
    StopRequested,
    SyncdError,
)
from syncd.index.store import BudgetRecord, ProjectRecord, RunRecord, SessionRecord, Store
from syncd.mirror.writer import Mirror
from syncd.sync import overview
from syncd.sync.deletions import DeletionPlan, guard, plan_deletions
from syncd.sync.localedits import FileState, classify
from syncd.sync.planner import ProjectPlan, assign_dirnames, plan_project
from syncd.sync.report import CycleReport
from syncd.sync.searching import refresh_search_index
from syncd.sync.sessions import HALTS, CycleHalted, SessionSync

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Clock = Callable[[], datetime]

RECENT_LIMIT = 100  # the API's maximum page of recently updated sessions
TRASH = ".trash"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncOptions:
    deletion_mode: str = "archive"  # archive | delete | keep
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

    def __post_init__(self) -> None:
        self.sessions = SessionSync(
            self.client,
            self.store,
            self.mirror,
            self.clock,
            dry_run=self.options.dry_run,
            checkpoint=self.checkpoint,
            heartbeat=self.heartbeat,
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
        record = self.store.session(session_id)
        project = self.store.projects().get(record.project_id) if record else None
        if record is None or project is None:
            return
        self.sessions.refresh_file(_plan_for(project), record)

    # --- bookkeeping -------------------------------------------------------------------

    def _run(self, kind: str, cycle: Callable[[CycleReport], object]) -> CycleReport:
        report = CycleReport()
        self._not_modified: list[str] = []
        if self.options.dry_run:
            self._restore_budget()  # respects a saved Retry-After, and saves nothing
            cycle(report)  # a dry run writes nothing: no temp sweep, no run record
            return report
        self.mirror.ensure_root()
        self.mirror.sweep_temp_files()
        self._restore_budget()
        started_at = self.clock()
        run_id = self.store.start_run(started_at, kind)
        requests_before = self.client.stats.requests
        not_modified_before = self.client.stats.not_modified
        try:
            cycle(report)
            if kind != "incremental" or report.written or report.removed:
                # A quiet incremental cycle (most of them) changed nothing pages show.
                self._write_pages(report)
        except SyncdError as exc:
            report.fail(f"{kind} cycle failed: {exc.message}")
            raise
        except Exception as exc:
            report.fail(f"{kind} cycle crashed: {type(exc).__name__}: {exc}")
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
        if self.options.dry_run:
            return
        if self.store.engine.dialect.name != "sqlite":
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
        if not self.client.budget.known and saved is not None:
            # The index's record and the budget's snapshot hold the same fields.
            self.client.budget.restore(BudgetSnapshot(**dataclasses.asdict(saved)))

    def _save_budget(self) -> None:
        snapshot = self.client.budget.snapshot()
        if snapshot is not None:
            self.store.save_budget(BudgetRecord(**dataclasses.asdict(snapshot)))

    def _halt(self, report: CycleReport, exc: Exception) -> None:
        pending = 0
        if isinstance(exc, CycleHalted):
            pending, exc = exc.pending, exc.cause
        resume_at = None
        if isinstance(exc, BudgetExhaustedError):
            resume_at = exc.resume_at
        elif isinstance(exc, RateLimitedError):
            resume_at = self.client.budget.now() + exc.retry_after
        reason = exc.message if isinstance(exc, SyncdError) else str(exc)
        report.halt(reason, pending, resume_at)
        logger.warning("cycle stopped early: %s", reason)

    # --- the incremental fast path -----------------------------------------------------

    def _incremental(self, report: CycleReport) -> None:
        try:
            recent, bad = self.client.recent_sessions(RECENT_LIMIT)
        except HALTS as exc:
            self._halt(report, exc)
            return
        indexed = self.store.sessions()
        projects = self.store.projects()
        changed = [s for s in recent if _is_new_or_changed(s, indexed)]
        report.unchanged = len(indexed) - sum(1 for s in changed if s.id in indexed)
        new_bad = [item for item in bad if item.fingerprint not in self.known_bad_items]
        if not changed and not new_bad:
            return
        page_full = len(recent) >= RECENT_LIMIT and len(changed) == len(recent)
        unknown_project = any(s.project_id not in projects for s in changed)
        if new_bad or page_full or unknown_project:
            # The page cannot tell the whole story: list everything (no deletions here).
            report.unchanged = 0
            if self._full(report, deletions=False):
                self.known_bad_items.update(item.fingerprint for item in bad)
            return
        by_project: dict[str, list[SessionSummary]] = {}
        for summary in changed:
            by_project.setdefault(summary.project_id, []).append(summary)
        for project_id, summaries in sorted(by_project.items()):
            record = projects[project_id]
            project = Project(id=record.id, name=record.name, created_at=record.created_at)
            plan = plan_project(project, record.dirname, summaries, indexed)
            try:
                self.sessions.execute(plan, report, indexed)
            except CycleHalted as exc:
                self._halt(report, exc)
                return

    # --- full listings -----------------------------------------------------------------

    def _full(self, report: CycleReport, *, deletions: bool) -> bool:
        """List every project and sync it; True when every project was gone through
        (individual sessions or listings may still have failed)."""
        try:
            projects, bad_projects = self.client.list_projects()
        except HALTS as exc:
            self._halt(report, exc)
            return False
        except (AuthError, CloudUnavailableError):
            raise  # nothing can be done this cycle: one clear error for the caller
        except SyncdError as exc:
            logger.error("listing projects: %s", exc.message)
            report.fail(f"listing projects: {exc.message}")
            return False
        for item in bad_projects:
            report.fail(f"project #{item.position} ({item.item_id}): {item.problem}")
        indexed_projects = self.store.projects()
        dirnames = assign_dirnames(projects, indexed_projects)
        if not self.options.dry_run:
            # Folders are claimed for every project up front, in one transaction, so that
            # two projects trading names never hold the same folder, even for a moment.
            self.store.save_dirnames([_project_record(p, dirnames[p.id], None) for p in projects])
        indexed = self.store.sessions()
        complete = not bad_projects
        seen: set[str] = set()  # every session id some listing (or a 304) vouched for
        for position, project in enumerate(projects, start=1):
            if self.progress:
                self.progress(position, len(projects), project.name)
            self.client.budget.pending = len(projects) - position + 1
            try:
                self.checkpoint()
                listed_ids = self._sync_project(
                    project, dirnames[project.id], indexed_projects, indexed, report
                )
            except (*HALTS, CycleHalted) as exc:
                self._halt(report, exc)
                return False
            except SyncdError as exc:
                listed_ids = None
                logger.error("project %s: %s", project.id, exc.message)
                report.fail(f"project {project.id}: {exc.message}")
            if listed_ids is None:
                complete = False
            else:
                seen |= listed_ids
        # Deletions only from a complete, error-free listing of everything, so a session
        # that moved between projects is never taken for deleted.
        if deletions and complete:
            try:
                self._delete_vanished(projects, indexed_projects, seen, indexed, report)
            except (*HALTS, CycleHalted) as exc:
                self._halt(report, exc)
        if not self.options.dry_run:
            self._drop_abandoned_folders(report)
        return True

    def _sync_project(
        self,
        project: Project,
        dirname: str,
        indexed_projects: dict[str, ProjectRecord],
        indexed: dict[str, SessionRecord],
        report: CycleReport,
    ) -> set[str] | None:
        """Sync one project: the ids its listing vouches for, or None if anything failed."""
        failures_before = report.failed
        previous = indexed_projects.get(project.id)
        renamed = previous is not None and previous.name != project.name
        moved = previous is not None and previous.dirname != dirname
        # After a rename or move every session must be looked at, so the listing's etag
        # from before is of no use.
        held_etag = previous.list_etag if previous and not (renamed or moved) else None
        listing = self.client.list_sessions(project.id, etag=held_etag)
        if listing is None:
            self._not_modified.append(project.id)
        listed = None
        if listing is not None:
            for item in listing.errors:
                report.fail(f"session {item.item_id or '#' + str(item.position)}: {item.problem}")
            # A session is filed under the project whose listing it came from.
            listed = [_in_project(s, project.id) for s in listing.sessions]
        plan = plan_project(
            project,
            dirname,
            listed,
            indexed,
            missing_files=self._missing_files(project.id, listed, indexed),
            project_renamed=renamed,
        )
        self.sessions.execute(plan, report, indexed)
        if report.failed != failures_before:
            return None
        if not self.options.dry_run:
            # Only a fully applied listing may be skipped next time (and only then is the
            # new project name final: until then its sessions are still looked at).
            list_etag = listing.etag if listing is not None else held_etag
            self.store.save_project(_project_record(project, dirname, list_etag))
        if listed is None:  # 304: the listing is what it was, so is the project
            return {r.id for r in indexed.values() if r.project_id == project.id}
        return {s.id for s in listed}

    def _missing_files(
        self,
        project_id: str,
        listed: list[SessionSummary] | None,
        indexed: dict[str, SessionRecord],
    ) -> list[str]:
        concerned = {s.id for s in listed or ()}
        return [
            r.id
            for r in indexed.values()
            if (r.id in concerned or (r.project_id == project_id and r.cloud_deleted_at is None))
            and not self.mirror.exists(r.path)
        ]

    # --- deletions ---------------------------------------------------------------------

    def _delete_vanished(
        self,
        projects: list[Project],
        indexed_projects: dict[str, ProjectRecord],
        seen: set[str],
        indexed: dict[str, SessionRecord],
        report: CycleReport,
    ) -> None:
        # Sessions kept after their deletion (deletion.mode = keep) are settled: never again
        # candidates, nor counted in the share the guards allow.
        live = {key: r for key, r in indexed.items() if r.cloud_deleted_at is None}
        if not any(r.id not in seen for r in live.values()):
            return
        # A 304 vouches for the listing we had, not for where a session is now: a session
        # that moved into such a project would look deleted. Ask those listings afresh.
        for project_id in self._not_modified:
            fresh = self.client.list_sessions(project_id, etag=None)
            if fresh is None or fresh.errors:
                return
            seen |= {s.id for s in fresh.sessions}
        candidates = [r for r in live.values() if r.id not in seen]
        # An empty or foreign listing (another account's key) must not empty the mirror.
        share = self.options.max_delete_share
        refusal = guard(len(candidates), len(live), "mirrored sessions", share)
        if refusal is not None and not self.options.allow_mass_delete:
            logger.error("%s", refusal)
            report.fail(refusal)
            if not self.options.dry_run:  # list them in full next time, not a hiding 304
                for project_id in {r.project_id for r in candidates}:
                    self.store.forget_list_etag(project_id)
            return
        listed = {p.id for p in projects}
        names = {p.id: p.name for p in projects} | {
            r.id: r.name for r in indexed_projects.values() if r.id not in listed
        }
        for project_id, name in sorted(names.items()):
            plan = plan_deletions(
                project_id,
                name,
                seen,
                live,
                max_share=self.options.max_delete_share,
                allow_mass_delete=self.options.allow_mass_delete,
            )
            self._apply_deletions(plan, indexed, report)
            vanished = project_id not in listed
            if (
                vanished
                and not self.options.dry_run
                and not any(r.project_id == project_id for r in indexed.values())
            ):
                dirname = indexed_projects[project_id].dirname
                self.store.delete_project(project_id)
                self.mirror.remove(f"{dirname}/{overview.PROJECT_INDEX}")
                report.dropped(f"{dirname}/{overview.PROJECT_INDEX}")
                self.mirror.remove_empty_dir(dirname)

    def _apply_deletions(
        self, plan: DeletionPlan, indexed: dict[str, SessionRecord], report: CycleReport
    ) -> None:
        if plan.refusal is not None:
            logger.error("%s", plan.refusal)
            report.fail(plan.refusal)
            # The project must be listed in full again next time, or a 304 would hide
            # the missing sessions from the next attempt.
            if not self.options.dry_run:
                self.store.forget_list_etag(plan.project_id)
            return
        for record in plan.candidates:
            self.checkpoint()
            if self.options.dry_run:
                verb = "keep   " if self.options.deletion_mode == "keep" else "trash  "
                report.actions.append(f"{verb} {record.path} (if a HEAD request confirms 404)")
                continue
            try:
                if self.client.session_exists(record.project_id, record.id):
                    continue  # not gone: it moved, or the listing was stale
                if self.options.deletion_mode == "keep":
                    indexed[record.id] = self._keep(record, report)
                else:
                    self._trash(record)
            except HALTS as exc:
                raise CycleHalted(exc, pending=0) from exc
            except SyncdError as exc:
                report.fail(f"session {record.id}: {exc.message}")
                self.store.forget_list_etag(plan.project_id)
                continue
            report.deleted += 1
            report.changes.append(("deleted", record.project_id, record.name or record.id))
            if self.options.deletion_mode != "keep":
                self.store.delete_session(record.id)
                indexed.pop(record.id, None)
                report.dropped(record.path)

    def _keep(self, record: SessionRecord, report: CycleReport) -> SessionRecord:
        """Keep a session deleted in the cloud: in the mirror, the index and search, marked
        with when (in its front matter too, unless the user edited the file), so it is
        never a deletion candidate again and a rebuild of the index still knows."""
        marked = dataclasses.replace(
            record, cloud_deleted_at=self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        project = self.store.projects().get(record.project_id)
        # The rewrite leaves a file the user edited or removed as it is (and returns None).
        written = (
            self.sessions.refresh_file(_plan_for(project), marked, report) if project else None
        )
        if written is None:
            self.store.save_session(marked)
        logger.info("session %s was deleted in the cloud; kept %s", record.id, record.path)
        return written or marked

    def _trash(self, record: SessionRecord) -> None:
        if not self.mirror.exists(record.path):
            logger.info("session %s was deleted in the cloud; its file was gone", record.id)
            return
        # Only `delete` needs to know whether the user edited the file (hashing it).
        if (
            self.options.deletion_mode == "delete"
            and classify(self.mirror.inspect(record.path), record).state is not FileState.EDITED
        ):
            self.mirror.remove(record.path)
            logger.info("session %s was deleted in the cloud; removed %s", record.id, record.path)
            return
        # archive (and delete of a file the user edited: edits are never destroyed)
        target = PurePosixPath(TRASH) / record.path
        if self.mirror.exists(target.as_posix()):
            stamp = self.clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = target.with_name(f"{target.stem}.{stamp}.md")
        self.mirror.move(record.path, target.as_posix())
        logger.info("session %s was deleted in the cloud; moved to %s", record.id, target)

    # --- pages and folders -------------------------------------------------------------

    def _write_pages(self, report: CycleReport) -> None:
        projects = list(self.store.projects().values())
        pages = overview.render_pages(projects, self.store.sessions().values())
        for path, content in pages.items():
            if self.mirror.write_bytes(path, content).written:
                report.touched(path)

    def _drop_abandoned_folders(self, report: CycleReport) -> None:
        """A project folder left with only its generated INDEX.md (after a move) goes."""
        owned = {p.dirname for p in self.store.projects().values()}
        for folder in self.mirror.top_level_folders():
            if folder not in owned and self.mirror.only_holds(folder, {overview.PROJECT_INDEX}):
                self.mirror.remove(f"{folder}/{overview.PROJECT_INDEX}")
                report.dropped(f"{folder}/{overview.PROJECT_INDEX}")
                self.mirror.remove_empty_dir(folder)
                logger.info("removed the empty folder %s", folder)


def _interruption(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by Ctrl-C or a signal"
    if isinstance(exc, SystemExit):
        return f"the process exited ({exc.code})"
    return type(exc).__name__


def _plan_for(project: ProjectRecord) -> ProjectPlan:
    """The plan to rewrite files of an indexed project (no listing involved)."""
    return ProjectPlan(
        Project(id=project.id, name=project.name, created_at=project.created_at), project.dirname
    )


def _is_new_or_changed(summary: SessionSummary, indexed: dict[str, SessionRecord]) -> bool:
    record = indexed.get(summary.id)
    if record is None:
        return True
    if summary.etag:  # the recent page may carry etags; when it does they decide
        return not etags_match(summary.etag, record.etag)
    return summary.updated_at != record.updated_at


def _in_project(summary: SessionSummary, project_id: str) -> SessionSummary:
    if summary.project_id == project_id:
        return summary
    return summary.model_copy(update={"project_id": project_id})


def _project_record(project: Project, dirname: str, list_etag: str | None) -> ProjectRecord:
    return ProjectRecord(
        id=project.id,
        name=project.name,
        dirname=dirname,
        created_at=project.created_at,
        updated_at=project.updated_at,
        list_etag=list_etag,
    )


__all__ = ["ProjectPlan", "SyncEngine", "SyncOptions"]
