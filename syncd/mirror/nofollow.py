"""Opening folders and files below a root without ever following a symbolic link.

Each folder is opened relative to the one above it (openat with O_NOFOLLOW), so a
component swapped for a link between a check and its use is still never followed. A file
is looked at with lstat first (a FIFO or a device is never opened), then opened with
O_NOFOLLOW | O_NONBLOCK and checked with fstat to be the regular file it was. The root
itself may be a link: where the mirror lives is the user's choice; nothing below it is.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from syncd.errors import LinkInPathError, NotAFileError, StorageError

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def kind_of(mode: int) -> str:
    """What an st_mode is, in words ("a regular file", "a symbolic link", "a FIFO" ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def names_in(folder_fd: int) -> list[str]:
    """The names in an open folder, sorted."""
    return sorted(os.listdir(folder_fd))


def lstat_in(folder: int, name: str) -> os.stat_result | None:
    """The entry `name` in the open folder, links not followed; None when absent."""
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


@contextmanager
def folder(root: Path, parts: Sequence[str], *, create: bool, path: str) -> Iterator[int | None]:
    """An open fd of root/parts (closed on exit); None when a part is missing and not
    `create`. A part that is a link raises LinkInPathError; one that is not a folder
    raises StorageError. `path` names the mirror path the caller is after, for messages."""
    fd: int | None = None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if create:
            raise StorageError(str(root), "the mirror root does not exist") from None
    except OSError as exc:
        raise StorageError(str(root), exc.strerror or str(exc)) from exc
    if fd is None:
        yield None
        return
    try:
        for depth, part in enumerate(parts, start=1):
            child = _open_child(fd, part, create, root, "/".join(parts[:depth]), path)
            # `fd` names the child before the parent is closed: a Ctrl-C landing just after
            # the close must not make the `finally` close the parent's number twice (EBADF
            # would replace the interrupt, or close a file another thread just opened).
            parent, fd = fd, child
            os.close(parent)
            if fd is None:
                break
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _open_child(
    parent: int, name: str, create: bool, root: Path, shown: str, path: str
) -> int | None:
    for _ in range(2):  # a folder made by someone else between our tries is fine
        try:
            return os.open(name, _FOLDER_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(name, dir_fd=parent)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StorageError(shown, exc.strerror or str(exc)) from exc
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise StorageError(shown, exc.strerror or str(exc)) from exc
            found = lstat_in(parent, name)
            if found is not None and stat.S_ISLNK(found.st_mode):
                raise LinkInPathError(path, shown, str(root)) from None
            kind = kind_of(found.st_mode) if found is not None else "nothing"
            raise StorageError(shown, f"expected a folder, found {kind}") from None
    raise StorageError(shown, "the folder keeps disappearing")


def open_file(folder_fd: int, name: str, *, path: str, root: Path) -> int | None:
    """An fd for reading the regular file `name` in the open folder; None when absent.
    A link raises LinkInPathError; anything else that is not a regular file raises
    NotAFileError without being opened (or, if swapped in meanwhile, without being read)."""
    found = lstat_in(folder_fd, name)
    if found is None:
        return None
    _require_regular(found.st_mode, path, root)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LinkInPathError(path, path, str(root)) from None
        raise StorageError(path, exc.strerror or str(exc)) from exc
    try:
        _require_regular(os.fstat(fd).st_mode, path, root)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_file(folder_fd: int, name: str) -> int:
    """A new file `name` in the open folder, for writing; never an existing entry or link."""
    return os.open(name, _CREATE_FLAGS, 0o666, dir_fd=folder_fd)


def _require_regular(mode: int, path: str, root: Path) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        raise LinkInPathError(path, path, str(root))
    raise NotAFileError(path, kind_of(mode))
