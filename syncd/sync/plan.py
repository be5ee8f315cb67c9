"""What one cycle will do, as plain data: the planner writes it, the executor applies it,
and a dry run prints it. Pure: no I/O.

A plan is complete before anything happens: which sessions to fetch, rewrite or remove,
which projects to forget, and which listings may be skipped next time (`settle`). Before
the first step, the listing ETag of every project a step changes is forgotten; it is saved
again only after every step that concerns the project has landed, so a later cycle can
never skip a change this one left undone, however this one ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from syncd.cloud.models import Project
from syncd.index.records import ProjectRecord
from syncd.mirror.paths import session_filename
from syncd.model import Session, SessionRecord


@dataclass(frozen=True)
class BodyName:
    """A file named from the first words of the session's first user message (its name
    says nothing: see `naming`), read from the body when the step writes it. Their slug
    is kept in the index, so later cycles plan the same name without the body."""

    folder: str
    when: datetime | None
    tag: str

    def path(self, words: str) -> str:
        return (
            PurePosixPath(self.folder) / session_filename(self.when, words, self.tag)
        ).as_posix()


@dataclass(frozen=True)
class Fetch:
    """Download the body (conditionally when we hold a version) and write it to `path`
    (or, with `body_name`, to the path named from the body; `path` then stands in)."""

    session: Session
    path: str
    previous: SessionRecord | None
    if_none_match: str | None
    body_name: BodyName | None = None


@dataclass(frozen=True)
class Rewrite:
    """Same body, new front matter and/or new place: rebuilt from the file on disk."""

    session: Session
    path: str
    previous: SessionRecord
    # Set only for a session kept after its deletion in the cloud (deletion.mode = keep).
    deleted_in_cloud: str | None = None
    # When the body on disk is not the cloud's (edited, or gone): download it again, or
    # leave the file exactly as it is (a kept session, a story URL arriving).
    download_if_needed: bool = True
    body_name: BodyName | None = None  # as for a Fetch: named from the body on disk


@dataclass(frozen=True)
class Reindex:
    """Refresh what only the index holds (e.g. deviceId after `db rebuild`): the file on
    disk already says the same, so nothing is written there."""

    session: Session
    previous: SessionRecord


SessionStep = Reindex | Rewrite | Fetch


@dataclass(frozen=True)
class ProjectPlan:
    project: Project
    dirname: str
    fetches: list[Fetch] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reindex: list[Reindex] = field(default_factory=list)

    def steps(self) -> list[SessionStep]:
        """The project's steps in order: index refreshes, rewrites, then downloads."""
        return [*self.reindex, *self.rewrites, *self.fetches]


@dataclass(frozen=True)
class Remove:
    """A session missing from every listing: confirm with its own request (404), then
    trash, delete or keep it as `mode` says."""

    record: SessionRecord
    mode: str  # archive | delete | keep


@dataclass(frozen=True)
class DropProject:
    """A project gone from the cloud whose last session this plan removes."""

    project_id: str
    dirname: str


@dataclass(frozen=True)
class CloudView:
    """What the listings said, gathered before planning.

    `listings` maps a project id to its fresh listing, or to None when the server said it
    is unchanged (304); a project whose listing could not be read is absent. `partial`
    means the listings hold only changed sessions (the recent page): nothing is missing
    from them. `complete` means every project and every listing was read without error.

    A listing the cloud itself says is short (its `total` counts more than arrived) is
    `incomplete`, and so may the project list be: what did arrive is mirrored, but nothing
    is removed, no project dropped and no such listing settled while any is short.
    """

    projects: list[Project]
    dirnames: dict[str, str]
    listings: dict[str, list[Session] | None]
    etags: dict[str, str | None] = field(default_factory=dict)
    complete: bool = False
    partial: bool = False
    flawed: frozenset[str] = frozenset()  # listings read with a malformed item in them
    incomplete: frozenset[str] = frozenset()  # listings short of their `total`
    projects_incomplete: bool = False  # the project list is short of its `total`

    @property
    def whole(self) -> bool:
        """Every listing read, none flawed and none short: only then may anything go."""
        return (
            self.complete
            and not self.partial
            and not self.flawed
            and not self.incomplete
            and not self.projects_incomplete
        )


@dataclass(frozen=True)
class CyclePlan:
    """Everything a cycle will do, in the order the executor does it."""

    folders: list[ProjectRecord] = field(default_factory=list)  # claimed before anything
    projects: list[ProjectPlan] = field(default_factory=list)
    removals: list[Remove] = field(default_factory=list)
    drops: list[DropProject] = field(default_factory=list)
    # Projects whose listing is saved (with its ETag) once every step concerning them has
    # landed; `unsettled` ones are listed in full next time whatever happens.
    settle: list[ProjectRecord] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # deletion guards that said no
    write_pages: bool = False
    tidy_folders: bool = False
    # Sessions whose download goes before every other step (sync.first, `sync --first`).
    first: frozenset[str] = frozenset()

    @property
    def unchanged(self) -> int:
        return sum(len(p.unchanged) for p in self.projects)

    def session_steps(self) -> Iterator[tuple[ProjectPlan, SessionStep]]:
        """Every project's steps, project by project, each with its project's plan; the
        downloads of the sessions in `first` lead (sync.first), in their projects' order.

        Moving a download ahead is safe: a new path never takes one the index holds, so no
        step makes room for another."""
        leading = [
            (plan, step)
            for plan in self.projects
            for step in plan.fetches
            if step.session.id in self.first
        ]
        yield from leading
        for plan in self.projects:
            yield from (
                (plan, step)
                for step in plan.steps()
                if not (isinstance(step, Fetch) and step.session.id in self.first)
            )

    def changing(self) -> set[str]:
        """Projects some step changes: their listing ETag no longer holds once one runs."""
        steps: list[SessionStep | Remove | DropProject] = [
            *(step for _, step in self.session_steps()),
            *self.removals,
            *self.drops,
        ]
        return {pid for step in steps for pid in concerns(step)}

    def paths(self) -> list[str]:
        """Every mirror path the plan may change, journaled for git before it changes."""
        found: dict[str, None] = {}
        for plan in self.projects:
            moving: list[Rewrite | Fetch] = [*plan.rewrites, *plan.fetches]
            for item in moving:
                if item.body_name is None:  # a path named from a body is journaled when known
                    found[item.path] = None
                if item.previous is not None:
                    found[item.previous.path] = None
        for removal in self.removals:
            found[removal.record.path] = None
        for drop in self.drops:
            found[f"{drop.dirname}/INDEX.md"] = None
        return list(found)

    def describe(self) -> list[str]:
        """One line per change, for `syncd sync --dry-run`."""
        lines = [_describe(item) for _, item in self.session_steps() if _changes_file(item)]
        for removal in self.removals:
            verb = "keep   " if removal.mode == "keep" else "trash  "
            lines.append(f"{verb} {removal.record.path} (if a HEAD request confirms 404)")
        lines.extend(f"refuse  {refusal}" for refusal in self.refusals)
        return lines


def concerns(item: SessionStep | Remove | DropProject) -> set[str]:
    """The projects whose listing a step vouches for: if it does not land, they must be
    listed in full again (a session moving between projects concerns both)."""
    if isinstance(item, Remove):
        return {item.record.project_id}
    if isinstance(item, DropProject):
        return {item.project_id}
    previous = {item.previous.project_id} if item.previous is not None else set()
    return {item.session.project_id} | previous


def _changes_file(item: SessionStep) -> bool:
    return not isinstance(item, Reindex)


def _describe(item: Rewrite | Fetch | Reindex) -> str:
    if isinstance(item, Reindex):
        return f"reindex {item.previous.path}"
    named = " (named from its first user message)" if item.body_name is not None else ""
    if isinstance(item, Fetch):
        verb = "fetch  " if item.previous is None else "update "
        return f"{verb} {item.path}{named}"
    if item.path != item.previous.path or named:
        return f"move    {item.previous.path} -> {item.path}{named}"
    return f"refresh {item.path} (front matter only)"
