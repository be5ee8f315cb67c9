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

from syncd.cloud.client import CloudClient
from syncd.cloud.models import Project, etags_match
from syncd.errors import (
    BadResponseError,
    BodySizeError,
    StaleListingError,
    TransferInterruptedError,
)
from syncd.index.store import Store
from syncd.mirror import frontmatter
from syncd.mirror.frontmatter import header_for, shows_same
from syncd.mirror.paths import UNTITLED, local_copy_name, slugify
from syncd.mirror.writer import Mirror
from syncd.model import Session, SessionRecord
from syncd.sync.localedits import FileState, Verdict, classify
from syncd.sync.naming import HEAD_BYTES, first_request_words, named_by_body
from syncd.sync.plan import BodyName, Fetch, Reindex, Rewrite
from syncd.sync.prefetch import ArrivedBody, Prefetcher
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
    # Set by the executor for a run: bodies of new sessions fetched a few steps ahead.
    prefetch: Prefetcher | None = None
    # Set by the executor for a run: the paths its plan may write (case-folded), which a
    # path named from a body must not take.
    claimed: frozenset[str] = frozenset()

    def apply(
        self, project: Project, step: Fetch | Rewrite, report: CycleReport
    ) -> SessionRecord | None:
        """Carry out one download or rewrite; the new index record, None when unchanged."""
        if isinstance(step, Rewrite):
            return self._rewrite(project, step, report)
        return self._fetch(project, step, report)

    def reindex(self, step: Reindex) -> SessionRecord:
        """Refresh what only the index holds; the file already says the same."""
        updated = step.previous.refreshed(step.session)
        self.store.save_session(updated)
        return updated

    def refresh_file(
        self, project: Project, record: SessionRecord, report: CycleReport | None = None
    ) -> SessionRecord | None:
        """Rewrite a session's front matter from its record (e.g. a new story URL); a file
        the user edited or removed is left as it is, and nothing is ever downloaded."""
        rewrite = Rewrite(
            record.session, record.path, record, record.cloud_deleted_at, download_if_needed=False
        )
        return self._rewrite(project, rewrite, report or CycleReport())

    def _story_url(self, session_id: str, previous: SessionRecord | None) -> str | None:
        # Read afresh: the push worker may have recorded a story URL since this cycle began.
        current = self.store.session(session_id) if previous is not None else None
        return current.pullstory_url if current is not None else None

    def _fetch(
        self, project: Project, fetch: Fetch, report: CycleReport, known: Verdict | None = None
    ) -> SessionRecord | None:
        """Download a session; `known` is the file's verdict when the caller just read it."""
        verdict = known or self._verdict(fetch.previous)
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                return self._download(project, fetch, verdict, report)
            except (BodySizeError, TransferInterruptedError) as exc:
                broken = isinstance(exc, TransferInterruptedError) or exc.truncated
                if not broken or attempt == BODY_ATTEMPTS:
                    raise
                logger.warning("session %s: %s; trying again", fetch.session.id, exc.message)
        return None

    def _download(
        self,
        project: Project,
        fetch: Fetch,
        verdict: Verdict,
        report: CycleReport,
    ) -> SessionRecord | None:
        session = fetch.session
        arrived = self.prefetch.take(session.id) if self.prefetch is not None else None
        if arrived is not None and arrived.body is None:
            return self._not_modified(project, fetch, report)
        if arrived is not None and arrived.body is not None:
            try:
                return self._write_body(project, fetch, arrived.body, verdict, report)
            finally:
                arrived.body.close()
        # A file the user edited does not hold the version its etag names: ask for the body.
        if_none_match = fetch.if_none_match if verdict.body_reusable else None
        with self.client.session_body(
            project.id,
            session.id,
            if_none_match=if_none_match,
            listed_etag=session.etag,
            listed_size=session.markdown_size,
        ) as body:
            if body is None:
                return self._not_modified(project, fetch, report)
            return self._write_body(project, fetch, body, verdict, report)

    def _not_modified(
        self, project: Project, fetch: Fetch, report: CycleReport
    ) -> SessionRecord | None:
        """304: the version we hold is current; only its place or front matter may change."""
        previous = fetch.previous
        if previous is None:
            raise BadResponseError(
                self.client.session_url(project.id, fetch.session.id),
                "304 Not Modified for a request that held no etag",
            )
        if fetch.session.etag and not etags_match(fetch.session.etag, previous.etag):
            raise StaleListingError(fetch.session.id, fetch.session.etag, previous.etag)
        session = dataclasses.replace(fetch.session, etag=previous.etag)
        if (
            fetch.path != previous.path
            or fetch.body_name is not None
            or not shows_same(session, previous)
        ):
            rewrite = Rewrite(session, fetch.path, previous, body_name=fetch.body_name)
            return self._rewrite(project, rewrite, report)
        report.unchanged += 1
        return None

    def _write_body(
        self,
        project: Project,
        fetch: Fetch,
        body: ArrivedBody,
        verdict: Verdict,
        report: CycleReport,
    ) -> SessionRecord:
        session = fetch.session
        etag = body.etag or session.etag
        story = fetch.previous.pullstory_url if fetch.previous else None
        header = self._header(project, session, etag, verdict, story)
        body_hash = hashlib.sha256()
        arriving = body.chunks()
        words = _kept_words(session, fetch.previous)
        if fetch.body_name is not None:
            # The start of the body names the file: read it first, then write it all.
            head = _read_head(arriving, self.heartbeat)
            arriving = itertools.chain(head, arriving)
            words = slugify(first_request_words(b"".join(head)))
            path, words = self._body_named_path(
                session.id, fetch.body_name, words, fetch.path, fetch.previous
            )
            fetch = dataclasses.replace(fetch, path=path)

        def chunks() -> Iterator[bytes]:
            yield header
            for chunk in arriving:
                body_hash.update(chunk)
                self.heartbeat()
                yield chunk

        def record(file_sha256: str) -> SessionRecord:
            digest = body_hash.hexdigest()
            return self._record(
                fetch.previous,
                fetch.path,
                session,
                _settled_etag(etag, body, digest, fetch.previous),
                digest,
                file_sha256,
                body.received,
                name_words=words,
            )

        replaceable = _replaceable(fetch.previous, fetch.path, verdict)
        landed = self._land(fetch.path, chunks(), record, replaceable)
        report.fetched += 1
        return self._finish_write(fetch.previous, landed, verdict, report)

    def _rewrite(
        self, project: Project, rewrite: Rewrite, report: CycleReport
    ) -> SessionRecord | None:
        """New front matter and/or place for a body already on disk: no download."""
        previous = rewrite.previous
        inspection = self.mirror.inspect(previous.path)
        verdict = classify(inspection, previous)
        if inspection is None or not verdict.body_reusable:
            if not rewrite.download_if_needed:
                # The user's copy (edited, or removed) is theirs: left exactly as it is.
                logger.info("session %s: %s left as it is", previous.id, previous.path)
                return None
            # The body on disk is not the cloud's any more: fetch it again instead.
            fetch = Fetch(rewrite.session, rewrite.path, previous, None, rewrite.body_name)
            return self._fetch(project, fetch, report, known=verdict)
        words = _kept_words(rewrite.session, previous)
        if rewrite.body_name is not None:
            head = _read_head(
                self.mirror.iter_bytes(previous.path, inspection.body_offset), self.heartbeat
            )
            words = slugify(first_request_words(b"".join(head)))
            path, words = self._body_named_path(
                previous.id, rewrite.body_name, words, rewrite.path, previous
            )
            rewrite = dataclasses.replace(rewrite, path=path)
        header = self._header(
            project,
            rewrite.session,
            previous.etag,
            verdict,
            previous.pullstory_url,
            rewrite.deleted_in_cloud,
        )
        size = inspection.size - inspection.body_offset
        chunks: Iterable[bytes] = itertools.chain(
            [header], self.mirror.iter_bytes(previous.path, inspection.body_offset)
        )

        def record(file_sha256: str) -> SessionRecord:
            return self._record(
                previous,
                rewrite.path,
                rewrite.session,
                previous.etag,
                inspection.body_sha256,
                file_sha256,
                size,
                rewrite.deleted_in_cloud,
                name_words=words,
            )

        landed = self._land(
            rewrite.path, chunks, record, _replaceable(previous, rewrite.path, verdict)
        )
        return self._finish_write(previous, landed, verdict, report)

    def _header(
        self,
        project: Project,
        session: Session,
        etag: str | None,
        verdict: Verdict,
        pullstory_url: str | None,
        deleted_in_cloud: str | None = None,
    ) -> bytes:
        source = self.client.session_url(project.id, session.id)
        header = header_for(session, project.name, etag, source, pullstory_url, deleted_in_cloud)
        # The user's own mark survives every rewrite.
        return frontmatter.render(dataclasses.replace(header, pullstory=verdict.pullstory))

    def _verdict(self, previous: SessionRecord | None) -> Verdict:
        """What the file syncd last wrote holds now (missing for a new session)."""
        if previous is None:
            return Verdict(FileState.MISSING)
        return classify(self.mirror.inspect(previous.path), previous)

    def _land(
        self,
        path: str,
        chunks: Iterable[bytes],
        record: Callable[[str], SessionRecord],
        replaceable: frozenset[str],
    ) -> SessionRecord:
        """Write the file and return the index row it stands for.

        Once its bytes are on disk, and before it is renamed into place, the row is kept as
        a pending write, so a crash in between is finished by the next start (see
        `recovery`) instead of being guessed at. A file in the way that is not syncd's to
        replace (the user's edit) is kept beside it, only once the new bytes are safe: a
        download that fails leaves it, and its pullstory mark, where it was.
        """
        made: list[SessionRecord] = []

        def ready(file_sha256: str) -> None:
            made.append(record(file_sha256))
            self.store.begin_write(made[0])

        keep_as = free_local_copy_name(self.mirror, path, self.clock())
        outcome = self.mirror.write(
            path, chunks, keep_as=keep_as, may_replace=replaceable, on_ready=ready
        )
        if outcome.kept_as is not None:
            logger.warning("%s was edited locally: kept it as %s", path, outcome.kept_as)
        return made[0]

    def _record(
        self,
        previous: SessionRecord | None,
        path: str,
        session: Session,
        etag: str | None,
        body_sha256: str,
        file_sha256: str,
        size: int,
        cloud_deleted_at: str | None = None,
        *,
        name_words: str | None,
    ) -> SessionRecord:
        return SessionRecord.of(
            session,
            path=path,
            etag=etag,
            markdown_size=size,
            body_sha256=body_sha256,
            file_sha256=file_sha256,
            synced_at=self.clock(),
            pullstory_url=self._story_url(session.id, previous),
            cloud_deleted_at=cloud_deleted_at,
            name_words=name_words,
        )

    def _body_named_path(
        self,
        session_id: str,
        name: BodyName,
        words: str,
        stand_in: str,
        previous: SessionRecord | None,
    ) -> tuple[str, str]:
        """The path named by `words` and the words it is named by, journaled for git
        before anything is written there. When another session or a file of the user's
        holds that path, or another step of the plan may, the planned stand-in instead (unique
        among the plan's paths), named `untitled`: so later cycles plan it too."""
        path = name.path(words)
        ours = {stand_in, previous.path if previous is not None else stand_in}
        if path not in ours:
            holder = self.store.session_by_path(path)
            in_use = holder is not None and holder.id != session_id
            if in_use or path.casefold() in self.claimed or self.mirror.occupied(path):
                path, words = stand_in, UNTITLED
        self.store.journal([path])
        return path, words

    def _finish_write(
        self,
        previous: SessionRecord | None,
        record: SessionRecord,
        verdict: Verdict,
        report: CycleReport,
    ) -> SessionRecord:
        """The old file goes, then the index row is saved (which ends the pending write)."""
        path = record.path
        if previous is not None and previous.path != path:
            replaceable = verdict.replaceable(previous)
            clear_old_file(self.mirror, previous.path, path, replaceable, self.clock())
            report.dropped(previous.path)
            logger.info("moved %s -> %s", previous.path, path)
        report.touched(path)
        self.store.save_session(record)
        if record.cloud_deleted_at is not None:
            return record  # a kept session's mark, not an update from the cloud
        kind = "new" if previous is None else "updated"
        report.changes.append((kind, record.project_id, record.name or record.id))
        if previous is None:
            report.new += 1
            logger.debug("new %s -> %s", record.id, path)
        else:
            report.updated += 1
            logger.debug("updated %s -> %s", record.id, path)
        return record


def _kept_words(session: Session, previous: SessionRecord | None) -> str | None:
    """The words the file stays named by: kept while the session's name says nothing."""
    if previous is None or not named_by_body(session.name):
        return None
    return previous.name_words


def _read_head(chunks: Iterator[bytes], heartbeat: Callable[[], None]) -> list[bytes]:
    """The first chunks of a body, up to `HEAD_BYTES` (the rest stays in `chunks`)."""
    head: list[bytes] = []
    size = 0
    while size < HEAD_BYTES:
        chunk = next(chunks, None)
        if chunk is None:
            break
        head.append(chunk)
        size += len(chunk)
        heartbeat()
    return head


def _replaceable(previous: SessionRecord | None, path: str, verdict: Verdict) -> frozenset[str]:
    """What may be replaced at `path`: the file syncd wrote there (marked or not); nothing
    at a path it did not write to (a file there is the user's)."""
    if previous is None or previous.path != path:
        return frozenset()
    return verdict.replaceable(previous)


def clear_old_file(
    mirror: Mirror, old: str, new: str, replaceable: frozenset[str], when: datetime
) -> None:
    """Remove a moved session's old file, unless its bytes are not syncd's to remove (the
    user edited it): then it is kept beside the new file. The folder it leaves empty goes."""
    sha256 = mirror.file_sha256(old)
    if sha256 is not None and sha256 not in replaceable:
        kept = free_local_copy_name(mirror, new, when)
        mirror.move(old, kept)
        logger.warning("%s was edited locally: kept it as %s", old, kept)
    elif sha256 is not None:
        mirror.remove(old)
    old_folder = PurePosixPath(old).parent
    if old_folder != PurePosixPath(new).parent:
        mirror.remove_empty_dir(old_folder.as_posix())


def free_local_copy_name(mirror: Mirror, beside: str, when: datetime) -> str:
    """A name for a user's copy beside `beside` that nothing has yet (not even a link)."""
    source = PurePosixPath(beside)
    number = 1
    while True:
        kept = (source.parent / local_copy_name(source.name, when, number)).as_posix()
        if not mirror.occupied(kept):
            return kept
        number += 1


def _settled_etag(
    etag: str | None, body: ArrivedBody, digest: str, previous: SessionRecord | None
) -> str | None:
    """The etag to record for a body just written. A body shorter than the listing said
    may have been cut by a Content-Length that lied: it is kept, but its etag is left
    unrecorded so the next run fetches it once more; the same bytes again settle it."""
    if not body.short_of_listing:
        return etag
    if previous is not None and previous.body_sha256 == digest:
        return etag
    logger.warning(
        "session %s: shorter than the listing said; it is fetched once more next run",
        body.session_id,
    )
    return None
