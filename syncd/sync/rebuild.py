"""`syncd db rebuild`: recover the index's projects and sessions from the mirror alone.

Every session file carries its ids, name, timestamps and etag in its front matter, so the
index can be recreated from the tree. Files are only read: one without readable front
matter is reported and left where it is. Project list etags are not kept, so the next sync
lists every project in full, and then downloads nothing that the files already hold.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from syncd.errors import SyncdError
from syncd.index.store import ProjectRecord, SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.frontmatter import FrontMatterError
from syncd.mirror.names import LOCAL_COPY_PATTERN, PROJECT_INDEX
from syncd.mirror.paths import free_project_dirname, parse_time
from syncd.mirror.writer import Mirror
from syncd.sync.planner import words_in_path
from syncd.sync.recovery import finish_pending_writes
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SkippedFile:
    path: str  # relative to the root, POSIX
    reason: str


@dataclass(frozen=True)
class RebuildReport:
    sessions: int  # files indexed
    projects: int
    skipped: tuple[SkippedFile, ...]


@dataclass(frozen=True)
class _Found:
    record: SessionRecord
    project: str  # the project name in the front matter


def rebuild_index(mirror: Mirror, store: Store) -> RebuildReport:
    """Replace the index's projects and sessions with what the files under the root say.

    Duplicate session ids keep the file with the newest `updated_at`; the others are
    reported as skipped. Runs and the rate budget in the index are left as they are. A
    write a kill cut short is finished first, so its old file is not read as a duplicate.
    """
    finish_pending_writes(store, mirror, lambda: datetime.now(UTC), CycleReport())
    found: list[_Found] = []
    skipped: list[SkippedFile] = []
    paths = list(_session_paths(mirror))
    for position, relative in enumerate(paths, start=1):
        logger.debug("[%d/%d] %s", position, len(paths), relative)
        outcome = _read(mirror, relative)
        if isinstance(outcome, SkippedFile):
            logger.debug("skipped %s: %s", relative, outcome.reason)
            skipped.append(outcome)
        else:
            found.append(outcome)
    kept, duplicates = _newest_per_id(found)
    skipped.extend(duplicates)
    projects = _projects(kept)
    store.replace_all(projects, [f.record for f in kept])
    logger.debug(
        "rebuilt the index from %d files in %d projects (%d skipped)",
        len(kept),
        len(projects),
        len(skipped),
    )
    return RebuildReport(len(kept), len(projects), tuple(sorted(skipped, key=lambda s: s.path)))


def _session_paths(mirror: Mirror) -> Iterator[str]:
    """`<folder>/<name>.md` for every file that may be a session, in a stable order."""
    for folder in mirror.top_level_folders():  # syncd's dot-folders are not among them
        for path in sorted((mirror.root / folder).iterdir()):
            name = path.name
            if (
                not name.endswith(".md")
                or name.startswith(".")
                or name == PROJECT_INDEX
                or fnmatch.fnmatch(name, LOCAL_COPY_PATTERN)
                or path.is_dir()
            ):
                continue
            yield f"{folder}/{name}"


def _read(mirror: Mirror, relative: str) -> _Found | SkippedFile:
    """The file's index record, or why it cannot have one (a broken file is never fatal)."""
    if (mirror.root / relative).is_symlink():
        return SkippedFile(relative, "it is a symbolic link, not a file syncd wrote")
    try:
        inspection = mirror.inspect(relative)
        if inspection is None:
            return SkippedFile(relative, "it disappeared while the index was rebuilt")
        if not inspection.regular:
            return SkippedFile(relative, "it is not a regular file")
        if inspection.front_matter is None:
            return SkippedFile(relative, _front_matter_problem(mirror, relative))
        header = frontmatter.header_from_mapping(inspection.front_matter)
        file_size = inspection.size
    except FrontMatterError as exc:
        return SkippedFile(relative, f"front matter: {exc.problem}")
    except SyncdError as exc:
        return SkippedFile(relative, exc.message)
    except OSError as exc:
        return SkippedFile(relative, exc.strerror or str(exc))
    record = frontmatter.record_from_header(
        header,
        path=relative,
        markdown_size=file_size - inspection.body_offset,
        body_sha256=inspection.body_sha256,
        file_sha256=inspection.file_sha256,
    )
    # A file named from its first user message keeps that name: its words are in its name.
    record = dataclasses.replace(record, name_words=words_in_path(record))
    return _Found(record, header.project)


def _front_matter_problem(mirror: Mirror, relative: str) -> str:
    """Why the front matter did not parse, read again from the file's first chunk."""
    # The generator is dropped at once, which closes the file.
    head = next(iter(mirror.iter_bytes(relative)), b"")
    try:
        frontmatter.split(head)
    except FrontMatterError as exc:
        return f"front matter: {exc.problem}"
    return "the front matter is unreadable"


def _newest_per_id(found: list[_Found]) -> tuple[list[_Found], list[SkippedFile]]:
    by_id: dict[str, list[_Found]] = defaultdict(list)
    for item in found:
        by_id[item.record.id].append(item)
    kept: list[_Found] = []
    duplicates: list[SkippedFile] = []
    for session_id, items in by_id.items():
        items.sort(key=lambda f: (parse_time(f.record.updated_at) or _OLDEST, f.record.path))
        newest = items[-1]
        kept.append(newest)
        for other in items[:-1]:
            reason = f"session {session_id} is also in {newest.record.path}, which is newer"
            duplicates.append(SkippedFile(other.record.path, reason))
    return kept, duplicates


def _projects(kept: list[_Found]) -> list[ProjectRecord]:
    """One project per project id: its most common name and the folder most of it is in."""
    by_project: dict[str, list[_Found]] = defaultdict(list)
    for item in kept:
        by_project[item.record.project_id].append(item)
    # Bigger projects choose first, so a folder shared by mistake stays with most of its files.
    order = sorted(by_project, key=lambda pid: (-len(by_project[pid]), pid))
    taken: set[str] = set()
    projects: list[ProjectRecord] = []
    for project_id in order:
        items = by_project[project_id]
        name = _most_common([item.project for item in items])
        folders = _most_common_first([PurePosixPath(i.record.path).parent.name for i in items])
        dirname = free_project_dirname(name, project_id, taken, preferred=folders)
        taken.add(dirname.casefold())
        projects.append(ProjectRecord(id=project_id, name=name, dirname=dirname))
    return projects


def _most_common(values: list[str]) -> str:
    return _most_common_first(values)[0]


def _most_common_first(values: list[str]) -> list[str]:
    """Distinct values, most frequent first; ties in sorted order."""
    counts = Counter(values)
    return sorted(counts, key=lambda value: (-counts[value], value))
