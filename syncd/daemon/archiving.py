"""After a cycle: commit every journaled path to the git archive, when it is enabled.

Cycles journal the paths they are about to change before changing them (see the sync
executor); a commit takes whatever the journal holds, this cycle's and what a killed or
failed cycle left, and only a commit that landed clears it. How the last commit and push
went is kept in the index for `status` and `doctor`.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from syncd import durable
from syncd.archive.git import ChangeSummary, CommitResult, GitArchive
from syncd.config import Settings
from syncd.errors import StorageError
from syncd.index.store import ArchiveState, Store
from syncd.mirror.names import PROJECT_INDEX, ROOT_README
from syncd.mirror.writer import Mirror
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

#: The git journal's reason for a path written to hold its story URL.
STORY_URL_REASON = "story-url"


def commit_journal(
    settings: Settings, store: Store, report: CycleReport | None = None
) -> CommitResult | None:
    """Commit what the journal holds (`report` words the message); None when there is
    nothing to commit or the archive is off."""
    newest, paths = store.journaled()
    if paths and not settings.git.enabled:
        store.clear_journal(newest)  # nothing to commit into: the journal would only grow
        return None
    if not paths:
        _push_again(settings, store)
        return None  # most daemon cycles: no git process at all
    archive = _archive(settings)
    try:
        archive.ensure_repository()
    except StorageError as exc:  # git missing, or the folder unusable: status must say so
        _record(store, CommitResult(committed=False, error=exc.message), datetime.now(UTC))
        raise
    ours = _syncds_own(store, Mirror(settings.mirror_root), paths, report)
    story_urls = store.journaled_for(STORY_URL_REASON) & set(ours)
    carried = store.journaled_through(report.journal_mark if report else newest) & set(ours)
    summary = _summary(store, report or CycleReport(), carried - story_urls, story_urls)
    result = archive.commit(ours, [], [], summary)
    if result.committed:
        durable.reached("git")
    _record(store, result, datetime.now(UTC))
    if result.error:
        logger.error("git commit failed (retried next cycle): %s", result.error)
        return result
    store.clear_journal(newest)
    if result.committed:
        logger.info("git: committed %d file(s) as %s", result.files, (result.sha or "")[:10])
    if result.push_error:
        logger.warning("git push failed: %s", result.push_error)
    return result


def _syncds_own(
    store: Store, mirror: Mirror, paths: list[str], report: CycleReport | None
) -> list[str]:
    """The journaled paths that hold what syncd wrote there, or that syncd removed: a step
    that failed or left a file alone must not commit the user's own edit of it."""
    written = (report.written | report.removed) if report else set()
    ours = []
    for path in paths:
        if path in written or _is_page(path) or _holds_syncds_version(store, mirror, path):
            ours.append(path)
        else:
            logger.info("git archive: not committing %s, which holds your changes", path)
    return ours


def _holds_syncds_version(store: Store, mirror: Mirror, path: str) -> bool:
    record = store.session_by_path(path)
    if not mirror.exists(path):
        return record is None  # syncd moved or trashed it (a file you deleted keeps its row)
    return record is not None and mirror.file_sha256(path) == record.file_sha256


def _is_page(path: str) -> bool:
    folder, _, name = path.rpartition("/")
    return (not folder and name == ROOT_README) or (
        "/" not in folder and bool(folder) and name == PROJECT_INDEX
    )


def _push_again(settings: Settings, store: Store) -> None:
    """A push that failed is tried again each cycle, new commits or not, so a remote that
    comes back is caught up (and `status` stops saying pushes fail)."""
    if not (settings.git.enabled and settings.git.remote):
        return
    before = store.archive_state()
    if before.push_error is None:
        return
    error = _archive(settings).push()
    failing_since = (before.push_failing_since or datetime.now(UTC)) if error else None
    store.save_archive_state(
        dataclasses.replace(before, push_error=error, push_failing_since=failing_since)
    )


def _archive(settings: Settings) -> GitArchive:
    git = settings.git
    return GitArchive(
        settings.mirror_root,
        author_name=git.author_name,
        author_email=git.author_email,
        remote=git.remote,
        branch=git.branch,
    )


def _record(store: Store, result: CommitResult, now: datetime) -> None:
    """Keep how this attempt went; a failure keeps the moment failures began."""
    before = store.archive_state()
    failing_since = (before.failing_since or now) if result.error else None
    pushing = result.committed and not result.error
    push_error = result.push_error if pushing else before.push_error
    push_failing_since = before.push_failing_since
    if pushing:
        push_failing_since = (before.push_failing_since or now) if result.push_error else None
    store.save_archive_state(
        ArchiveState(
            last_attempt_at=now,
            last_commit_at=now if result.committed else before.last_commit_at,
            last_commit_sha=result.sha if result.committed else before.last_commit_sha,
            error=result.error,
            failing_since=failing_since,
            push_error=push_error,
            push_failing_since=push_failing_since,
        )
    )


def _summary(
    store: Store, report: CycleReport, carried: set[str], story_urls: set[str]
) -> ChangeSummary:
    names = {p.id: p.name for p in store.projects().values()}
    grouped: dict[str, dict[str, list[str]]] = {"new": {}, "updated": {}, "deleted": {}}
    for kind, project_id, name in report.changes:
        grouped[kind].setdefault(names.get(project_id, project_id), []).append(name)
    sessions_gone = [
        p for p in report.removed if not p.endswith((f"/{PROJECT_INDEX}", ROOT_README))
    ]
    moved = len(sessions_gone) - report.deleted
    stories: dict[str, list[str]] = {}
    for path in sorted(story_urls):
        record = store.session_by_path(path)
        if record is not None:
            project = names.get(record.project_id, record.project_id)
            stories.setdefault(project, []).append(record.name or record.id)
    return ChangeSummary(
        grouped["new"],
        grouped["updated"],
        grouped["deleted"],
        max(0, moved),
        len(carried),
        story_urls=stories,
    )
