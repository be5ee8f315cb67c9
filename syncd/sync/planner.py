"""Decide what a cycle must do, from the index and the listings. Pure: no I/O, no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from syncd.cloud.models import Project, etags_match
from syncd.index.records import ProjectRecord
from syncd.mirror.frontmatter import shows_same
from syncd.mirror.paths import (
    UNTITLED,
    format_stamp,
    free_project_dirname,
    id_tag,
    parse_time,
    project_dirname,
    session_filename,
    slugify,
)
from syncd.model import Session, SessionRecord
from syncd.model.session import same_listing
from syncd.sync.deletions import guard, plan_deletions
from syncd.sync.naming import named_by_body
from syncd.sync.plan import (
    BodyName,
    CloudView,
    CyclePlan,
    DropProject,
    Fetch,
    ProjectPlan,
    Reindex,
    Remove,
    Rewrite,
    concerns,
)


def assign_dirnames(
    projects: Sequence[Project], indexed: Mapping[str, ProjectRecord]
) -> dict[str, str]:
    """A folder name per project id: kept while the name is unchanged and the folder is one
    the current naming gives it (so a change of naming moves it once), unique (case-blind)."""
    chosen: dict[str, str] = {}
    listed = {p.id for p in projects}
    # Folders of projects missing from this listing still hold their files: never reuse.
    taken = {r.dirname.casefold() for r in indexed.values() if r.id not in listed}
    ordered = sorted(projects, key=lambda p: (p.created_at or "", p.id))
    for project in ordered:
        record = indexed.get(project.id)
        if (
            record
            and record.name == project.name
            and record.dirname.casefold() not in taken
            and _named_now(record.dirname, project)
        ):
            chosen[project.id] = record.dirname
            taken.add(record.dirname.casefold())
    for project in ordered:
        if project.id in chosen:
            continue
        name = free_project_dirname(project.name, project.id, taken)
        chosen[project.id] = name
        taken.add(name.casefold())
    return chosen


def _named_now(dirname: str, project: Project) -> bool:
    """Whether `dirname` is a folder name the current naming gives `project`: its slug,
    the slug tagged with its id, or a numbered tag (see `free_project_dirname`)."""
    plain = project_dirname(project.name)
    tagged = project_dirname(project.name, id_tag(project.id))
    if dirname in (plain, tagged):
        return True
    number = dirname.removeprefix(f"{tagged}-")
    return number != dirname and number.isdecimal() and number.isascii()


def plan_project(
    project: Project,
    dirname: str,
    listed: Sequence[Session],
    indexed: Mapping[str, SessionRecord],
    *,
    missing_files: Iterable[str] = (),
    project_renamed: bool = False,
) -> ProjectPlan:
    """What to do for one project's sessions, from what its listing holds (for a 304, the
    index's view of it). `indexed` holds every indexed session (a session may have moved
    in from another project)."""
    missing = set(missing_files)
    mine = [r for r in indexed.values() if r.project_id == project.id]
    # Sessions kept after their deletion in the cloud (deletion.mode = keep) and not
    # listed again: never fetched, only moved along with their project's folder.
    listed_ids = {s.id for s in listed}
    kept = [r for r in mine if r.cloud_deleted_at is not None and r.id not in listed_ids]
    plan = ProjectPlan(project, dirname)
    paths = _assign_paths(dirname, [*listed, *(r.session for r in kept)], indexed)
    for record in kept:
        path, body_name = paths[record.id]
        if path != record.path or body_name is not None:
            plan.rewrites.append(
                Rewrite(
                    record.session,
                    path,
                    record,
                    record.cloud_deleted_at,
                    download_if_needed=False,  # deleted in the cloud: nothing to download
                    body_name=body_name,
                )
            )
    for session in sorted(listed, key=lambda s: s.id):
        path, body_name = paths[session.id]
        previous = indexed.get(session.id)
        if previous is None or previous.id in missing:
            plan.fetches.append(Fetch(session, path, previous, None, body_name))
        elif not etags_match(session.etag, previous.etag):
            plan.fetches.append(Fetch(session, path, previous, previous.etag, body_name))
        elif (
            project_renamed
            or path != previous.path
            or body_name is not None  # to be named from its body, which is on disk
            or not shows_same(session, previous)
            or previous.cloud_deleted_at is not None  # listed again: its mark must go
        ):
            plan.rewrites.append(Rewrite(session, path, previous, body_name=body_name))
        else:
            plan.unchanged.append(session.id)
            if not same_listing(session, previous):  # what only the index holds changed
                plan.reindex.append(Reindex(session, previous))
    return plan


def _assign_paths(
    dirname: str, listed: Sequence[Session], indexed: Mapping[str, SessionRecord]
) -> dict[str, tuple[str, BodyName | None]]:
    """A unique relative path per session; a session keeps the path it has while that is
    the name the current naming gives it (a change of naming moves it once).

    A session whose name says nothing is named by the words of its first user message the
    index keeps; without them (new, or named before there were any) its path comes from
    its body when the step writes it (a `BodyName`), and the path given here only holds
    its place among the others."""
    folder = PurePosixPath(dirname)
    # A string test, not PurePosixPath per record: this runs for every project in a listing.
    taken = {
        r.path.casefold(): r.id for r in indexed.values() if r.path.rpartition("/")[0] == dirname
    }
    result: dict[str, tuple[str, BodyName | None]] = {}
    for session in sorted(listed, key=lambda s: s.id):
        record = indexed.get(session.id)
        title = _title(session, record)
        tags = _tags(session.id)
        if title is not None and record and PurePosixPath(record.path).parent == folder:
            filename = PurePosixPath(record.path).name
            # Any of its tags: one taken when a name was already in use stays.
            if any(filename == _filename(session, title, tag) for tag in tags):
                result[session.id] = (record.path, None)
                continue
        for tag in tags:
            candidate = (folder / _filename(session, title or "", tag)).as_posix()
            owner = taken.get(candidate.casefold())
            if owner is None or owner == session.id:
                break
        taken[candidate.casefold()] = session.id
        body_name = None if title is not None else BodyName(dirname, _when(session), tag)
        result[session.id] = (candidate, body_name)
    return result


def _title(session: Session, record: SessionRecord | None) -> str | None:
    """What the file name says: the session's name, or when that says nothing, the words
    of its first user message the index keeps (None: to be read from the body). Words are
    kept while the name says nothing, so a later change of the body does not rename."""
    if not named_by_body(session.name):
        return session.name
    return record.name_words if record is not None else None


def words_in_path(record: SessionRecord) -> str | None:
    """The slug a file named from its body shows, read back from its path (for an index
    rebuilt from the files); None when the session is named by its name, or the file by
    the naming of an earlier release (the slug of its timestamp name)."""
    if not named_by_body(record.name):
        return None
    filename = PurePosixPath(record.path).name
    stamp = f"{format_stamp(_when(record))}-"
    for tag in _tags(record.id):
        suffix = f"-{tag}.md"
        if not (filename.startswith(stamp) and filename.endswith(suffix)):
            continue
        words = filename[len(stamp) : -len(suffix)]
        # (A timestamp's own slug is what earlier releases named such a file by.)
        if words and slugify(words) == words and words != _stamp_slug(record.name):
            return words
    return None


def _stamp_slug(name: str) -> str | None:
    slug = slugify(name)
    return None if slug == UNTITLED else slug


def _tags(session_id: str) -> tuple[str, ...]:
    """The tags a session's file may end with: its id's first characters, then longer
    ones for a name already taken."""
    return (id_tag(session_id), id_tag(session_id, 64), _hashed_tag(session_id))


def _filename(session: Session, title: str, tag: str) -> str:
    return session_filename(_when(session), title, tag)


def _when(session: Session) -> datetime | None:
    # Dated by the session's start, else its creation.
    return parse_time(session.started_at) or parse_time(session.created_at)


def _hashed_tag(session_id: str) -> str:
    return id_tag(session_id + "\x00")


@dataclass(frozen=True)
class DeletionRules:
    """Whether this cycle may remove sessions gone from the cloud, and how."""

    allowed: bool  # only a reconciliation removes anything
    mode: str = "archive"  # archive | delete | keep
    max_share: float = 0.25
    allow_mass_delete: bool = False


def plan_cycle(
    view: CloudView,
    indexed_projects: Mapping[str, ProjectRecord],
    indexed: Mapping[str, SessionRecord],
    missing: Iterable[str],
    rules: DeletionRules,
) -> CyclePlan:
    """The whole cycle from what the listings said, the index and which files are missing.

    A project's listing is settled (saved with its ETag, so the next cycle may skip it on a
    304) only when the plan brings the index in line with it: every listed session handled
    and every session missing from it removed. Otherwise it is listed in full next time.
    """
    missing = set(missing)
    listed, unsettled = _listed_sessions(view, indexed)
    projects = [
        plan_project(
            project,
            view.dirnames[project.id],
            listed[project.id],
            indexed,
            missing_files=missing,
            project_renamed=_renamed(project, indexed_projects),
        )
        for project in view.projects
        if project.id in listed
    ]
    seen = {s.id for sessions in listed.values() for s in sessions}
    absent = absent_sessions(seen, indexed)
    removals: list[Remove] = []
    drops: list[DropProject] = []
    refusals: list[str] = []
    if view.partial:
        # The index of these projects changes without their full listing: the ETag they
        # are settled on no longer describes it (a 304 would hide what this cycle moved).
        unsettled |= {pid for plan in projects for step in plan.steps() for pid in concerns(step)}
    elif rules.allowed and view.whole:
        removals, drops, refusals, refused = _plan_removals(
            view, indexed_projects, indexed, seen, absent, rules
        )
        unsettled |= refused
    else:
        unsettled |= {r.project_id for r in absent}  # listed in full until they are gone
    plan = CyclePlan(projects=projects, removals=removals, drops=drops)
    changing = plan.changing()
    settle = [
        record
        for p in view.projects
        if p.id in listed and p.id not in unsettled and not view.partial
        for record in [_project_record(p, view.dirnames[p.id], view.etags.get(p.id))]
        if p.id in changing or _differs(record, indexed_projects.get(p.id))
    ]
    return CyclePlan(
        folders=[] if view.partial else [_folder(p, view.dirnames[p.id]) for p in view.projects],
        projects=projects,
        removals=removals,
        drops=drops,
        settle=settle,
        unsettled=sorted(p for p in unsettled if p in listed or p in indexed_projects),
        refusals=refusals,
        write_pages=not view.partial or any(p.fetches or p.rewrites for p in projects),
        tidy_folders=not view.partial,
    )


def absent_sessions(seen: set[str], indexed: Mapping[str, SessionRecord]) -> list[SessionRecord]:
    """Mirrored sessions no listing vouched for (kept deleted ones aside), by path."""
    live = (r for r in indexed.values() if r.cloud_deleted_at is None)
    return sorted((r for r in live if r.id not in seen), key=lambda r: r.path)


def _listed_sessions(
    view: CloudView, indexed: Mapping[str, SessionRecord]
) -> tuple[dict[str, list[Session]], set[str]]:
    """Each read listing's sessions (a 304 stands for the index's view of the project), and
    the projects that cannot settle (a flawed or short listing, a session listed twice)."""
    fresh = [s.id for sessions in view.listings.values() if sessions is not None for s in sessions]
    fresh_ids = set(fresh)
    unsettled = set(view.flawed) | set(view.incomplete)
    claimed: set[str] = set()
    result: dict[str, list[Session]] = {}
    for project in view.projects:
        if project.id not in view.listings:
            continue
        sessions = view.listings[project.id]
        if sessions is None:
            # A session another listing now holds has moved out: the fresh listing wins.
            sessions = [
                r.session
                for r in indexed.values()
                if r.project_id == project.id
                and r.cloud_deleted_at is None
                and r.id not in fresh_ids
            ]
        kept = []
        for session in sessions:
            if session.id in claimed:  # listed by two projects at once: sorted out next time
                unsettled.add(project.id)
                continue
            claimed.add(session.id)
            # A session is filed under the project whose listing it came from.
            kept.append(dataclasses.replace(session, project_id=project.id))
        result[project.id] = kept
    return result, unsettled


def _plan_removals(
    view: CloudView,
    indexed_projects: Mapping[str, ProjectRecord],
    indexed: Mapping[str, SessionRecord],
    seen: set[str],
    absent: list[SessionRecord],
    rules: DeletionRules,
) -> tuple[list[Remove], list[DropProject], list[str], set[str]]:
    """Removals the guards allow, projects gone with their last session, refusals, and
    the projects a refusal leaves unsettled."""
    live = {key: r for key, r in indexed.items() if r.cloud_deleted_at is None}
    affected = {r.project_id for r in absent}
    # An empty or foreign listing (another account's key) must not empty the mirror.
    refusal = guard(len(absent), len(live), "mirrored sessions", rules.max_share)
    if refusal is not None and not rules.allow_mass_delete:
        return [], [], [refusal], affected
    names = {p.id: p.name for p in view.projects} | {
        r.id: r.name for r in indexed_projects.values() if r.id not in view.dirnames
    }
    removals: list[Remove] = []
    refusals: list[str] = []
    refused: set[str] = set()
    for project_id in sorted(affected):
        plan = plan_deletions(
            project_id,
            names.get(project_id, project_id),
            seen,
            live,
            max_share=rules.max_share,
            allow_mass_delete=rules.allow_mass_delete,
        )
        if plan.refusal is not None:
            refusals.append(plan.refusal)
            refused.add(project_id)
            continue
        removals.extend(Remove(record, rules.mode) for record in plan.candidates)
    removed = {r.record.id for r in removals} if rules.mode != "keep" else set()
    drops = [
        DropProject(record.id, record.dirname)
        for record in indexed_projects.values()
        if record.id not in view.dirnames
        and record.id not in refused
        and all(r.id in removed for r in indexed.values() if r.project_id == record.id)
    ]
    return removals, drops, refusals, refused


def _differs(record: ProjectRecord, indexed: ProjectRecord | None) -> bool:
    """Whether saving `record` changes the index (updatedAt is the server's "now": ignored)."""
    if indexed is None:
        return True
    keys = ("name", "dirname", "list_etag", "created_at")
    return any(getattr(record, key) != getattr(indexed, key) for key in keys)


def _folder(project: Project, dirname: str) -> ProjectRecord:
    # A new project's row starts without a listing ETag: it is saved once settled.
    return _project_record(project, dirname, None)


def _renamed(project: Project, indexed_projects: Mapping[str, ProjectRecord]) -> bool:
    previous = indexed_projects.get(project.id)
    return previous is not None and previous.name != project.name


def _project_record(project: Project, dirname: str, list_etag: str | None) -> ProjectRecord:
    return ProjectRecord(
        id=project.id,
        name=project.name,
        dirname=dirname,
        created_at=project.created_at,
        updated_at=project.updated_at,
        list_etag=list_etag,
    )
