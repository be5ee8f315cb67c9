"""Gather what the cloud says before anything is planned: every listing, or the recent page.

Only requests happen here; nothing is written. A listing that fails is left out of the
view (its project is retried next cycle); a halt (budget spent, rate limited, stopping)
ends the gathering with what was read so far.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from syncd.cloud.client import CloudClient
from syncd.cloud.models import ItemError, Project, SessionListing
from syncd.errors import AuthError, CloudUnavailableError, SyncdError
from syncd.index.records import ProjectRecord
from syncd.model import Session, SessionRecord
from syncd.sync.halts import HALTS
from syncd.sync.plan import CloudView
from syncd.sync.planner import absent_sessions, assign_dirnames
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gathered:
    """A view of the cloud, or None when not even the project list could be read, and the
    halt that cut the gathering short, if one did."""

    view: CloudView | None
    halt: SyncdError | None = None


@dataclass
class Lister:
    client: CloudClient
    report: CycleReport
    # Called before each request: beats the daemon's heartbeat, raises StopRequested.
    checkpoint: Callable[[], None] = lambda: None

    def everything(
        self,
        indexed_projects: Mapping[str, ProjectRecord],
        indexed: Mapping[str, SessionRecord],
        *,
        for_deletions: bool,
    ) -> Gathered:
        """Every project and its listing, each sent with the ETag of the listing the index
        is settled on; with `for_deletions`, 304s are confirmed when sessions look gone."""
        try:
            listed = self.client.list_projects()
        except HALTS as exc:
            return Gathered(None, exc)
        except (AuthError, CloudUnavailableError):
            raise  # nothing can be done this cycle: one clear error for the caller
        except SyncdError as exc:
            logger.error("listing projects: %s", exc.message)
            self.report.fail(f"listing projects: {exc.message}")
            return Gathered(None)
        for item in listed.errors:
            self._fail(f"project {_label(item)}: {item.problem}")
        if listed.count.missing:
            self._fail(
                f"listing projects: incomplete: the cloud counts {listed.count.total} "
                f"projects, {listed.count.arrived} arrived; no project is dropped and "
                "nothing is deleted until the list is whole"
            )
        projects = listed.projects
        dirnames = assign_dirnames(projects, indexed_projects)
        view, halt = self._listings(projects, dirnames, indexed_projects)
        view = replace(
            view,
            complete=view.complete and not listed.errors and not listed.count.missing,
            projects_incomplete=listed.count.missing > 0,
        )
        if halt is None:
            # A session that left a 304 listing for a fresh one moved, or is listed twice:
            # only a fresh look at where it came from tells which.
            view, halt = self._list_afresh(view, _moved_from_unchanged(view, indexed))
        if halt is None and for_deletions and view.complete:
            view, halt = self._confirm_not_modified(view, indexed)
        return Gathered(self._one_project_each(view), halt)

    def _listings(
        self,
        projects: list[Project],
        dirnames: dict[str, str],
        indexed_projects: Mapping[str, ProjectRecord],
    ) -> tuple[CloudView, SyncdError | None]:
        listings: dict[str, list[Session] | None] = {}
        etags: dict[str, str | None] = {}
        flawed: set[str] = set()
        short: set[str] = set()
        complete, halt = True, None
        for position, project in enumerate(projects, start=1):
            self.client.budget.pending = len(projects) - position + 1
            held = _held_etag(project, dirnames[project.id], indexed_projects)
            try:
                self.checkpoint()
                listing = self.client.list_sessions(project.id, etag=held)
            except HALTS as exc:
                complete, halt = False, exc
                break
            except AuthError:
                raise  # the key was revoked: every other listing would fail the same way
            except SyncdError as exc:
                logger.error("project %s: %s", project.id, exc.message)
                self.report.fail(f"project {project.id}: {exc.message}")
                complete = False
                continue
            if listing is None:  # 304: unchanged since the index settled on it
                listings[project.id], etags[project.id] = None, held
                continue
            if not self._whole(listing):
                complete = False
                if listing.errors:
                    flawed.add(project.id)
                if listing.count.missing:
                    short.add(project.id)
            listings[project.id], etags[project.id] = listing.sessions, listing.etag
        view = CloudView(
            projects,
            dirnames,
            listings,
            etags,
            complete=complete,
            flawed=frozenset(flawed),
            incomplete=frozenset(short),
        )
        return view, halt

    def _whole(self, listing: SessionListing) -> bool:
        """Reports what is wrong with a listing; True when nothing is."""
        self._report_bad_items(listing.errors)
        if listing.count.missing:
            self._fail(
                f"project {listing.project_id}: listing incomplete: the cloud counts "
                f"{listing.count.total} sessions, {listing.count.arrived} arrived; nothing "
                "is deleted and the project is listed in full again next run"
            )
        return not listing.errors and not listing.count.missing

    def _confirm_not_modified(
        self, view: CloudView, indexed: Mapping[str, SessionRecord]
    ) -> tuple[CloudView, SyncdError | None]:
        """A 304 vouches for the listing we had, not for where a session is now: before
        anything looks deleted, the projects that answered 304 are listed afresh."""
        unchanged = [pid for pid, sessions in view.listings.items() if sessions is None]
        if not unchanged:
            return view, None
        seen = {r.id for r in indexed.values() if r.project_id in unchanged} | {
            s.id for sessions in view.listings.values() if sessions for s in sessions
        }
        if not absent_sessions(seen, indexed):
            return view, None
        return self._list_afresh(view, unchanged)

    def _list_afresh(
        self, view: CloudView, project_ids: list[str]
    ) -> tuple[CloudView, SyncdError | None]:
        """The view with these 304 listings read again without an ETag."""
        listings, etags = dict(view.listings), dict(view.etags)
        for project_id in project_ids:
            try:
                self.checkpoint()
                fresh = self.client.list_sessions_afresh(project_id)
            except HALTS as exc:
                return replace(view, complete=False), exc
            except AuthError:
                raise
            except SyncdError as exc:
                logger.error("project %s: %s", project_id, exc.message)
                self.report.fail(f"project {project_id}: {exc.message}")
                return replace(view, complete=False), None
            if not self._whole(fresh):
                flawed = view.flawed | ({project_id} if fresh.errors else set())
                short = view.incomplete | ({project_id} if fresh.count.missing else set())
                return replace(view, complete=False, flawed=flawed, incomplete=short), None
            listings[project_id], etags[project_id] = fresh.sessions, fresh.etag
        return replace(view, listings=listings, etags=etags), None

    def _one_project_each(self, view: CloudView) -> CloudView:
        """A session two fresh listings both hold is left where the index has it, with an
        error: which project it belongs to is unknown (it is never taken as gone)."""
        owners: dict[str, list[str]] = {}
        for project_id, sessions in view.listings.items():
            for summary in sessions or ():
                owners.setdefault(summary.id, []).append(project_id)
        doubtful = {sid: pids for sid, pids in owners.items() if len(pids) > 1}
        if not doubtful:
            return view
        for sid, pids in sorted(doubtful.items()):
            self._fail(
                f"session {sid}: listed by projects {', '.join(pids)}; left as it is until "
                "the cloud lists it under one"
            )
        listings = {
            pid: None if sessions is None else [s for s in sessions if s.id not in doubtful]
            for pid, sessions in view.listings.items()
        }
        flawed = view.flawed | {pid for pids in doubtful.values() for pid in pids}
        return replace(view, listings=listings, flawed=flawed, complete=False)

    def recent(self, limit: int) -> tuple[list[Session], list[ItemError]] | SyncdError:
        """The recently updated sessions, or the halt that prevented asking."""
        try:
            return self.client.recent_sessions(limit)
        except HALTS as exc:
            return exc

    def _report_bad_items(self, errors: list[ItemError]) -> None:
        for item in errors:
            self._fail(f"session {_label(item)}: {item.problem}")

    def _fail(self, message: str) -> None:
        logger.error("%s", message)
        self.report.fail(message)


def _label(item: ItemError) -> str:
    return item.item_id or f"#{item.position}"


def _moved_from_unchanged(view: CloudView, indexed: Mapping[str, SessionRecord]) -> list[str]:
    """Projects that answered 304 while a fresh listing holds one of their sessions."""
    unchanged = {pid for pid, sessions in view.listings.items() if sessions is None}
    return sorted(
        {
            record.project_id
            for pid, sessions in view.listings.items()
            for summary in sessions or ()
            if (record := indexed.get(summary.id)) is not None
            and record.project_id != pid
            and record.project_id in unchanged
        }
    )


def _held_etag(
    project: Project, dirname: str, indexed_projects: Mapping[str, ProjectRecord]
) -> str | None:
    """The ETag of the listing the index is settled on; none after a rename or a move,
    when every session must be looked at again."""
    previous = indexed_projects.get(project.id)
    if previous is None or previous.name != project.name or previous.dirname != dirname:
        return None
    return previous.list_etag
