"""Apply a cycle's plan, step by step, each step durable before the next.

- The paths the plan may change are journaled for git in the same transaction that claims
  the project folders, before any file changes: a killed cycle's writes land in the next
  commit.
- A session step writes its file (fsync, rename) before its index row.
- One step failing fails only itself; every project it concerns is then listed in full
  next time. A halt (budget spent, rate limited, stopping) leaves the rest for later.
- Listing ETags are saved last, and only for projects whose every step landed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from syncd.cloud.budget import RateBudget
from syncd.cloud.models import Project
from syncd.errors import AuthError, SyncdError
from syncd.index.store import Store
from syncd.mirror.names import GENERATED_MARK, PROJECT_INDEX, STATE_DIR
from syncd.mirror.writer import Mirror
from syncd.sync import overview
from syncd.sync.halts import HALTS, Halt
from syncd.sync.plan import (
    CyclePlan,
    DropProject,
    Fetch,
    Reindex,
    Remove,
    SessionStep,
    concerns,
)
from syncd.sync.prefetch import Prefetcher
from syncd.sync.removal import Removal
from syncd.sync.report import CycleReport
from syncd.sync.sessions import SessionSync

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
# Markdown landed between two search catch-ups: one indexing batch (decoded, up to four times
# its bytes) is mostly a single session, which keeps a 2,000-session first sync about 8 MB
# further under its 150 MB ceiling than 1 MB batches, for a few percent more CPU.
SEARCH_EVERY_BYTES = 1 << 19
Step = tuple[Project | None, SessionStep | Remove | DropProject]


@dataclass
class Executor:
    sessions: SessionSync
    removal: Removal
    store: Store
    mirror: Mirror
    budget: RateBudget  # told how many steps are left, to pace them
    # Called before each step: beats the daemon's heartbeat, raises StopRequested to stop.
    checkpoint: Callable[[], None] = lambda: None
    progress: Progress | None = None
    # Brings search up to date with what has landed (never raises); called every
    # SEARCH_EVERY_BYTES written, so a big first sync indexes as it goes, a bounded batch
    # at a time, while the next bodies are on their way.
    catch_up_search: Callable[[], None] | None = None
    _unsearched_bytes: int = 0

    def run(self, plan: CyclePlan, report: CycleReport) -> Halt | None:
        """Apply `plan`'s steps and settle its listings; the halt that cut it short, if one
        did (its steps are pending). The pages come after, with `finish`."""
        report.unchanged += plan.unchanged
        for refusal in plan.refusals:
            logger.error("%s", refusal)
            report.fail(refusal)
        tainted = set(plan.unsettled)
        # Before anything changes: the paths it may touch are journaled for git, and the
        # ETags of the projects it changes are forgotten until they are settled again.
        self.store.save_dirnames(
            plan.folders, journal=plan.paths(), unsettle=sorted(plan.changing() | tainted)
        )
        steps: list[Step] = [
            *((p.project, step) for p, step in plan.session_steps()),
            *((None, removal) for removal in plan.removals),
            *((None, drop) for drop in plan.drops),
        ]
        # A path named from a body must not take one another step may write.
        self.sessions.claimed = _claimed(plan)
        with self._prefetching(steps):
            halt = self._run_steps(steps, tainted, report)
        self._settle(plan, tainted)
        return halt

    @contextmanager
    def _prefetching(self, steps: list[Step]) -> Iterator[None]:
        """New sessions' bodies are fetched a few steps ahead while the steps run, when the
        budget lets every request of the plan go at once (a paced backlog goes one by one,
        each request when its turn comes)."""
        fetches = [(p, s) for p, s in steps if p is not None and isinstance(s, Fetch)]
        if not self.budget.has_room_for(len(steps)):
            fetches = []
        spool = self.mirror.root / STATE_DIR
        with Prefetcher(self.sessions.client, fetches, spool, self.sessions.heartbeat) as ahead:
            self.sessions.prefetch = ahead
            try:
                yield
            finally:
                self.sessions.prefetch = None

    def _run_steps(self, steps: list[Step], tainted: set[str], report: CycleReport) -> Halt | None:
        """Apply each step in turn; `tainted` gains the projects of steps that did not land."""
        halt: Halt | None = None
        for position, (project, step) in enumerate(steps):
            if halt is not None or (isinstance(step, DropProject) and step.project_id in tainted):
                tainted |= concerns(step)
                continue
            self.budget.pending = len(steps) - position
            if self.progress:
                self.progress(position + 1, len(steps), _label(step))
            try:
                self.checkpoint()
                landed = self._apply(project, step, report)
            except HALTS as exc:
                halt = Halt(exc, pending=len(steps) - position)
                landed = False
            except AuthError:
                raise  # the key was revoked: every other request would fail the same way
            except SyncdError as exc:
                logger.error("%s: %s", _subject(step), exc.message)
                report.fail(f"{_subject(step)}: {exc.message}")
                landed = False
            if not landed:
                tainted |= concerns(step)
        return halt

    def finish(self, plan: CyclePlan, report: CycleReport) -> None:
        """The generated pages, and folders no project owns any more (also after a halt)."""
        if plan.write_pages:
            self._write_pages(report)
        if plan.tidy_folders:
            self._tidy_folders(report)

    def _apply(
        self, project: Project | None, step: SessionStep | Remove | DropProject, report: CycleReport
    ) -> bool:
        """Carry out one step; False when it did not land or must be done again (and its
        projects stay unsettled)."""
        if isinstance(step, Reindex):
            self.sessions.reindex(step)
            return True
        if isinstance(step, Remove):
            return self.removal.remove(step, report)
        if isinstance(step, DropProject):
            self._drop_project(step, report)
            return True
        assert project is not None  # session steps always come with their project
        record = self.sessions.apply(project, step, report)
        if record is not None:
            self._landed(record.markdown_size or 0)
        # A body kept without its etag (shorter than listed) is fetched again next run,
        # so its listing must not let that run skip the project.
        return record is None or record.etag is not None or step.session.etag is None

    def _landed(self, size: int) -> None:
        self._unsearched_bytes += size
        if self.catch_up_search is not None and self._unsearched_bytes >= SEARCH_EVERY_BYTES:
            self._unsearched_bytes = 0
            self.catch_up_search()

    def _settle(self, plan: CyclePlan, tainted: set[str]) -> None:
        """Save each fully applied listing (and only then the project's new name); a
        project with a step undone is listed in full next time instead."""
        for record in plan.settle:
            if record.id in tainted:
                self.store.forget_list_etag(record.id)
            else:
                self.store.save_project(record)
        for project_id in sorted(tainted - {r.id for r in plan.settle}):
            self.store.forget_list_etag(project_id)

    def _drop_project(self, drop: DropProject, report: CycleReport) -> None:
        page = f"{drop.dirname}/{PROJECT_INDEX}"
        self.store.delete_project(drop.project_id)
        self.mirror.remove(page)
        report.dropped(page)
        self.mirror.remove_empty_dir(drop.dirname)

    def _write_pages(self, report: CycleReport) -> None:
        projects = list(self.store.projects().values())
        pages = overview.render_pages(projects, self.store.sessions().values())
        changed = {path: data for path, data in pages.items() if not self._holds(path, data)}
        if not changed:
            return
        self.store.journal(changed)
        for path, content in changed.items():
            try:
                self.mirror.write_bytes(path, content)
            except SyncdError as exc:  # e.g. its folder is a link: the other pages still go
                logger.error("page %s: %s", path, exc.message)
                report.fail(f"page {path}: {exc.message}")
                continue
            report.touched(path)

    def _holds(self, page: str, content: bytes) -> bool:
        try:
            return self.mirror.holds(page, content)
        except SyncdError:
            return False  # written (and its error reported) below

    def _tidy_folders(self, report: CycleReport) -> None:
        """A folder no project owns any more (after a rename or a move) loses its INDEX.md,
        which would list sessions that are gone; the folder goes when nothing else is in it
        (a file the user put there keeps it)."""
        owned = {p.dirname for p in self.store.projects().values()}
        for folder in self.mirror.top_level_folders():
            page = f"{folder}/{PROJECT_INDEX}"
            if folder in owned or not self.mirror.exists(page) or not self._generated(page):
                continue
            self.store.journal([page])
            self.mirror.remove(page)
            report.dropped(page)
            self.mirror.remove_empty_dir(folder)
            logger.info("removed the page of the folder no project owns any more: %s", folder)

    def _generated(self, page: str) -> bool:
        content = self.mirror.read_bytes(page) or b""
        return content.rstrip().endswith(GENERATED_MARK.encode())


def _claimed(plan: CyclePlan) -> frozenset[str]:
    """Every path the plan's steps may write or leave, stand-ins included (case-folded)."""
    paths = set(plan.paths())
    for _, step in plan.session_steps():
        if not isinstance(step, Reindex):
            paths.add(step.path)
    return frozenset(p.casefold() for p in paths)


def _subject(step: SessionStep | Remove | DropProject) -> str:
    if isinstance(step, DropProject):
        return f"project {step.project_id}"
    if isinstance(step, Remove):
        return f"session {step.record.id}"
    return f"session {step.session.id}"


def _label(step: SessionStep | Remove | DropProject) -> str:
    if isinstance(step, DropProject):
        return step.dirname
    if isinstance(step, Remove):
        return step.record.name or step.record.id
    return step.session.name or step.session.id
