"""Lock files in a git directory, and the marker that proves which ones syncd's commit left.

git writes `<name>.lock` beside a file it is about to replace and renames it when done; a
git killed in between leaves the lock behind, and every later command that needs the file
fails. While a commit attempt runs, syncd keeps an ownership marker in the git directory
(its pid, when the attempt started, the git child running now and when that child must be
done) and removes it when the attempt ends. One syncd owns a mirror root (the root lock),
so a marker found when an attempt starts was left by a syncd that died: the lock files
created while its git commands could run are taken for that commit's own, and removed only
while no git process is seen working in the repository (a lock made in that window may be
a running git's: the user's own commit).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from syncd.archive.command import Git, GitFailed

logger = logging.getLogger(__name__)

#: syncd's own index file in the git directory, kept between commits for its stat cache
#: (suffixed with a hash of the root's place in the work tree when it is not the top).
SYNCD_INDEX = "syncd-index"
#: Beside it, the commit syncd's own index was last written for (suffixed the same way).
INDEX_RECORD = "syncd-head"
#: The ownership marker's name in the git directory (suffixed like syncd's own index).
MARKER = "syncd-git-owner"
#: What `git rev-parse` is asked of the repository holding a root, one answer a line.
WHERE_ARGS = ("--absolute-git-dir", "--git-common-dir", "--show-toplevel", "--show-prefix")
#: Seconds of slack around the marker's times: some file systems keep coarse mtimes.
MTIME_SLACK = 2.0


@dataclass(frozen=True)
class GitLock:
    """A lock file in a git directory; `syncds_own` when an interrupted syncd commit left it."""

    path: Path
    syncds_own: bool


@dataclass(frozen=True)
class Owner:
    """What the marker records: syncd's pid, when the attempt started (epoch seconds), the
    pid of the git child it started last, and when that child had to be finished by."""

    pid: int
    started: float
    git_pid: int | None = None
    git_deadline: float | None = None

    def with_git(self, pid: int, deadline: float) -> Owner:
        """The same attempt, now running git child `pid` until at most `deadline`."""
        return replace(self, git_pid=pid, git_deadline=deadline)

    def made(self, mtime: float) -> bool:
        """Whether a lock file modified at `mtime` was created while this attempt's git ran."""
        until = max(self.started, self.git_deadline or self.started)
        return self.started - MTIME_SLACK <= mtime <= until + MTIME_SLACK


def read_owner(marker: Path) -> Owner | None:
    """The marker's record; None when there is none or it cannot be read as one."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        owner = Owner(
            pid=int(data["pid"]),
            started=float(data["started"]),
            git_pid=None if data.get("git_pid") is None else int(data["git_pid"]),
            git_deadline=None if data.get("git_deadline") is None else float(data["git_deadline"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return owner


def write_owner(marker: Path, owner: Owner) -> None:
    """Replace the marker atomically: a kill never leaves half a record. Raises OSError."""
    temp = marker.with_name(marker.name + ".tmp")
    temp.write_text(json.dumps(asdict(owner)), encoding="utf-8")
    temp.replace(marker)


def is_running(pid: int) -> bool:
    """True while process `pid` exists and has not exited (a zombie has, though unreaped)."""
    if pid <= 0:
        return False  # 0 and negative pids name process groups, never one git
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, but another user's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc here: existing is all that can be known
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def git_running_in(repo: Repository) -> int | None:
    """The pid of a git process working in this repository now, if one runs (read from
    /proc; None where there is no /proc, or no such process can be seen)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    places = {repo.top.resolve(), repo.git_dir, repo.common_dir}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not (entry / "comm").read_text(encoding="utf-8").startswith("git"):
                continue
            cwd = (entry / "cwd").readlink()
        except OSError:
            continue  # gone, or another user's: nothing to learn
        if any(cwd == place or place in cwd.parents for place in places):
            return int(entry.name)
    return None


def find_locks(git_dirs: list[Path], own_index: Path, owner: Owner | None) -> list[GitLock]:
    """Every `*.lock` directly in these git directories or under their refs/ and logs/,
    classified; other mirror roots' index locks are theirs to recover and are left out.

    `own_index` is this root's own index file: its lock is syncd's whatever the marker says,
    since only this root's syncd uses that index. Raises OSError when a folder cannot be read.
    """
    found: dict[Path, None] = {}
    for git_dir in dict.fromkeys(git_dirs):
        found.update((path, None) for path in sorted(git_dir.glob("*.lock")))
        for folder in (git_dir / "refs", git_dir / "logs"):
            found.update((path, None) for path in sorted(folder.rglob("*.lock")))
    own_lock = own_index.with_name(own_index.name + ".lock")
    others = {p for p in found if p.parent == own_lock.parent and p.name.startswith(SYNCD_INDEX)}
    locks = []
    for path in found:
        if path in others and path != own_lock:
            continue
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            continue  # its git finished while we looked
        own = path == own_lock or (owner is not None and owner.made(mtime))
        locks.append(GitLock(path, own))
    return locks


@dataclass(frozen=True)
class Repository:
    """Where the repository holding a mirror root keeps its state."""

    git_dir: Path  # this work tree's: HEAD, index
    common_dir: Path  # shared with linked work trees: refs
    top: Path
    suffix: str  # "" when the root is the top of the work tree, else a hash of its place

    @property
    def own_index(self) -> Path:
        """One index file per mirror root, so two roots in one repository never share one."""
        return self.git_dir / (SYNCD_INDEX + self.suffix)

    @property
    def own_index_record(self) -> Path:
        """Which HEAD syncd's own index holds, and which file that was (see `ownindex`)."""
        return self.git_dir / (INDEX_RECORD + self.suffix)

    @property
    def marker(self) -> Path:
        return self.git_dir / (MARKER + self.suffix)

    def locks(self, owner: Owner | None) -> list[GitLock]:
        """Lock files in this repository's git directories, classified with `owner`."""
        try:
            return find_locks([self.git_dir, self.common_dir], self.own_index, owner)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise GitFailed(f"cannot look for lock files in {self.git_dir}: {reason}") from exc


def find_repository(git: Git, *, check: bool) -> Repository | None:
    """The repository holding git's working folder; None when there is none (GitFailed
    when `check`). Runs only `git rev-parse`, which takes no lock."""
    done = git("rev-parse", *WHERE_ARGS, check=check)
    if done.returncode != 0:
        return None
    return _repository(git, done.stdout.split("\n"))


def locate(git: Git) -> tuple[Repository, str | None] | None:
    """The repository holding git's working folder and its HEAD commit (None while the
    branch has none), in one `git rev-parse`; None when there is no repository."""
    done = git("rev-parse", *WHERE_ARGS, "--verify", "--quiet", "HEAD^{commit}", check=False)
    lines = done.stdout.split("\n")
    # Exit 1 with the four answers: HEAD names no commit yet (a branch not yet born).
    if done.returncode not in (0, 1) or len(lines) < len(WHERE_ARGS):
        return None
    head = lines[len(WHERE_ARGS)].strip() if done.returncode == 0 else ""
    return _repository(git, lines), head or None


def _repository(git: Git, lines: list[str]) -> Repository:
    git_dir, common_dir, top, prefix = [*lines, "", "", ""][:4]
    prefix = prefix.strip()
    suffix = f"-{hashlib.sha256(prefix.encode()).hexdigest()[:12]}" if prefix else ""
    # --git-common-dir may be relative to the working folder.
    common = (git.cwd / common_dir).resolve()
    return Repository(Path(git_dir).resolve(), common, Path(top), suffix)


def recover_locks(repo: Repository) -> None:
    """Remove the lock files an interrupted syncd commit left, and its marker.

    Raises GitFailed, removing nothing, while a git that commit started still runs; raises
    GitFailed with `blocked_by` for a lock syncd cannot prove is its own, which stays.
    """
    owner = read_owner(repo.marker)
    if owner is not None and owner.git_pid is not None and is_running(owner.git_pid):
        raise GitFailed(
            f"a git command syncd started (pid {owner.git_pid}) is still running in "
            f"{repo.top}; the commit waits for the next cycle"
        )
    locks = repo.locks(owner)
    own = [lock.path for lock in locks if lock.syncds_own]
    running = git_running_in(repo) if own else None
    if running is not None:
        # A lock made in the window a dead syncd's git could have made it may be this
        # live git's (the user's commit waiting for its editor): never pull it away.
        raise GitFailed(
            f"a git command (pid {running}) is running in {repo.top}; the commit waits for "
            "the next cycle"
        )
    try:
        for path in own:
            path.unlink(missing_ok=True)
        repo.marker.unlink(missing_ok=True)
    except OSError as exc:
        raise GitFailed(f"cannot remove {exc.filename}: {exc.strerror or exc}") from exc
    if own:
        names = ", ".join(str(path) for path in own)
        logger.warning("removed git lock files an interrupted syncd commit left: %s", names)
    foreign = next((lock.path for lock in locks if not lock.syncds_own), None)
    if foreign is not None:
        raise GitFailed(
            f"{foreign} exists and was not left by syncd: another git command is running, "
            f"or one crashed. If no git command is running in {repo.top}, delete {foreign}.",
            blocked_by=foreign,
        )


@contextmanager
def owning(repo: Repository, git: Git) -> Iterator[None]:
    """Keep the ownership marker while the commit attempt runs `git`, naming each child.

    The marker is removed when the attempt ends, unless a git had to be killed: then it
    stays, so the next attempt recovers the locks that git left.
    """
    # Wall-clock time: the marker's times are compared with lock files' mtimes.
    owner = Owner(pid=os.getpid(), started=time.time())

    def record(pid: int, deadline: float) -> None:
        _write(repo.marker, owner.with_git(pid, deadline))

    git.killed = False
    try:
        _write(repo.marker, owner)
        git.watcher = record
        yield
    finally:
        git.watcher = None
        if not git.killed:
            _remove(repo.marker)


def _write(marker: Path, owner: Owner) -> None:
    try:
        write_owner(marker, owner)
    except OSError as exc:
        raise GitFailed(f"cannot write {marker}: {exc.strerror or exc}") from exc


def _remove(marker: Path) -> None:
    try:
        marker.unlink(missing_ok=True)
    except OSError as exc:
        # Harmless when left: the next attempt takes it for an interrupted one.
        logger.warning("cannot remove %s: %s", marker, exc.strerror or exc)
