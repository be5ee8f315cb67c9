"""One owner per mirror root: a real flock held by real processes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncd.daemon.lock import RootLock, holder
from syncd.errors import EXIT_LOCKED, EXIT_STORAGE, LinkInPathError, RootLockedError, StorageError
from syncd.mirror.names import LOCK

# Takes the lock, says so, and keeps it until its stdin closes.
HOLDER_SCRIPT = """
import sys
from pathlib import Path
from syncd.daemon.lock import RootLock

lock = RootLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def no_wait(seconds: float) -> None:
    """RootLock's retry wait, skipped: a refused lock is refused at once in tests."""


@contextmanager
def lock_held_by_another_process(state_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate process holding the root lock until the block ends (or it is killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.stdin.close()  # the holder's cue to exit (a no-op when already closed)
        process.wait(timeout=30)
        process.stdout.close()


def test_a_second_owner_is_refused_with_the_holders_pid_and_root(tmp_path: Path) -> None:
    state_dir = tmp_path / "root" / ".syncd"
    with (
        lock_held_by_another_process(state_dir) as other,
        pytest.raises(RootLockedError) as refused,
    ):
        RootLock(state_dir, wait=no_wait).acquire()
    error = refused.value
    assert error.pid == other.pid
    assert error.exit_code == EXIT_LOCKED == 6
    assert error.message == (
        f"another syncd (pid {other.pid}) already owns {tmp_path / 'root'}; "
        "stop it first or use a different SYNCD_ROOT"
    )


def test_holder_names_the_owning_process_and_none_once_it_has_exited(tmp_path: Path) -> None:
    state_dir = tmp_path / ".syncd"
    with lock_held_by_another_process(state_dir) as other:
        assert holder(state_dir) == other.pid
    assert holder(state_dir) is None
    with RootLock(state_dir):
        pass


def test_the_lock_is_free_after_its_holder_is_killed_with_sigkill(tmp_path: Path) -> None:
    state_dir = tmp_path / ".syncd"
    with lock_held_by_another_process(state_dir) as other:
        other.kill()
        other.wait(timeout=30)
        # The dead owner's pid is still written in the file; the lock itself is gone.
        assert (state_dir / LOCK).read_text().strip() == str(other.pid)
        assert holder(state_dir) is None
        with RootLock(state_dir) as lock:
            assert lock.held
            assert holder(state_dir) == os.getpid()


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    state_dir = tmp_path / ".syncd"
    with RootLock(state_dir), pytest.raises(RootLockedError) as refused:
        RootLock(state_dir, wait=no_wait).acquire()
    assert refused.value.pid == os.getpid()


def test_acquire_creates_the_folder_and_writes_its_pid(tmp_path: Path) -> None:
    state_dir = tmp_path / "new" / "root" / ".syncd"
    with RootLock(state_dir):
        assert (state_dir / LOCK).read_text() == f"{os.getpid()}\n"


def test_release_frees_the_lock_and_clears_the_pid(tmp_path: Path) -> None:
    state_dir = tmp_path / ".syncd"
    lock = RootLock(state_dir)
    lock.acquire()
    lock.release()
    lock.release()  # a second release is harmless
    assert not lock.held
    assert holder(state_dir) is None
    assert (state_dir / LOCK).read_text() == ""


def test_a_momentary_status_probe_does_not_stop_an_owner_from_starting(tmp_path: Path) -> None:
    state_dir = tmp_path / ".syncd"
    state_dir.mkdir()
    waits: list[float] = []
    with (state_dir / LOCK).open("a") as probe:
        # What holder() does for an instant: a shared lock on the file.
        fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)

        def probe_ends(seconds: float) -> None:
            waits.append(seconds)
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)

        with RootLock(state_dir, wait=probe_ends) as lock:
            assert lock.held
    assert len(waits) == 1


def test_holder_of_a_root_never_used_is_none_and_creates_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "never" / ".syncd"
    assert holder(state_dir) is None
    assert not (tmp_path / "never").exists()


def test_a_lock_folder_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="lock file"):
        RootLock(blocker / ".syncd").acquire()


@pytest.mark.parametrize("linked", [".syncd", ".syncd/lock", ".syncd/index.db"])
def test_a_state_folder_lock_or_index_that_is_a_link_is_refused(
    tmp_path: Path, linked: str
) -> None:
    root = tmp_path / "mirror"
    (root / ".syncd").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = root / linked
    if linked == ".syncd":
        (root / ".syncd").rmdir()
        link.symlink_to(elsewhere, target_is_directory=True)
    else:
        link.symlink_to(elsewhere / "target")

    with pytest.raises(LinkInPathError) as refused:
        RootLock(root / ".syncd", wait=no_wait).acquire()

    assert refused.value.exit_code == EXIT_STORAGE
    assert linked in refused.value.message
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
