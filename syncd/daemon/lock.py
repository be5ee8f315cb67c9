"""One owner per mirror root: an exclusive flock(2) on `<root>/.syncd/lock`.

The kernel releases the lock when its holder dies, however it dies (SIGKILL included), so
a stale lock file never blocks a restart. The file holds the owner's pid for messages and
`syncd status`; the lock itself, not the file's content, says whether anyone owns the root.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from syncd.errors import LinkInPathError, RootLockedError, StorageError
from syncd.mirror.names import INDEX_DB_FILES, LOCK

# holder() reports a lock that is held by a process whose pid is not written yet as this.
UNKNOWN_PID = 0
# holder() takes a shared lock for a moment to test the lock; an owner starting in that
# moment tries again instead of refusing to start.
ATTEMPTS = 5
RETRY_WAIT_SECONDS = 0.02


class RootLock:
    """The exclusive lock on one state folder. Use as a context manager or acquire()/release()."""

    def __init__(self, state_dir: Path, *, wait: Callable[[float], None] = time.sleep) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK
        self._wait = wait
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without blocking and write our pid into the lock file.

        Raises RootLockedError naming the owner's pid when another process (or another
        RootLock in this one) holds it, StorageError when the folder cannot be written.
        """
        if self._fd is not None:
            return
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            check_no_links(self.state_dir)
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise StorageError(f"the lock file {self.path}", exc.strerror or str(exc)) from exc
        try:
            self._lock(fd)
            _write_pid(fd, os.getpid())
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"the lock file {self.path}", exc.strerror or str(exc)) from exc
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Cleared while still locked, so the next owner's pid is never erased.
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RootLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _lock(self, fd: int) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if attempt == ATTEMPTS:
                    raise RootLockedError(str(self.state_dir.parent), _read_pid(fd)) from None
                self._wait(RETRY_WAIT_SECONDS)


def check_no_links(state_dir: Path) -> None:
    """Refuse a state folder, lock or index that is a symbolic link: through it the index,
    lock and logs would be written somewhere outside the mirror root."""
    root = str(state_dir.parent)
    # Files in the state folder opened by name (SQLite follows links): none may be a link.
    names = [LOCK, *INDEX_DB_FILES]
    for path in [state_dir, *(state_dir / name for name in names)]:
        if path.is_symlink():
            shown = str(path.relative_to(state_dir.parent))
            raise LinkInPathError(shown, shown, root)


def holder(state_dir: Path) -> int | None:
    """The pid of the process holding the lock now; None when nobody holds it.

    Never creates anything. Returns UNKNOWN_PID (0) for a holder that has taken the lock
    but not yet written its pid.
    """
    try:
        fd = os.open(state_dir / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StorageError(f"the lock file in {state_dir}", exc.strerror or str(exc)) from exc
    try:
        try:
            # Shared, so two probes at the same moment do not see each other as owners.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            return UNKNOWN_PID if pid is None else pid
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _write_pid(fd: int, pid: int) -> None:
    # Written over the old content, then cut: a reader never sees an empty file in between.
    data = f"{pid}\n".encode("ascii")
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _read_pid(fd: int) -> int | None:
    try:
        first_line = os.pread(fd, 64, 0).split(b"\n", 1)[0]
        pid = int(first_line.decode("ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None
