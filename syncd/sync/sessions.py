"""Bring one project's sessions in line with its plan: download, rewrite, move, index.

Each item either lands (file in place, then index row) or fails alone; conditions that
stop the whole cycle (rate budget, stopping) are raised as CycleHalted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from syncd.cloud.client import CloudClient, SessionBody
from syncd.cloud.models import SessionSummary, etags_match
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
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.paths import local_copy_name
from syncd.mirror.writer import Mirror
from syncd.sync.convert import (
    describes_same_file,
    header_for,
    metadata_dict,
    record_for,
    summary_from_record,
)
from syncd.sync.localedits import FileState, Verdict, classify
from syncd.sync.planner import Fetch, ProjectPlan, Rewrite
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

# A body whose transfer broke is tried once more in the same run; other failures wait
# for the next run (the client already retried the request itself).
BODY_ATTEMPTS = 2

# Conditions that end a cycle early without failing its items: they are done later.
HALTS = (RateLimitedError, BudgetExhaustedError, StopRequested)


class CycleHalted(Exception):
    """Carries a halt out of a project together with the items it left undone."""

    def __init__(self, cause: SyncdError, pending: int) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.pending = pending


@dataclass
class SessionSync:
    client: CloudClient
    store: Store
    mirror: Mirror
    clock: Callable[[], datetime]
    dry_run: bool = False
    # Called before each item: beats the daemon's heartbeat, raises StopRequested to stop.
    checkpoint: Callable[[], None] = lambda: None
    # Called as body bytes arrive: a long download is progress, not a hang.
    heartbeat: Callable[[], None] = lambda: None

    def execute(
        self, plan: ProjectPlan, report: CycleReport, indexed: dict[str, SessionRecord]
    ) -> None:
        report.unchanged += len(plan.unchanged)
        items: list[Rewrite | Fetch] = [*plan.rewrites, *plan.fetches]
        if self.dry_run:
            report.actions.extend(_describe(item) for item in items)
            return
        for summary in plan.reindex:
            indexed[summary.id] = self._reindex(summary, indexed[summary.id])
        for position, item in enumerate(items):
            session_id = item.summary.id
            record: SessionRecord | None
            self.client.budget.pending = len(items) - position
            try:
                self.checkpoint()
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

    def refresh_file(
        self, plan: ProjectPlan, record: SessionRecord, report: CycleReport | None = None
    ) -> SessionRecord | None:
        """Rewrite a session's front matter from its record (e.g. a new story URL)."""
        summary = summary_from_record(record)
        rewrite = Rewrite(summary, record.path, record, record.cloud_deleted_at)
        return self._rewrite(plan, rewrite, report or CycleReport())

    def _story_url(self, session_id: str, previous: SessionRecord | None) -> str | None:
        # Read afresh: the push worker may have recorded a story URL since this cycle began.
        current = self.store.session(session_id) if previous is not None else None
        return current.pullstory_url if current is not None else None

    def _reindex(self, summary: SessionSummary, record: SessionRecord) -> SessionRecord:
        """Refresh what only the index holds; the file already says the same."""
        updated = dataclasses.replace(
            record,
            metadata=metadata_dict(summary),
            raw_data_size=summary.raw_data_size,
        )
        self.store.save_session(updated)
        return updated

    def _fetch(
        self, plan: ProjectPlan, fetch: Fetch, report: CycleReport, known: Verdict | None = None
    ) -> SessionRecord | None:
        """Download a session; `known` is the file's verdict when the caller just read it."""
        verdict = self._protect_local_edits(fetch.previous, known)
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
        story = fetch.previous.pullstory_url if fetch.previous else None
        header = self._header(plan, summary, etag, verdict, story)
        body_hash = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            yield header
            for chunk in body.chunks():
                body_hash.update(chunk)
                self.heartbeat()
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
            if rewrite.deleted_in_cloud is not None:
                # Kept after its deletion: there is nothing to fetch, and the user's copy
                # (edited, or removed) is theirs. Left exactly as it is.
                logger.info("kept session %s: %s left as it is", previous.id, previous.path)
                return None
            # The body on disk is not the cloud's any more: fetch it again instead.
            fetch = Fetch(rewrite.summary, rewrite.path, previous, None)
            return self._fetch(plan, fetch, report, known=verdict)
        header = self._header(
            plan,
            rewrite.summary,
            previous.etag,
            verdict,
            previous.pullstory_url,
            rewrite.deleted_in_cloud,
        )
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
            rewrite.deleted_in_cloud,
        )

    def _header(
        self,
        plan: ProjectPlan,
        summary: SessionSummary,
        etag: str | None,
        verdict: Verdict,
        pullstory_url: str | None,
        deleted_in_cloud: str | None = None,
    ) -> bytes:
        source = self.client.session_url(plan.project.id, summary.id)
        header = header_for(
            summary, plan.project.name, etag, source, pullstory_url, deleted_in_cloud
        )
        # The user's own mark survives every rewrite.
        return frontmatter.render(dataclasses.replace(header, pullstory=verdict.pullstory))

    def _protect_local_edits(
        self, previous: SessionRecord | None, known: Verdict | None = None
    ) -> Verdict:
        """Keep a user's edited copy beside the file before it is replaced."""
        if previous is None:
            return Verdict(FileState.MISSING)
        verdict = known or classify(self.mirror.inspect(previous.path), previous)
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
        cloud_deleted_at: str | None = None,
    ) -> SessionRecord:
        # The old file goes before the index moves on: a crash in between leaves an index
        # pointing at a missing file, which the next run fetches again (no stale duplicate).
        if previous is not None and previous.path != path:
            self.mirror.remove(previous.path)
            report.dropped(previous.path)
            logger.info("moved %s -> %s", previous.path, path)
        report.touched(path)
        if cloud_deleted_at is None:  # a kept session's mark is reported by the engine
            kind = "new" if previous is None else "updated"
            report.changes.append((kind, summary.project_id, summary.name or summary.id))
        record = record_for(
            summary,
            path=path,
            etag=etag,
            body_sha256=body_sha256,
            file_sha256=file_sha256,
            markdown_size=size,
            synced_at=self.clock(),
            pullstory_url=self._story_url(summary.id, previous),
            cloud_deleted_at=cloud_deleted_at,
        )
        self.store.save_session(record)
        if cloud_deleted_at is not None:
            return record  # not an update from the cloud
        if previous is None:
            report.new += 1
            logger.debug("new %s -> %s", summary.id, path)
        else:
            report.updated += 1
            logger.debug("updated %s -> %s", summary.id, path)
        return record


def _describe(item: Rewrite | Fetch) -> str:
    if isinstance(item, Fetch):
        verb = "fetch  " if item.previous is None else "update "
        return f"{verb} {item.path}"
    if item.path != item.previous.path:
        return f"move    {item.previous.path} -> {item.path}"
    return f"refresh {item.path} (front matter only)"
