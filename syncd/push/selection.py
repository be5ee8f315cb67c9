"""Which sessions go to PullStory, and turning one into a queued brief.

A session is selected by the configured rules (project, tag, name globs), by
`syncd push`, by a `pullstory: true` line in its mirrored file, or by a file dropped
or linked into `<root>/.syncd/outbox/`. Whatever the way in, the brief is built from
the mirrored file and queued once per content hash.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from syncd.brief import Brief, NoBrief, build_brief
from syncd.errors import NoBriefError, SyncdError
from syncd.index import lookup
from syncd.index.statuses import StorySource, StoryStatus
from syncd.index.store import SessionRecord, Store, StoryRecord
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror
from syncd.push.outbox import Outbox
from syncd.push.retry import Retried, retry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rules:
    projects: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.projects or self.tags or self.names)

    def match(self, record: SessionRecord, project_name: str, dirname: str) -> bool:
        return (
            _any_glob(self.projects, [project_name, dirname, record.project_id])
            or _any_glob(self.tags, record.metadata.tags)
            or _any_glob(self.names, [record.name])
        )


def _any_glob(patterns: Iterable[str], values: Iterable[str]) -> bool:
    values = [v.casefold() for v in values]
    return any(fnmatch.fnmatchcase(v, p.casefold()) for p in patterns for v in values)


def resolve_session(store: Store, mirror: Mirror, wanted: str) -> SessionRecord:
    """A session from its id, a unique id prefix, or the path of its mirrored file."""
    return lookup.resolve_session(store, mirror.root, wanted)


def brief_for(mirror: Mirror, record: SessionRecord) -> Brief | NoBrief:
    data = mirror.read_bytes(record.path)
    if data is None:
        return NoBrief("its mirrored file is missing; run a sync first")
    body = frontmatter.body_of(data)
    return build_brief(body.decode("utf-8", errors="replace"), name=record.name)


def push_session(store: Store, mirror: Mirror, record: SessionRecord, now: float) -> Retried:
    """What `syncd push` does: queue the session's brief, or, when its story failed, queue
    it again (smaller if PullStory asked: see `retry`). The story to follow, and what was
    done about a failure (an empty action when there was none)."""
    story = enqueue(store, mirror, record, StorySource.PUSH, now)
    if story.status == StoryStatus.FAILED:
        retried = retry(store, story, now, manual=True)
        if retried is not None:
            return retried
    return Retried(story, "")


def enqueue(
    store: Store, mirror: Mirror, record: SessionRecord, source: StorySource, now: float
) -> StoryRecord:
    """Queue the session's brief, or return the story that already stands for it: the
    newest of this brief as built (a smaller brief a failure led to counts)."""
    brief = brief_for(mirror, record)
    if isinstance(brief, NoBrief):
        raise NoBriefError(record.name or record.id, brief.reason)
    built_hash = brief.content_hash()
    tried = store.stories(built_hash=built_hash)
    if tried:
        story = tried[-1]
        logger.info("session %s: PullStory brief %s (%s)", record.id, story.status, source)
        return story
    story = store.add_story(
        StoryRecord(
            session_id=record.id,
            brief_hash=built_hash,
            brief=brief.to_json(),
            status=StoryStatus.QUEUED,
            source=source,
            created_at=now,
            updated_at=now,
            next_poll_at=now,
            built_hash=built_hash,
        )
    )
    logger.info("session %s: PullStory brief %s (%s)", record.id, story.status, source)
    return story


def handle_changed_files(
    store: Store,
    mirror: Mirror,
    paths: Iterable[Path],
    now: float,
    *,
    outbox: Outbox | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[StoryRecord]:
    """Queue what the user marked or dropped; syncd's own writes are not marks. An outbox
    entry that cannot be pushed is moved to outbox/rejected/ (told once); pass the same
    `outbox` each time so one that cannot even be moved is also told once while syncd
    runs. `stopping` is asked between files (what was queued by then stays queued)."""
    outbox = outbox or Outbox(mirror)
    root = mirror.root.resolve()
    by_path = {r.path: r for r in store.sessions().values()}
    queued: list[StoryRecord] = []
    for path in sorted(set(paths)):
        if stopping():
            break
        try:
            if path.parent.resolve() == outbox.folder.resolve():
                claim = outbox.claim(store, path.name)
                if claim is None:
                    continue
                if not mirror.exists(claim.record.path):
                    # The brief is built from the mirrored file: a sync brings it back.
                    logger.warning(
                        "%s: the mirrored file of its session is missing; left in the outbox "
                        "until a sync brings it back",
                        path.name,
                    )
                    continue
                try:
                    queued.append(enqueue(store, mirror, claim.record, StorySource.OUTBOX, now))
                except NoBriefError as exc:
                    outbox.reject(claim.name, f"no PullStory brief: {exc.reason}")
                    continue
                outbox.settle(claim)
                continue
            record = by_path.get(path.resolve().relative_to(root).as_posix())
            if record is None or not _changed_since_synced(mirror.root / record.path, record):
                continue  # syncd's own writes (most events) need no hashing
            inspection = mirror.inspect(record.path)
            if inspection is None or inspection.file_sha256 == record.file_sha256:
                continue  # as syncd wrote it: not the user's mark
            if inspection.front_matter and inspection.front_matter.get("pullstory") is True:
                queued.append(enqueue(store, mirror, record, StorySource.MARK, now))
        except (SyncdError, ValueError, OSError, RuntimeError) as exc:
            message = exc.message if isinstance(exc, SyncdError) else str(exc)
            logger.warning("%s: %s", path.name, message)
    return queued


def enqueue_by_rules(store: Store, mirror: Mirror, rules: Rules, now: float) -> list[StoryRecord]:
    """Queue every session the rules select that has no story yet."""
    if not rules:
        return []
    projects = store.projects()
    pushed = {s.session_id for s in store.stories()}
    queued = []
    for record in store.sessions().values():
        project = projects.get(record.project_id)
        if record.id in pushed or project is None:
            continue
        if rules.match(record, project.name, project.dirname):
            try:
                queued.append(enqueue(store, mirror, record, StorySource.RULE, now))
            except NoBriefError as exc:
                logger.debug("%s", exc.message)  # asked again each cycle: keep it quiet
    return queued


def marked_since_synced(store: Store, mirror: Mirror) -> list[Path]:
    """Files touched after syncd last wrote them: where marks made while no watcher ran
    may be. The caller passes them to handle_changed_files."""
    records = store.sessions().values()
    return [mirror.root / r.path for r in records if _changed_since_synced(mirror.root / r.path, r)]


def _changed_since_synced(path: Path, record: SessionRecord) -> bool:
    """Whether the file was modified after syncd last wrote it (a missing file was not)."""
    try:
        modified = path.lstat().st_mtime
    except OSError:
        return False
    when = record.synced_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # SQLite hands back UTC without its zone
    return modified > (when.timestamp() if when is not None else 0.0)
