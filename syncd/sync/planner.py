"""Decide what a cycle must do, from the index and the listings. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from syncd.cloud.models import Project, SessionSummary, etags_match
from syncd.index.store import ProjectRecord, SessionRecord
from syncd.mirror.paths import free_project_dirname, id_tag, session_filename
from syncd.sync.convert import (
    describes_same_file,
    metadata_dict,
    session_time,
    summary_from_record,
)

# Names syncd keeps for itself at the top of the root.
RESERVED_DIRS = frozenset({".syncd", ".trash", ".git", "readme.md"})


@dataclass(frozen=True)
class Fetch:
    """Download the body (conditionally when we hold a version) and write it to `path`."""

    summary: SessionSummary
    path: str
    previous: SessionRecord | None
    if_none_match: str | None


@dataclass(frozen=True)
class Rewrite:
    """Same body, new front matter and/or new place: rebuilt from the file on disk."""

    summary: SessionSummary
    path: str
    previous: SessionRecord
    # Set only for a session kept after its deletion in the cloud (deletion.mode = keep).
    deleted_in_cloud: str | None = None


@dataclass(frozen=True)
class ProjectPlan:
    project: Project
    dirname: str
    fetches: list[Fetch] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Unchanged files whose index row lags behind (e.g. deviceId after `db rebuild`).
    reindex: list[SessionSummary] = field(default_factory=list)


def assign_dirnames(
    projects: Sequence[Project], indexed: Mapping[str, ProjectRecord]
) -> dict[str, str]:
    """A folder name per project id: kept while the name is unchanged, unique (case-blind)."""
    chosen: dict[str, str] = {}
    listed = {p.id for p in projects}
    # Folders of projects missing from this listing still hold their files: never reuse.
    taken = set(RESERVED_DIRS) | {
        r.dirname.casefold() for r in indexed.values() if r.id not in listed
    }
    ordered = sorted(projects, key=lambda p: (p.created_at or "", p.id))
    for project in ordered:
        record = indexed.get(project.id)
        if record and record.name == project.name and record.dirname.casefold() not in taken:
            chosen[project.id] = record.dirname
            taken.add(record.dirname.casefold())
    for project in ordered:
        if project.id in chosen:
            continue
        name = free_project_dirname(project.name, project.id, taken)
        chosen[project.id] = name
        taken.add(name.casefold())
    return chosen


def plan_project(
    project: Project,
    dirname: str,
    listed: Sequence[SessionSummary] | None,
    indexed: Mapping[str, SessionRecord],
    *,
    missing_files: Iterable[str] = (),
    project_renamed: bool = False,
) -> ProjectPlan:
    """What to do for one project's sessions.

    `listed` is None when the listing answered 304: the index's own view of the project
    is used, so only moves and header refreshes can come out of it. `indexed` holds every
    indexed session (a session may have moved in from another project).
    """
    missing = set(missing_files)
    mine = [r for r in indexed.values() if r.project_id == project.id]
    if listed is None:
        listed = [summary_from_record(r) for r in mine if r.cloud_deleted_at is None]
    # Sessions kept after their deletion in the cloud (deletion.mode = keep) and not
    # listed again: never fetched, only moved along with their project's folder.
    listed_ids = {s.id for s in listed}
    kept = [r for r in mine if r.cloud_deleted_at is not None and r.id not in listed_ids]
    plan = ProjectPlan(project, dirname)
    paths = _assign_paths(dirname, [*listed, *map(summary_from_record, kept)], indexed)
    for record in kept:
        if paths[record.id] != record.path:
            summary = summary_from_record(record)
            plan.rewrites.append(
                Rewrite(summary, paths[record.id], record, record.cloud_deleted_at)
            )
    for summary in sorted(listed, key=lambda s: s.id):
        path = paths[summary.id]
        previous = indexed.get(summary.id)
        if previous is None or previous.id in missing:
            plan.fetches.append(Fetch(summary, path, previous, None))
        elif not etags_match(summary.etag, previous.etag):
            plan.fetches.append(Fetch(summary, path, previous, previous.etag))
        elif (
            project_renamed
            or path != previous.path
            or not describes_same_file(summary, previous)
            or previous.cloud_deleted_at is not None  # listed again: its mark must go
        ):
            plan.rewrites.append(Rewrite(summary, path, previous))
        else:
            plan.unchanged.append(summary.id)
            if metadata_dict(summary) != (previous.metadata or {}) or (
                summary.raw_data_size != previous.raw_data_size
            ):
                plan.reindex.append(summary)
    return plan


def _assign_paths(
    dirname: str, listed: Sequence[SessionSummary], indexed: Mapping[str, SessionRecord]
) -> dict[str, str]:
    """A unique relative path per session; an unchanged session keeps the one it has."""
    folder = PurePosixPath(dirname)
    # A string test, not PurePosixPath per record: this runs for every project in a listing.
    taken = {
        r.path.casefold(): r.id for r in indexed.values() if r.path.rpartition("/")[0] == dirname
    }
    result: dict[str, str] = {}
    for summary in sorted(listed, key=lambda s: s.id):
        record = indexed.get(summary.id)
        current = (folder / _filename(summary, id_tag(summary.id))).as_posix()
        if (
            record
            and PurePosixPath(record.path).parent == folder
            and (record.path == current or _same_name_inputs(summary, record))
        ):
            result[summary.id] = record.path
            continue
        for tag in (id_tag(summary.id), id_tag(summary.id, 64), _hashed_tag(summary.id)):
            candidate = (folder / _filename(summary, tag)).as_posix()
            owner = taken.get(candidate.casefold())
            if owner is None or owner == summary.id:
                break
        taken[candidate.casefold()] = summary.id
        result[summary.id] = candidate
    return result


def _filename(summary: SessionSummary, tag: str) -> str:
    return session_filename(session_time(summary), summary.name, tag)


def _same_name_inputs(summary: SessionSummary, record: SessionRecord) -> bool:
    # A file keeps its name while what the name is made of (date and title) is unchanged.
    return (
        summary.name == record.name
        and summary.started_at == record.started_at
        and summary.created_at == record.created_at
    )


def _hashed_tag(session_id: str) -> str:
    return id_tag(session_id + "\x00")
