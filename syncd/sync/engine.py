"""Run one sync cycle: list, plan, fetch/rewrite, index, regenerate pages.

One item failing never stops the cycle: it is logged once, counted and retried on the
next run. Only a rejected key or a long rate-limit wait stops the cycle early.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from syncd.cloud.client import CloudClient, SessionBody
from syncd.cloud.models import Project, SessionSummary
from syncd.errors import AuthError, CloudError, RateLimitedError, StorageError, SyncdError
from syncd.index.store import ProjectRecord, RunRecord, SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror
from syncd.sync import overview
from syncd.sync.convert import describes_same_file, header_for, record_for
from syncd.sync.planner import Fetch, ProjectPlan, Rewrite, assign_dirnames, plan_project
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Clock = Callable[[], datetime]

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
        started_at = self.clock()
        run_id = self.store.start_run(started_at)
        report = CycleReport()
        requests_before = self.client.stats.requests
        not_modified_before = self.client.stats.not_modified
        try:
            self._cycle(report)
        finally:
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
                )
            )
        return report

    def _cycle(self, report: CycleReport) -> None:
        projects, bad_projects = self.client.list_projects()
        for item in bad_projects:
            report.fail(f"project #{item.position} ({item.item_id}): {item.problem}")
        indexed_projects = self.store.projects()
        dirnames = assign_dirnames(projects, indexed_projects)
        indexed = self.store.sessions()
        for position, project in enumerate(projects, start=1):
            if self.progress:
                self.progress(position, len(projects), project.name)
            try:
                self._sync_project(project, dirnames[project.id], indexed_projects, indexed, report)
            except (AuthError, RateLimitedError):
                raise
            except CloudError as exc:
                logger.error("project %s: %s", project.id, exc.message)
                report.fail(f"project {project.id}: {exc.message}")
        self._write_pages(projects, dirnames)

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
        moved = previous is not None and previous.dirname != dirname
        renamed = previous is not None and previous.name != project.name
        # A moved folder makes the stored list etag useless: we must see every session again.
        list_etag = previous.list_etag if previous and not moved and not renamed else None
        listing = self.client.list_sessions(project.id, etag=list_etag)
        listed = None if listing is None else listing.sessions
        if listing is not None:
            for item in listing.errors:
                report.fail(f"session {item.item_id or '#' + str(item.position)}: {item.problem}")
        self._save_project(project, dirname, list_etag)
        listed_ids = {s.id for s in listed} if listed is not None else set()
        missing = [
            r.id
            for r in indexed.values()
            if (r.project_id == project.id or r.id in listed_ids) and not self.mirror.exists(r.path)
        ]
        plan = plan_project(
            project, dirname, listed, indexed, missing_files=missing, project_renamed=renamed
        )
        self._execute(plan, report, indexed)
        if listing is not None and report.failed == failures_before:
            # Only a fully applied listing may be skipped next time via its etag.
            self._save_project(project, dirname, listing.etag)
        if moved and previous is not None:
            self._retire_dir(previous.dirname)

    def _save_project(self, project: Project, dirname: str, list_etag: str | None) -> None:
        self.store.save_project(
            ProjectRecord(
                id=project.id,
                name=project.name,
                dirname=dirname,
                created_at=project.created_at,
                updated_at=project.updated_at,
                list_etag=list_etag,
            )
        )

    def _execute(
        self, plan: ProjectPlan, report: CycleReport, indexed: dict[str, SessionRecord]
    ) -> None:
        report.unchanged += len(plan.unchanged)
        items: list[Rewrite | Fetch] = [*plan.rewrites, *plan.fetches]
        for item in items:
            session_id = item.summary.id
            record: SessionRecord | None
            try:
                if isinstance(item, Rewrite):
                    record = self._rewrite(plan, item, report)
                else:
                    record = self._fetch(plan, item, report)
            except (AuthError, RateLimitedError):
                raise
            except SyncdError as exc:
                logger.error("session %s: %s", session_id, exc.message)
                report.fail(f"session {session_id}: {exc.message}")
                continue
            if record is not None:
                indexed[session_id] = record

    def _fetch(self, plan: ProjectPlan, fetch: Fetch, report: CycleReport) -> SessionRecord | None:
        """Download and write one session; a broken transfer is tried once more."""
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                return self._download(plan, fetch, report)
            except CloudError as exc:
                if isinstance(exc, RateLimitedError) or attempt == BODY_ATTEMPTS:
                    raise
                logger.warning("session %s: %s; trying again", fetch.summary.id, exc.message)
        return None

    def _download(
        self, plan: ProjectPlan, fetch: Fetch, report: CycleReport
    ) -> SessionRecord | None:
        summary = fetch.summary
        with self.client.session_body(
            plan.project.id,
            summary.id,
            if_none_match=fetch.if_none_match,
            listed_etag=summary.etag,
            listed_size=summary.markdown_size,
        ) as body:
            if body is None:
                return self._not_modified(plan, fetch, report)
            return self._write_body(plan, fetch, body, report)

    def _not_modified(
        self, plan: ProjectPlan, fetch: Fetch, report: CycleReport
    ) -> SessionRecord | None:
        """304: the listing's etag was ahead of the body; keep ours, refresh only what moved."""
        previous = fetch.previous
        if previous is None:
            raise CloudError(f"session {fetch.summary.id}: 304 for a request that held no etag")
        summary = fetch.summary.model_copy(update={"etag": previous.etag})
        if fetch.path != previous.path or not describes_same_file(summary, previous):
            return self._rewrite(plan, Rewrite(summary, fetch.path, previous), report)
        report.unchanged += 1
        return None

    def _write_body(
        self, plan: ProjectPlan, fetch: Fetch, body: SessionBody, report: CycleReport
    ) -> SessionRecord:
        summary = fetch.summary
        etag = body.etag or summary.etag
        header = frontmatter.render(
            header_for(
                summary, plan.project.name, etag, self._source_url(plan.project.id, summary.id)
            )
        )
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

    def _rewrite(self, plan: ProjectPlan, rewrite: Rewrite, report: CycleReport) -> SessionRecord:
        previous = rewrite.previous
        current = self.mirror.read_bytes(previous.path)
        if current is None:
            raise StorageError(
                previous.path, "the mirrored file is gone; it is fetched again next run"
            )
        _, body = frontmatter.split(current)
        body_sha = hashlib.sha256(body).hexdigest()
        summary = rewrite.summary
        header = frontmatter.render(
            header_for(
                summary,
                plan.project.name,
                previous.etag,
                self._source_url(plan.project.id, summary.id),
            )
        )
        outcome = self.mirror.write_bytes(rewrite.path, header + body)
        return self._finish_write(
            previous,
            rewrite.path,
            summary,
            previous.etag,
            body_sha,
            outcome.sha256,
            len(body),
            report,
        )

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

    def _write_pages(self, projects: list[Project], dirnames: dict[str, str]) -> None:
        sessions = self.store.sessions()
        for path, content in overview.render_pages(projects, dirnames, sessions.values()).items():
            self.mirror.write_bytes(path, content)

    def _retire_dir(self, dirname: str) -> None:
        self.mirror.remove(f"{dirname}/{overview.PROJECT_INDEX}")
        self.mirror.remove_empty_dir(dirname)

    def _source_url(self, project_id: str, session_id: str) -> str:
        return self.client.session_url(project_id, session_id)
