"""Apply one session's step of a plan: download, rewrite, move, index.

Each step either lands (file in place, then its index row) or raises for that session
alone. A file syncd wrote but whose index row a crash lost is recognised by its bytes
when the step is done again, so it is never mistaken for a local edit.
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
from syncd.cloud.models import Project, SessionSummary, etags_match
from syncd.errors import (
    BadResponseError,
    BodySizeError,
    StaleListingError,
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
from syncd.sync.plan import Fetch, Reindex, Rewrite
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

# A body whose transfer broke is tried once more in the same run; other failures wait
# for the next run (the client already retried the request itself).
BODY_ATTEMPTS = 2


@dataclass
class SessionSync:
    client: CloudClient
    store: Store
    mirror: Mirror
    clock: Callable[[], datetime]
    # Called as body bytes arrive: a long download is progress, not a hang.
    heartbeat: Callable[[], None] = lambda: None

    def apply(
        self, project: Project, step: Fetch | Rewrite, report: CycleReport
    ) -> SessionRecord | None:
        """Carry out one download or rewrite; the new index record, None when unchanged."""
        if isinstance(step, Rewrite):
            return self._rewrite(project, step, report)
        return self._fetch(project, step, report)

    def reindex(self, step: Reindex) -> SessionRecord:
        """Refresh what only the index holds; the file already says the same."""
        updated = dataclasses.replace(
            step.previous,
            metadata=metadata_dict(step.summary),
            raw_data_size=step.summary.raw_data_size,
        )
        self.store.save_session(updated)
        return updated

    def refresh_file(
        self, project: Project, record: SessionRecord, report: CycleReport | None = None
    ) -> SessionRecord | None:
        """Rewrite a session's front matter from its record (e.g. a new story URL)."""
        summary = summary_from_record(record)
        rewrite = Rewrite(summary, record.path, record, record.cloud_deleted_at)
        return self._rewrite(project, rewrite, report or CycleReport())

    def _story_url(self, session_id: str, previous: SessionRecord | None) -> str | None:
        # Read afresh: the push worker may have recorded a story URL since this cycle began.
        current = self.store.session(session_id) if previous is not None else None
        return current.pullstory_url if current is not None else None

    def _fetch(
        self, project: Project, fetch: Fetch, report: CycleReport, known: Verdict | None = None
    ) -> SessionRecord | None:
        """Download a session; `known` is the file's verdict when the caller just read it."""
        verdict, set_aside = self._local_edits(fetch, known)
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                return self._download(project, fetch, verdict, set_aside, report)
            except (BodySizeError, TransferInterruptedError) as exc:
                broken = isinstance(exc, TransferInterruptedError) or exc.truncated
                if not broken or attempt == BODY_ATTEMPTS:
                    raise
                logger.warning("session %s: %s; trying again", fetch.summary.id, exc.message)
        return None

    def _download(
        self,
        project: Project,
        fetch: Fetch,
        verdict: Verdict,
        set_aside: tuple[str, str] | None,
        report: CycleReport,
    ) -> SessionRecord | None:
        summary = fetch.summary
        # A file the user edited does not hold the version its etag names: ask for the body.
        if_none_match = fetch.if_none_match if verdict.body_reusable else None
        with self.client.session_body(
            project.id,
            summary.id,
            if_none_match=if_none_match,
            listed_etag=summary.etag,
            listed_size=summary.markdown_size,
        ) as body:
            if body is None:
                return self._not_modified(project, fetch, report)
            return self._write_body(project, fetch, body, verdict, set_aside, report)

    def _not_modified(
        self, project: Project, fetch: Fetch, report: CycleReport
    ) -> SessionRecord | None:
        """304: the version we hold is current; only its place or front matter may change."""
        previous = fetch.previous
        if previous is None:
            raise BadResponseError(
                self.client.session_url(project.id, fetch.summary.id),
                "304 Not Modified for a request that held no etag",
            )
        if fetch.summary.etag and not etags_match(fetch.summary.etag, previous.etag):
            raise StaleListingError(fetch.summary.id, fetch.summary.etag, previous.etag)
        summary = fetch.summary.model_copy(update={"etag": previous.etag})
        if fetch.path != previous.path or not describes_same_file(summary, previous):
            return self._rewrite(project, Rewrite(summary, fetch.path, previous), report)
        report.unchanged += 1
        return None

    def _write_body(
        self,
        project: Project,
        fetch: Fetch,
        body: SessionBody,
        verdict: Verdict,
        set_aside: tuple[str, str] | None,
        report: CycleReport,
    ) -> SessionRecord:
        summary = fetch.summary
        etag = body.etag or summary.etag
        story = fetch.previous.pullstory_url if fetch.previous else None
        header = self._header(project, summary, etag, verdict, story)
        body_hash = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            yield header
            for chunk in body.chunks():
                body_hash.update(chunk)
                self.heartbeat()
                yield chunk

        # The edited file moves aside only once the new version is safely on disk, so a
        # failed download leaves it (and its pullstory mark) where it was.
        outcome = self.mirror.write(fetch.path, chunks(), set_aside=set_aside)
        if outcome.set_aside is not None and set_aside is not None:
            logger.warning("%s was edited locally: kept it as %s", set_aside[0], outcome.set_aside)
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
        self, project: Project, rewrite: Rewrite, report: CycleReport
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
            return self._fetch(project, fetch, report, known=verdict)
        header = self._header(
            project,
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
        project: Project,
        summary: SessionSummary,
        etag: str | None,
        verdict: Verdict,
        pullstory_url: str | None,
        deleted_in_cloud: str | None = None,
    ) -> bytes:
        source = self.client.session_url(project.id, summary.id)
        header = header_for(summary, project.name, etag, source, pullstory_url, deleted_in_cloud)
        # The user's own mark survives every rewrite.
        return frontmatter.render(dataclasses.replace(header, pullstory=verdict.pullstory))

    def _local_edits(
        self, fetch: Fetch, known: Verdict | None
    ) -> tuple[Verdict, tuple[str, str] | None]:
        """The file's verdict, and (the user's edited file, where to keep it beside the new
        version) when it is edited; None when nothing of the user's is in the way."""
        previous = fetch.previous
        if previous is None:
            return Verdict(FileState.MISSING), None
        verdict = known or classify(self.mirror.inspect(previous.path), previous)
        if verdict.state is not FileState.EDITED:
            return verdict, None
        return verdict, (previous.path, self._free_local_copy_name(PurePosixPath(fetch.path)))

    def _free_local_copy_name(self, source: PurePosixPath) -> str:
        """A name for the user's copy that no earlier copy has (never overwrite an edit)."""
        when = self.clock()
        number = 1
        while True:
            kept = (source.parent / local_copy_name(source.name, when, number)).as_posix()
            if not self.mirror.exists(kept):
                return kept
            number += 1

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
            old_folder = PurePosixPath(previous.path).parent
            if old_folder != PurePosixPath(path).parent:
                self.mirror.remove_empty_dir(old_folder.as_posix())  # it held only this one
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
