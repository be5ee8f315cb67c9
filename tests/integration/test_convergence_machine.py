"""A Hypothesis state machine over the devserver: whatever happens in between, a clean
reconciliation converges.

Rules change the cloud (add, append, rename a session, rename a project, move a session
between projects, delete, touch without change), make the user edit or mark files, and run
the three kinds of cycle (once, incremental, reconcile) — plainly, with a fault injected
(5xx, a reset or a truncation on a listing or a body, a 429), or stopped hard at a drawn
durable step in a child process. The check rule runs a clean reconciliation and requires:
every cloud session on disk byte for byte at its planned path and nothing else (trash and
conflict copies aside), the index describing exactly the files, no temp file, git HEAD
holding exactly syncd's paths with their bytes, and a further run that writes and commits
nothing. Each example runs in git archive mode or not.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.config import GitSettings, Settings
from syncd.daemon.cycle import run_cycle
from syncd.devserver import DevServer, Fault
from syncd.errors import SyncdError
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.paths import id_tag, parse_time, session_filename, slugify
from syncd.mirror.writer import Mirror
from syncd.sync import overview
from syncd.sync.engine import SyncEngine, SyncOptions
from syncd.sync.report import CycleReport
from tests.crashing import after_step, run_in_child
from tests.integration.conftest import FakeClock

#: Examples per run (derandomized: the same ones every time), each up to STEPS rules long.
#: 60 catch each bug planted to prove the machine (see the README's Development section).
EXAMPLES = int(os.environ.get("SYNCD_MACHINE_EXAMPLES", "60"))
STEPS = 25

PARAGRAPHS = [
    "The login form posts to /api/session and the token comes back in a cookie.",
    "Move the retry loop into the client so every request shares one budget.",
    "Tests fail on Windows because the path separator leaks into the snapshot.",
    "Rename the helper to parse_time and keep one copy of it, not two.",
    "```py\nprint('日本語 🎉')\n```",
    "The build is green again; the flaky upload test waits on an event now.",
]
NAMES = st.text(alphabet="abcdefgh XYZ-/é日.", min_size=0, max_size=14)
BODIES = st.lists(st.sampled_from(PARAGRAPHS), min_size=1, max_size=4).map(
    lambda parts: ("# Session\n\n" + "\n\n".join(parts) + "\n").encode()
)
FAULTS = [
    ("status", r"/sessions$"),  # a listing answers 500, again and again
    ("reset", r"/sessions$"),
    ("truncate", r"/sessions$"),
    ("status", r"/sessions/[^/]+$"),  # a body answers 500
    ("reset", r"/sessions/[^/]+$"),
    ("truncate", r"/sessions/[^/]+$"),
    ("status", r"^/api/v1/projects$"),
    ("429", r".*"),
]
KINDS = st.sampled_from(["once", "incremental", "reconcile"])
NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)
SKIPPED = {".git", ".syncd", ".trash"}


@dataclass
class CloudSession:
    project: str
    name: str
    body: bytes
    created_at: str


class Convergence(RuleBasedStateMachine):
    """One mirror root, one cloud, and what the user did to the files."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.server = DevServer(api_key="k", port=0, rate_limit=None, clock=self.clock)
        self.server.start()
        self.root = base / f"root-{next(_ROOTS)}"
        self.git = False
        self.projects: dict[str, str] = {}
        self.cloud: dict[str, CloudSession] = {}
        self.edited: dict[str, bytes] = {}  # the user's version of a file, not yet replaced
        self.marked: set[str] = set()
        self.displaced: set[bytes] = set()  # every edited version: conflict copies hold these
        self.ids = itertools.count(1)

    def teardown(self) -> None:
        self.server.stop()

    # --- the cloud ------------------------------------------------------------------

    @initialize(
        git=st.booleans(),
        names=st.lists(NAMES, min_size=2, max_size=3),
        sessions=st.lists(st.tuples(NAMES, BODIES), max_size=4),
    )
    def start(self, git: bool, names: list[str], sessions: list[tuple[str, bytes]]) -> None:
        """Projects with a few sessions, mirrored once: the usual state to change from."""
        self.git = git
        for number, name in enumerate(names):
            self.add_project(f"proj_{number}", name)
        for position, (name, body) in enumerate(sessions):
            self._new_session(f"proj_{position % len(names)}", name, body)
        self._cycle("once")

    def add_project(self, project_id: str, name: str) -> None:
        self.server.add_project(name, project_id=project_id)
        self.projects[project_id] = name

    def _later(self) -> None:
        self.clock.advance(61)  # every change is newer than the last: the recent page sorts

    @rule(data=st.data(), name=NAMES, body=BODIES)
    def add_session(self, data: st.DataObject, name: str, body: bytes) -> None:
        self._new_session(data.draw(st.sampled_from(sorted(self.projects))), name, body)

    def _new_session(self, project: str, name: str, body: bytes) -> None:
        self._later()
        number = next(self.ids)
        session_id = f"{number:08x}-5e55-4000-8000-000000000000"
        created = datetime.fromtimestamp(self.clock.now, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.server.put_session(
            project, session_id=session_id, name=name, markdown=body, created_at=created
        )
        self.cloud[session_id] = CloudSession(project, name, body, created)

    @precondition(lambda self: self.cloud)
    @rule(data=st.data(), more=BODIES)
    def append(self, data: st.DataObject, more: bytes) -> None:
        session = self._put(
            data, lambda s: CloudSession(s.project, s.name, s.body + more, s.created_at)
        )
        assert session is not None

    @precondition(lambda self: self.cloud)
    @rule(data=st.data(), name=NAMES)
    def rename_session(self, data: st.DataObject, name: str) -> None:
        self._put(data, lambda s: CloudSession(s.project, name, s.body, s.created_at))

    @precondition(lambda self: self.cloud)
    @rule(data=st.data())
    def touch_without_change(self, data: st.DataObject) -> None:
        self._put(data, lambda s: s)

    @precondition(lambda self: self.cloud)
    @rule(data=st.data())
    def move_session(self, data: st.DataObject) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.cloud)))
        session = self.cloud[session_id]
        target = data.draw(st.sampled_from(sorted(self.projects)))
        if target == session.project:
            return
        self._later()
        self.server.delete_session(session.project, session_id)
        session.project = target
        self._send(session_id, session)

    @precondition(lambda self: self.cloud)
    @rule(data=st.data())
    def delete_session(self, data: st.DataObject) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.cloud)))
        self.server.delete_session(self.cloud.pop(session_id).project, session_id)
        self.edited.pop(session_id, None)
        self.marked.discard(session_id)

    @rule(data=st.data(), name=NAMES)
    def rename_project(self, data: st.DataObject, name: str) -> None:
        self._later()
        project = data.draw(st.sampled_from(sorted(self.projects)))
        self.server.rename_project(project, name)
        self.projects[project] = name

    def _put(
        self, data: st.DataObject, change: Callable[[CloudSession], CloudSession]
    ) -> CloudSession:
        self._later()
        session_id = data.draw(st.sampled_from(sorted(self.cloud)))
        session = change(self.cloud[session_id])
        self.cloud[session_id] = session
        self._send(session_id, session)
        return session

    def _send(self, session_id: str, session: CloudSession) -> None:
        self.server.put_session(
            session.project,
            session_id=session_id,
            name=session.name,
            markdown=session.body,
            created_at=session.created_at,
        )

    # --- the user's files ------------------------------------------------------------

    @rule(data=st.data(), note=st.sampled_from([b"my note\n", b"\n- [ ] check this\n"]))
    def edit_a_file(self, data: st.DataObject, note: bytes) -> None:
        mirrored = self._mirrored()
        if not mirrored:
            return
        session_id = data.draw(st.sampled_from(sorted(mirrored)))
        path = mirrored[session_id]
        self._replaced_edit(session_id, path.read_bytes())
        edited = path.read_bytes() + note
        path.write_bytes(edited)
        self.edited[session_id] = edited
        self.displaced.add(edited)

    @rule(data=st.data())
    def mark_for_pullstory(self, data: st.DataObject) -> None:
        mirrored = {k: v for k, v in self._mirrored().items() if k not in self.marked}
        if not mirrored:
            return
        session_id = data.draw(st.sampled_from(sorted(mirrored)))
        path = mirrored[session_id]
        text = path.read_bytes()
        self._replaced_edit(session_id, text)
        assert text.startswith(b"---\n")
        marked = b"---\npullstory: true\n" + text[4:]
        path.write_bytes(marked)
        self.marked.add(session_id)
        if session_id in self.edited:
            self.edited[session_id] = marked
            self.displaced.add(marked)

    def _replaced_edit(self, session_id: str, current: bytes) -> bool:
        """Whether a cycle replaced the user's edit of this file; then a copy must hold it."""
        edit = self.edited.get(session_id)
        if edit is None or current == edit:
            return False
        del self.edited[session_id]
        copies = [data for path, data in _files(self.root).items() if ".local-" in path]
        assert edit in copies, "an edited file was replaced without keeping the user's copy"
        return True

    def _mirrored(self) -> dict[str, Path]:
        """A file on disk per cloud session, found by the id in its front matter (the index
        is not asked: after a kill, a file may be there before its index row)."""
        found: dict[str, Path] = {}
        for path in sorted(self.root.glob("*/*.md")):
            if (
                path.name == "INDEX.md"
                or ".local-" in path.name
                or path.parent.name.startswith(".")
            ):
                continue
            try:
                session_id = frontmatter.split(path.read_bytes())[0].get("id")
            except frontmatter.FrontMatterError:
                continue  # the user's own edit broke it: not a file to pick
            if isinstance(session_id, str) and session_id in self.cloud:
                found[session_id] = path
        return found

    # --- cycles ----------------------------------------------------------------------

    @rule(kind=KINDS)
    def cycle(self, kind: str) -> None:
        self._cycle(kind)

    @rule(
        data=st.data(),
        kind=KINDS,
        fault=st.sampled_from(FAULTS),
        times=st.sampled_from([1, 2, -1, -1]),
    )
    def cycle_with_a_fault(
        self, data: st.DataObject, kind: str, fault: tuple[str, str], times: int
    ) -> None:
        self._maybe_change(data)
        what, path = fault
        if what == "429":
            self.server.inject(Fault(kind="status", status=429, path=path, times=times))
        else:
            self.server.inject(Fault(kind=what, path=path, times=times))  # type: ignore[arg-type]
        try:
            self._cycle(kind)
        except SyncdError:  # a cycle may fail as a whole (the project list kept failing)
            pass
        finally:
            self.server.clear_faults()
            self.clock.advance(3600)  # past any Retry-After the fault left in the budget

    @rule(data=st.data(), kind=KINDS, step=st.integers(min_value=1, max_value=25))
    def cycle_stopped_hard(self, data: st.DataObject, kind: str, step: int) -> None:
        self._maybe_change(data)
        child = run_in_child(lambda: self._cycle(kind), after_step(step))
        assert child.error is None, child.error

    def _maybe_change(self, data: st.DataObject) -> None:
        """Often, give the troubled cycle something to do: one session changed just before."""
        if self.cloud and data.draw(st.booleans(), label="change first"):
            self.append(data, data.draw(BODIES, label="appended"))

    @rule()
    def converges(self) -> None:
        """A clean reconciliation ends in the one right state, and then changes nothing."""
        self.clock.advance(3600)
        report = self._cycle("reconcile", allow_mass_delete=True)
        assert report.ok, report.errors
        self._check_mirror()
        before = _mtimes(self.root)
        head = self._head()
        again = self._cycle("reconcile")
        assert (again.new, again.updated, again.deleted, again.failed) == (0, 0, 0, 0)
        assert _mtimes(self.root) == before, "a run with nothing new wrote files"
        assert self._head() == head, "a run with nothing new committed"

    def _cycle(self, kind: str, *, allow_mass_delete: bool = False) -> CycleReport:
        config = Settings(
            root=self.root,
            base_url=self.server.url,
            git=GitSettings(enabled=self.git),
        )
        client = CloudClient(
            self.server.url,
            self.server.api_key,
            retry=NO_WAIT,
            sleep=self.clock.sleep,
            budget=RateBudget(interactive=False, clock=self.clock),
        )
        options = SyncOptions(allow_mass_delete=allow_mass_delete)
        with client, Store.open(self._database_url()) as store:
            engine = SyncEngine(client, store, Mirror(self.root), clock=self._now, options=options)
            return run_cycle(config, store, engine, kind)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now, UTC)

    def _database_url(self) -> str:
        return f"sqlite:///{self.root / '.syncd' / 'index.db'}"

    def _head(self) -> str | None:
        if not self.git:
            return None
        return _git(self.root, "rev-parse", "HEAD").strip()

    # --- the invariants after a clean reconciliation ------------------------------------

    def _check_mirror(self) -> None:
        with Store.open(self._database_url()) as store:
            records = store.sessions()
            projects = store.projects()
            journaled = store.journaled()[1]
            pages = overview.render_pages(list(projects.values()), records.values())
        assert set(records) == set(self.cloud), "the index holds exactly the cloud's sessions"
        assert set(projects) == set(self.projects)
        folders = [p.dirname.casefold() for p in projects.values()]
        assert len(set(folders)) == len(folders), "two projects share a folder"
        for project_id, name in self.projects.items():
            assert projects[project_id].name == name
            assert projects[project_id].dirname.startswith(slugify(name) or "untitled")
        for session_id, session in self.cloud.items():
            self._check_session(
                session_id, session, records[session_id], projects[session.project].dirname
            )
        on_disk = _files(self.root)
        for path, data in pages.items():
            assert on_disk.get(path) == data, f"{path} does not show the index"
        sessions_on_disk = {
            p for p in on_disk if p not in pages and ".local-" not in p and p.endswith(".md")
        }
        assert sessions_on_disk == {r.path for r in records.values()}, "a stray file"
        assert not [p for p in _all_files(self.root) if p.endswith(".syncd-tmp")]
        for path, data in on_disk.items():
            if ".local-" in path:
                assert data in self.displaced, f"{path} is not a copy of the user's edit"
        if self.git:
            assert journaled == [], "a journaled path was never committed"
            self._check_git(records, pages)

    def _check_session(
        self, session_id: str, session: CloudSession, record: SessionRecord, dirname: str
    ) -> None:
        assert record.project_id == session.project
        name = session_filename(parse_time(session.created_at), session.name, id_tag(session_id))
        assert record.path == f"{dirname}/{name}", "not at its planned path"
        data = (self.root / record.path).read_bytes()
        if session_id in self.edited and not self._replaced_edit(session_id, data):
            return  # not replaced yet: nothing in the cloud changed since the edit
        header, body = frontmatter.split(data)
        assert body == session.body, "the body is not the cloud's, byte for byte"
        assert header["id"] == session_id
        assert header["name"] == session.name
        assert header["project"] == self.projects[session.project]
        assert header["etag"] == record.etag
        assert (header.get("pullstory") is True) == (session_id in self.marked)
        if session_id not in self.marked:
            assert hashlib.sha256(data).hexdigest() == record.file_sha256

    def _check_git(self, records: dict[str, SessionRecord], pages: dict[str, bytes]) -> None:
        committed = _git(self.root, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")
        committed_paths = {p for p in committed if p}
        assert committed_paths == {r.path for r in records.values()} | set(pages)
        for record in records.values():
            blob = _show(self.root, record.path)
            assert hashlib.sha256(blob).hexdigest() == record.file_sha256, record.path
        for path, data in pages.items():
            assert _show(self.root, path) == data
        user_changes = set(_changed_in_work_tree(self.root))
        ours = {records[s].path for s in (*self.edited, *self.marked) if s in records}
        assert user_changes <= ours, "git shows changes the user did not make"


_ROOTS = itertools.count()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not SKIPPED & set(p.relative_to(root).parts)
    }


def _all_files(root: Path) -> list[str]:
    return [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    ]


def _mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not SKIPPED & set(p.relative_to(root).parts)
    }


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    return done.stdout.decode()


def _show(root: Path, path: str) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(root), "show", f"HEAD:{path}"], capture_output=True, check=True
    )
    return done.stdout


def _changed_in_work_tree(root: Path) -> list[str]:
    out = _git(root, "status", "--porcelain", "-z", "--untracked-files=no")
    return [entry[3:] for entry in out.split("\0") if entry]


@pytest.fixture
def machine_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return tmp_path


def test_every_sequence_of_changes_faults_and_kills_converges(machine_environment: Path) -> None:
    run_state_machine_as_test(
        lambda: Convergence(machine_environment),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,  # the same examples on every run: CI is deterministic
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
