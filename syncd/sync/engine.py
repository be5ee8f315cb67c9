"""Run one sync cycle: list, plan, fetch/rewrite, index, regenerate pages.

One item failing never stops the cycle: it is logged once, counted and retried on the
next run. Only a rejected key or a long rate-limit wait stops the cycle early.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from syncd.cloud.budget import BudgetSnapshot
from syncd.cloud.client import CloudClient, SessionBody
from syncd.cloud.models import Project, SessionSummary, etags_match
from syncd.errors import (
    BadResponseError,
    BodySizeError,
    BudgetExhaustedError,
    RateLimitedError,
    StaleListingError,
    StopRequested,
    SyncdError,
    TransferInterruptedError,
)
from syncd.index.store import BudgetRecord, ProjectRecord, RunRecord, SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.paths import local_copy_name
from syncd.mirror.writer import Mirror
from syncd.sync import overview
from syncd.sync.convert import describes_same_file, header_for, record_for
from syncd.sync.localedits import FileState, Verdict, classify
from syncd.sync.planner import Fetch, ProjectPlan, Rewrite, assign_dirnames, plan_project
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Clock = Callable[[], datetime]

# A body whose transfer broke is tried once more in the same run; other failures wait
# for the next run (the client already retried the request itself).
BODY_ATTEMPTS = 2


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncEngine:
    client: CloudClient
    store: Store
    mirror: Mirror
    clock: Clock = _utcnow
    progress: Progress | None = None

    def run_once(self) -> CycleReport:
        """Mirror every project and session; returns what happened (never raises for items)."""
        self.mirror.ensure_root()
        self.mirror.sweep_temp_files()
        self._restore_budget()
        started_at = self.clock()
        run_id = self.store.start_run(started_at)
        report = CycleReport()
        requests_before = self.client.stats.requests
        not_modified_before = self.client.stats.not_modified
        try:
            self._cycle(report)
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
                    deferred=report.deferred,
                    deleted=report.deleted,
                )
            )
        return report

    def _restore_budget(self) -> None:
        budget = self.client.budget
        saved = self.store.budget()
        if not budget.known and saved is not None:
            budget.restore(
                BudgetSnapshot(
                    saved.limit,
                    saved.remaining,
                    saved.reset_at,
                    saved.observed_at,
                    saved.blocked_until,
                )
            )

    def _save_budget(self) -> None:
        snapshot = self.client.budget.snapshot()
        if snapshot is not None:
            self.store.save_budget(
                BudgetRecord(
                    snapshot.limit,
                    snapshot.remaining,
                    snapshot.reset_at,
                    snapshot.observed_at,
                    snapshot.blocked_until,
                )
            )

    # --- projects ----------------------------------------------------------------------

    def _cycle(self, report: CycleReport) -> None:
        try:
            projects, bad_projects = self.client.list_projects()
        except HALTS as exc:
            self._halt(report, exc, pending=0)
            return
        for item in bad_projects:
            report.fail(f"project #{item.position} ({item.item_id}): {item.problem}")
        indexed_projects = self.store.projects()
        dirnames = assign_dirnames(projects, indexed_projects)
        # Folders are claimed for every project up front, in one transaction, so that two
        # projects trading names never hold the same folder, even for a moment.
        self.store.save_dirnames([self._project_record(p, dirnames[p.id], None) for p in projects])
        indexed = self.store.sessions()
        for position, project in enumerate(projects, start=1):
            if self.progress:
                self.progress(position, len(projects), project.name)
            self.client.budget.pending = len(projects) - position + 1
            try:
                self._sync_project(project, dirnames[project.id], indexed_projects, indexed, report)
            except (*HALTS, CycleHalted) as exc:
                self._halt(report, exc, pending=0)
                break
            except SyncdError as exc:
                logger.error("project %s: %s", project.id, exc.message)
                report.fail(f"project {project.id}: {exc.message}")
        self._write_pages(projects, dirnames)
        self._drop_abandoned_folders(set(dirnames.values()))

    def _sync_project(
        self,
        project: Project,
        dirname: str,
        indexed_projects: dict[str, ProjectRecord],
        indexed: dict[str, SessionRecord],
        report: CycleReport,
    ) -> None:
        failures_before = report.failed
        previous = indexed_projects.get(project.id)
        renamed = previous is not None and previous.name != project.name
        moved = previous is not None and previous.dirname != dirname
        # After a rename or move every session must be looked at, so the listing's etag
        # from before is of no use.
        held_etag = previous.list_etag if previous and not (renamed or moved) else None
        listing = self.client.list_sessions(project.id, etag=held_etag)
        listed = None
        if listing is not None:
            for item in listing.errors:
                report.fail(f"session {item.item_id or '#' + str(item.position)}: {item.problem}")
            # A session is filed under the project whose listing it came from.
            listed = [_in_project(s, project.id) for s in listing.sessions]
        concerned = {s.id for s in listed or ()}
        missing = [
            r.id
            for r in indexed.values()
            if (r.project_id == project.id or r.id in concerned) and not self.mirror.exists(r.path)
        ]
        plan = plan_project(
            project, dirname, listed, indexed, missing_files=missing, project_renamed=renamed
        )
        self._execute(plan, report, indexed)
        if report.failed == failures_before:
            # Only a fully applied listing may be skipped next time (and only then is the
            # new project name final: until then its sessions are still looked at).
            list_etag = listing.etag if listing is not None else held_etag
            self.store.save_project(self._project_record(project, dirname, list_etag))

    def _halt(self, report: CycleReport, exc: Exception, pending: int) -> None:
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

    def _project_record(
        self, project: Project, dirname: str, list_etag: str | None
    ) -> ProjectRecord:
        return ProjectRecord(
            id=project.id,
            name=project.name,
            dirname=dirname,
            created_at=project.created_at,
            updated_at=project.updated_at,
            list_etag=list_etag,
        )

    # --- sessions ----------------------------------------------------------------------

    def _execute(
        self, plan: ProjectPlan, report: CycleReport, indexed: dict[str, SessionRecord]
    ) -> None:
        report.unchanged += len(plan.unchanged)
        items: list[Rewrite | Fetch] = [*plan.rewrites, *plan.fetches]
        for position, item in enumerate(items):
            session_id = item.summary.id
            record: SessionRecord | None
            self.client.budget.pending = len(items) - position
            try:
                if isinstance(item, Rewrite):
                    record = self._rewrite(plan, item, report)
                else:
                    record = self._fetch(plan, item, report)
            except HALTS as exc:
                raise CycleHalted(exc, pending=len(items) - position) from exc
            except SyncdError as exc:
                logger.error("session %s: %s", session_id, exc.message)
                report.fail(f"session {session_id}: {exc.message}")
                continue
            if record is not None:
                indexed[session_id] = record

    def _fetch(self, plan: ProjectPlan, fetch: Fetch, report: CycleReport) -> SessionRecord | None:
        verdict = self._protect_local_edits(fetch.previous)
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                return self._download(plan, fetch, verdict, report)
            except (BodySizeError, TransferInterruptedError) as exc:
                broken = isinstance(exc, TransferInterruptedError) or exc.truncated
                if not broken or attempt == BODY_ATTEMPTS:
                    raise
                logger.warning("session %s: %s; trying again", fetch.summary.id, exc.message)
        return None

    def _download(
        self, plan: ProjectPlan, fetch: Fetch, verdict: Verdict, report: CycleReport
    ) -> SessionRecord | None:
        summary = fetch.summary
        # A file the user edited has been moved aside: its etag no longer describes a file.
        if_none_match = fetch.if_none_match if verdict.body_reusable else None
        with self.client.session_body(
            plan.project.id,
            summary.id,
            if_none_match=if_none_match,
            listed_etag=summary.etag,
            listed_size=summary.markdown_size,
        ) as body:
            if body is None:
                return self._not_modified(plan, fetch, report)
            return self._write_body(plan, fetch, body, verdict, report)

    def _not_modified(
        self, plan: ProjectPlan, fetch: Fetch, report: CycleReport
    ) -> SessionRecord | None:
        """304: the version we hold is current; only its place or front matter may change."""
        previous = fetch.previous
        if previous is None:
            raise BadResponseError(
                self.client.session_url(plan.project.id, fetch.summary.id),
                "304 Not Modified for a request that held no etag",
            )
        if fetch.summary.etag and not etags_match(fetch.summary.etag, previous.etag):
            raise StaleListingError(fetch.summary.id, fetch.summary.etag, previous.etag)
        summary = fetch.summary.model_copy(update={"etag": previous.etag})
        if fetch.path != previous.path or not describes_same_file(summary, previous):
            return self._rewrite(plan, Rewrite(summary, fetch.path, previous), report)
        report.unchanged += 1
        return None

    def _write_body(
        self,
        plan: ProjectPlan,
        fetch: Fetch,
        body: SessionBody,
        verdict: Verdict,
        report: CycleReport,
    ) -> SessionRecord:
        summary = fetch.summary
        etag = body.etag or summary.etag
        header = self._header(plan, summary, etag, verdict)
        body_hash = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            yield header
            for chunk in body.chunks():
                body_hash.update(chunk)
                yield chunk

        outcome = self.mirror.write(fetch.path, chunks())
        report.fetched += 1
        return self._finish_write(
            fetch.previous,
            fetch.path,
            summary,
            etag,
            body_hash.hexdigest(),
            outcome.sha256,
            body.received,
            report,
        )

    def _rewrite(
        self, plan: ProjectPlan, rewrite: Rewrite, report: CycleReport
    ) -> SessionRecord | None:
        """New front matter and/or place for a body already on disk: no download."""
        previous = rewrite.previous
        inspection = self.mirror.inspect(previous.path)
        verdict = classify(inspection, previous)
        if inspection is None or not verdict.body_reusable:
            # The body on disk is not the cloud's any more: fetch it again instead.
            fetch = Fetch(rewrite.summary, rewrite.path, previous, None)
            return self._fetch(plan, fetch, report)
        header = self._header(plan, rewrite.summary, previous.etag, verdict)
        size = self.mirror.resolve(previous.path).stat().st_size - inspection.body_offset
        chunks: Iterable[bytes] = itertools.chain(
            [header], self.mirror.iter_bytes(previous.path, inspection.body_offset)
        )
        outcome = self.mirror.write(rewrite.path, chunks)
        return self._finish_write(
            previous,
            rewrite.path,
            rewrite.summary,
            previous.etag,
            inspection.body_sha256,
            outcome.sha256,
            size,
            report,
        )

    def _header(
        self, plan: ProjectPlan, summary: SessionSummary, etag: str | None, verdict: Verdict
    ) -> bytes:
        source = self.client.session_url(plan.project.id, summary.id)
        header = header_for(summary, plan.project.name, etag, source)
        # The user's own mark survives every rewrite.
        return frontmatter.render(dataclasses.replace(header, pullstory=verdict.pullstory))

    def _protect_local_edits(self, previous: SessionRecord | None) -> Verdict:
        """Keep a user's edited copy beside the file before it is replaced."""
        if previous is None:
            return Verdict(FileState.MISSING)
        verdict = classify(self.mirror.inspect(previous.path), previous)
        if verdict.state is FileState.EDITED:
            source = PurePosixPath(previous.path)
            kept = (source.parent / local_copy_name(source.name, self.clock())).as_posix()
            self.mirror.move(previous.path, kept)
            logger.warning("%s was edited locally: kept it as %s", previous.path, kept)
        return verdict

    def _finish_write(
        self,
        previous: SessionRecord | None,
        path: str,
        summary: SessionSummary,
        etag: str | None,
        body_sha256: str,
        file_sha256: str,
        size: int,
        report: CycleReport,
    ) -> SessionRecord:
        # The old file goes before the index moves on: a crash in between leaves an index
        # pointing at a missing file, which the next run fetches again (no stale duplicate).
        if previous is not None and previous.path != path:
            self.mirror.remove(previous.path)
            logger.info("moved %s -> %s", previous.path, path)
        record = record_for(
            summary,
            path=path,
            etag=etag,
            body_sha256=body_sha256,
            file_sha256=file_sha256,
            markdown_size=size,
            synced_at=self.clock(),
        )
        self.store.save_session(record)
        if previous is None:
            report.new += 1
            logger.debug("new %s -> %s", summary.id, path)
        else:
            report.updated += 1
            logger.debug("updated %s -> %s", summary.id, path)
        return record

    # --- pages and folders -------------------------------------------------------------

    def _write_pages(self, projects: list[Project], dirnames: dict[str, str]) -> None:
        sessions = self.store.sessions()
        for path, content in overview.render_pages(projects, dirnames, sessions.values()).items():
            self.mirror.write_bytes(path, content)

    def _drop_abandoned_folders(self, in_use: set[str]) -> None:
        """A project folder left with only its generated INDEX.md (after a move) goes."""
        owned = in_use | {p.dirname for p in self.store.projects().values()}
        for folder in self.mirror.top_level_folders():
            if folder not in owned and self.mirror.only_holds(folder, {overview.PROJECT_INDEX}):
                self.mirror.remove(f"{folder}/{overview.PROJECT_INDEX}")
                self.mirror.remove_empty_dir(folder)
                logger.info("removed the empty folder %s", folder)


class CycleHalted(Exception):
    """Carries a halt out of a project together with the items it left undone."""

    def __init__(self, cause: SyncdError, pending: int) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.pending = pending


# Conditions that end a cycle early without failing its items: they are done later.
HALTS = (RateLimitedError, BudgetExhaustedError, StopRequested)


def _in_project(summary: SessionSummary, project_id: str) -> SessionSummary:
    if summary.project_id == project_id:
        return summary
    return summary.model_copy(update={"project_id": project_id})
