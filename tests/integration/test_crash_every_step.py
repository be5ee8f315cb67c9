"""Stop `syncd sync --once` hard at every durable step of a mixed cycle; the next run must
end exactly where an uninterrupted run ends, and a run after that must change nothing.

The cycle mixes every kind of change: a new session, an updated one, a renamed one, one
moved to another project, a deleted one, a renamed project, a local edit of a file whose
session also changed in the cloud, and two files named from their first user message (a
new session named by a timestamp, one whose name was emptied), in git archive mode. Its
durable steps (files renamed into place, index transactions, git commits) are counted on
an uninterrupted run; then for each step N a fresh copy of the same situation is synced
in a child process that is killed with SIGKILL right after step N, and restarted.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from tests.crashing import after_step, run_in_child
from tests.integration.conftest import FakeClock, point_cli_at

SESSION = "{}{}000000-0000-4000-8000-000000000000"
PROJECTS = {"proj_a": "Alpha", "proj_b": "Beta"}
# The same words in every run: the mirror of one run can be compared with another's.
PARAGRAPHS = [
    "The login form posts to /api/session and the token comes back in a cookie.",
    "Move the retry loop into the client so every request shares one budget.",
    "Tests fail on Windows because the path separator leaks into the snapshot.",
    "Rename the helper to parse_time and keep one copy of it, not two.",
]


def sid(project: str, n: int) -> str:
    return SESSION.format(project[-1], n)


def body(n: int, version: int = 1) -> str:
    text = "\n\n".join(PARAGRAPHS[(n + k) % len(PARAGRAPHS)] for k in range(3))
    return f"# Session {n}\n\n_**User**_\n\n{text}\n" + "\n_**Assistant**_\n\nDone.\n" * version


def build_cloud(server: DevServer) -> None:
    for project_id, name in PROJECTS.items():
        server.add_project(name, project_id=project_id)
    for n in range(6):
        server.put_session(
            "proj_a",
            session_id=sid("proj_a", n),
            name=f"Alpha {n}",
            markdown=body(n),
            created_at=f"2025-07-2{n}T10:00:00.000Z",
        )
    for n in range(3):
        server.put_session(
            "proj_b", session_id=sid("proj_b", n), name=f"Beta {n}", markdown=body(n + 6)
        )


def change_cloud(server: DevServer) -> None:
    """One of every kind of change."""
    server.put_session("proj_a", session_id=sid("proj_a", 9), name="Fresh", markdown=body(9))
    server.put_session("proj_a", session_id=sid("proj_a", 1), name="Alpha 1", markdown=body(1, 2))
    server.rename_session("proj_a", sid("proj_a", 2), "Alpha 2, renamed")
    server.delete_session("proj_a", sid("proj_a", 3))
    server.put_session("proj_b", session_id=sid("proj_a", 3), name="Alpha 3", markdown=body(3))
    server.delete_session("proj_a", sid("proj_a", 4))
    server.put_session("proj_a", session_id=sid("proj_a", 5), name="Alpha 5", markdown=body(5, 3))
    server.rename_project("proj_b", "Beta, renamed")
    # Names that say nothing: files named from the first user message, new and on disk.
    server.put_session(
        "proj_a", session_id=sid("proj_a", 8), name="2025-07-28 10:00:00Z", markdown=body(8)
    )
    server.rename_session("proj_b", sid("proj_b", 1), "")


def change_cloud_again(server: DevServer) -> None:
    """What may happen in the cloud between a stop and the restart."""
    server.rename_session("proj_a", sid("proj_a", 1), "Alpha 1, later")
    server.put_session("proj_a", session_id=sid("proj_a", 5), name="Alpha 5", markdown=body(5, 4))
    server.delete_session("proj_a", sid("proj_a", 0))  # mirrored either way: trashed either way
    server.put_session("proj_b", session_id=sid("proj_b", 0), name="Beta 0", markdown=body(6, 2))


def edit_locally(root: Path) -> None:
    (edited,) = root.glob(f"alpha/*-{sid('proj_a', 5)[:8]}.md")
    edited.write_bytes(edited.read_bytes() + b"\nmy own note\n")


@dataclass(frozen=True)
class Mirror:
    """Everything a run leaves that must not depend on where it was interrupted."""

    files: dict[str, bytes]  # the tree, trash and conflict copies included
    sessions: list[tuple[object, ...]]  # index rows (what is not time-dependent)
    projects: list[tuple[object, ...]]
    committed: dict[str, bytes]  # git HEAD's tree
    git_status: str


def capture(root: Path) -> Mirror:
    files = {
        _stable(p.relative_to(root).as_posix()): _stable_bytes(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".git", ".syncd"} & set(p.relative_to(root).parts)
    }
    with sqlite3.connect(root / ".syncd" / "index.db") as db:
        rows = db.execute(
            "SELECT id, project_id, name, path, etag, body_sha256, file_sha256, markdown_size,"
            " cloud_deleted_at, name_words FROM sessions ORDER BY id"
        ).fetchall()
        projects = db.execute("SELECT * FROM projects ORDER BY id").fetchall()
        journal = db.execute("SELECT count(*) FROM git_journal").fetchone()[0]
    assert journal == 0, "a journaled path was never committed"
    for row in rows:  # the index describes the files as they are
        on_disk = (root / str(row[3])).read_bytes()
        assert hashlib.sha256(on_disk).hexdigest() == row[6]
    sessions = [(*row[:6], row[7], row[8], row[9]) for row in rows]
    committed = _committed(root)
    # git holds exactly syncd's own files (not the trash, not the user's conflict copies).
    ours = {k: v for k, v in files.items() if not k.startswith(".trash/") and ".local-" not in k}
    assert committed == ours
    status = _stable(_git(root, "status", "--short"))
    return Mirror(files, sessions, projects, committed, status)


def _committed(root: Path) -> dict[str, bytes]:
    names = _git(root, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")
    return {name: _stable_bytes(_show(root, name)) for name in names if name}


def _show(root: Path, name: str) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(root), "show", f"HEAD:{name}"], capture_output=True, check=True
    )
    return done.stdout


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)
    return done.stdout.decode()


def _stable(name: str) -> str:
    # A conflict copy is named after the moment it was made.
    return re.sub(r"\.local-\d{8}T\d{6}Z", ".local-<time>", name)


def _stable_bytes(data: bytes) -> bytes:
    # Each run's server listens on its own port, which the front matter's source_url shows.
    return re.sub(rb"http://127\.0\.0\.1:\d+/", b"http://server/", data)


class Situation:
    """A mirror synced before the changes, the changes made, ready for the cycle under test."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.clock = FakeClock()
        self.server = DevServer(api_key="k", port=0, rate_limit=None, clock=self.clock)
        self.root = tmp_path / name
        self.monkeypatch = monkeypatch

    def __enter__(self) -> Situation:
        self.server.start()
        point_cli_at(self.monkeypatch, self.server.url, self.server.api_key, self.root)
        build_cloud(self.server)
        assert run(["sync", "--once"]) == 0
        self.clock.advance(3600)
        change_cloud(self.server)
        edit_locally(self.root)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    def mtimes(self) -> dict[str, int]:
        return {
            p.relative_to(self.root).as_posix(): p.stat().st_mtime_ns
            for p in self.root.rglob("*")
            if p.is_file() and not {".git", ".syncd"} & set(p.relative_to(self.root).parts)
        }


@pytest.fixture
def situations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[Situation]:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    monkeypatch.setenv("SYNCD_LOG_LEVEL", "WARNING")
    # A restart may remove two of the six sessions at once (the guard is tested elsewhere).
    monkeypatch.setenv("SYNCD_DELETION__MAX_SHARE", "0.5")

    class Bound(Situation):
        def __init__(self, name: str) -> None:
            super().__init__(tmp_path, monkeypatch, name)

    return Bound


def assert_settled(situation: Situation) -> None:
    """A further run writes nothing and commits nothing."""
    head = _git(situation.root, "rev-parse", "HEAD")
    before = situation.mtimes()
    assert run(["sync", "--once"]) == 0
    assert situation.mtimes() == before
    assert _git(situation.root, "rev-parse", "HEAD") == head


@pytest.mark.parametrize("cloud_changes_again", [False, True], ids=["restart", "changed-restart"])
def test_a_kill_at_any_durable_step_ends_where_an_uninterrupted_run_ends(
    situations: type[Situation], capsys: pytest.CaptureFixture[str], cloud_changes_again: bool
) -> None:
    def restart(situation: Situation) -> None:
        if cloud_changes_again:
            situation.clock.advance(3600)
            change_cloud_again(situation.server)
        assert run(["sync", "--once"]) == 0

    with situations("reference") as reference:
        whole = run_in_child(lambda: run(["sync", "--once"]))
        assert whole.error is None
        assert not whole.killed
        restart(reference)
        expected = capture(reference.root)
        assert_settled(reference)
    steps = whole.steps
    assert len(steps) >= 40, steps  # the mixed cycle has many durable steps to stop at
    for kinds in ("write", "move", "remove", "index", "git commit"):
        assert kinds in steps, f"no {kinds!r} step in {steps}"

    for number, step in enumerate(steps, start=1):
        with situations(f"stop-{number}") as situation:
            child = run_in_child(lambda: run(["sync", "--once"]), after_step(number))
            assert child.killed, f"step {number} ({step}) was never reached: {child.error}"
            restart(situation)
            assert capture(situation.root) == expected, f"after a stop at step {number} ({step})"
            assert_settled(situation)
        capsys.readouterr()  # keep the captured output of hundreds of runs small
