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
from syncd.cloud.models import ItemError, Project, SessionSummary
from syncd.errors import AuthError, CloudUnavailableError, SyncdError
from syncd.index.records import ProjectRecord, SessionRecord
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
            projects, bad_projects = self.client.list_projects()
        except HALTS as exc:
            return Gathered(None, exc)
        except (AuthError, CloudUnavailableError):
            raise  # nothing can be done this cycle: one clear error for the caller
        except SyncdError as exc:
            logger.error("listing projects: %s", exc.message)
            self.report.fail(f"listing projects: {exc.message}")
            return Gathered(None)
        for item in bad_projects:
            self.report.fail(f"project #{item.position} ({item.item_id}): {item.problem}")
        dirnames = assign_dirnames(projects, indexed_projects)
        view, halt = self._listings(projects, dirnames, indexed_projects)
        view = replace(view, complete=view.complete and not bad_projects)
        if halt is None and for_deletions and view.complete:
            view, halt = self._confirm_not_modified(view, indexed)
        return Gathered(view, halt)

    def _listings(
        self,
        projects: list[Project],
        dirnames: dict[str, str],
        indexed_projects: Mapping[str, ProjectRecord],
    ) -> tuple[CloudView, SyncdError | None]:
        listings: dict[str, list[SessionSummary] | None] = {}
        etags: dict[str, str | None] = {}
        flawed: set[str] = set()
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
            self._report_bad_items(listing.errors)
            if listing.errors:
                flawed.add(project.id)
                complete = False
            listings[project.id], etags[project.id] = listing.sessions, listing.etag
        view = CloudView(
            projects, dirnames, listings, etags, complete=complete, flawed=frozenset(flawed)
        )
        return view, halt

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
        listings, etags = dict(view.listings), dict(view.etags)
        for project_id in unchanged:
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
            if fresh.errors:
                self._report_bad_items(fresh.errors)
                return replace(view, complete=False), None
            listings[project_id], etags[project_id] = fresh.sessions, fresh.etag
        return replace(view, listings=listings, etags=etags), None

    def recent(self, limit: int) -> tuple[list[SessionSummary], list[ItemError]] | SyncdError:
        """The recently updated sessions, or the halt that prevented asking."""
        try:
            return self.client.recent_sessions(limit)
        except HALTS as exc:
            return exc

    def _report_bad_items(self, errors: list[ItemError]) -> None:
        for item in errors:
            self.report.fail(f"session {item.item_id or '#' + str(item.position)}: {item.problem}")


def _held_etag(
    project: Project, dirname: str, indexed_projects: Mapping[str, ProjectRecord]
) -> str | None:
    """The ETag of the listing the index is settled on; none after a rename or a move,
    when every session must be looked at again."""
    previous = indexed_projects.get(project.id)
    if previous is None or previous.name != project.name or previous.dirname != dirname:
        return None
    return previous.list_etag
