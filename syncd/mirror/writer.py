"""The only code that touches the mirror folder: atomic writes, moves and removals.

Every path is checked as text (no absolute paths, no '..', never inside `.syncd/`) and
then walked one folder at a time without following a symbolic link (see `nofollow`): a
link below the root is never read, written, moved or removed through. A link (or a FIFO,
a socket, a device) where syncd expects its file is not syncd's file: it is never opened,
its "hash" is NOT_A_FILE, so it is kept aside like a user's edit, and a new file is
renamed in its place (rename(2) replaces the link itself, never its target).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from syncd import durable
from syncd.errors import (
    LinkInPathError,
    NotAFileError,
    ReservedPathError,
    StorageError,
    UnsafePathError,
)
from syncd.mirror import names, nofollow
from syncd.mirror.frontmatter import FrontMatterError, split
from syncd.mirror.paths import check_relative

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Front matter is a few hundred bytes; a "header" larger than this is not ours.
HEAD_LIMIT = 1 << 20
# What a link or any other non-regular entry hashes to: never a sha256, so never among
# the contents syncd may replace, and never equal to what syncd wrote.
NOT_A_FILE = "not-a-regular-file"


@dataclass(frozen=True)
class FileInspection:
    """What a mirrored file holds now, read in one pass."""

    file_sha256: str
    front_matter: dict[str, object] | None  # None: missing or unreadable
    body_offset: int  # where the body starts (0 when there is no readable front matter)
    body_sha256: str
    size: int = 0
    regular: bool = True  # False: a link (or a FIFO ...) that was never opened

    @classmethod
    def not_a_file(cls) -> FileInspection:
        return cls(NOT_A_FILE, None, 0, NOT_A_FILE, 0, regular=False)


@dataclass(frozen=True)
class WriteOutcome:
    sha256: str
    size: int
    written: bool  # False when the file already held exactly these bytes
    kept_as: str | None = None  # where a file that was not syncd's to replace went


class Mirror:
    """A mirror root on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(str(self.root), exc.strerror or str(exc)) from exc

    @contextmanager
    def _folder(self, relative: str, *, create: bool = False) -> Iterator[tuple[int | None, str]]:
        """The open folder that holds `relative` (None when it does not exist) and the
        name in it; every folder on the way is opened without following a link."""
        rel = check_relative(relative)
        if names.is_state_path(rel.parts):
            raise ReservedPathError(relative, str(self.root))
        with nofollow.folder(self.root, rel.parts[:-1], create=create, path=relative) as fd:
            yield fd, rel.name

    @contextmanager
    def _reading(self, relative: str) -> Iterator[int | None]:
        """An fd for reading the regular file at `relative`; None when it is absent."""
        with self._folder(relative) as (folder, name):
            fd = None
            if folder is not None:
                fd = nofollow.open_file(folder, name, path=relative, root=self.root)
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    def _lstat(self, relative: str) -> os.stat_result | None:
        try:
            with self._folder(relative) as (folder, name):
                return None if folder is None else nofollow.lstat_in(folder, name)
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def exists(self, relative: str) -> bool:
        """Whether a regular file is at `relative`; a link, a path that fails the checks
        or that leads through a link is absent."""
        try:
            found = self._lstat(relative)
        except (UnsafePathError, StorageError):
            return False
        return found is not None and stat.S_ISREG(found.st_mode)

    def missing(self, relative: str) -> bool:
        """Whether no regular file is at `relative` where one could be written: False when
        the way there leads through a link (a download could not land there either)."""
        try:
            found = self._lstat(relative)
        except LinkInPathError:
            return False
        except (UnsafePathError, StorageError):
            return True
        return found is None or not stat.S_ISREG(found.st_mode)

    def occupied(self, relative: str) -> bool:
        """Whether anything (a link included) is at `relative`; raises when the way
        there leads through a link."""
        return self._lstat(relative) is not None

    def read_bytes(self, relative: str) -> bytes | None:
        """The regular file's bytes; None when absent. A link or other non-file raises."""
        try:
            with self._reading(relative) as fd:
                if fd is None:
                    return None
                chunks = []
                while chunk := os.read(fd, CHUNK_BYTES):
                    chunks.append(chunk)
                return b"".join(chunks)
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def file_sha256(self, relative: str) -> str | None:
        """The file's sha256; None when absent; NOT_A_FILE for a link or other non-file."""
        inspection = self.inspect(relative)
        return None if inspection is None else inspection.file_sha256

    def inspect(self, relative: str) -> FileInspection | None:
        """Hash the file and its body and parse its front matter; None when it is absent,
        FileInspection.not_a_file() for a link (never followed) or another non-file."""
        try:
            with self._reading(relative) as fd:
                if fd is None:
                    return None
                with os.fdopen(fd, "rb", closefd=False) as handle:
                    return _inspect(handle)
        except LinkInPathError as exc:
            if exc.link != relative:
                raise  # a folder on the way is a link: nothing here is syncd's to look at
            return FileInspection.not_a_file()
        except NotAFileError:
            return FileInspection.not_a_file()
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def iter_bytes(self, relative: str, offset: int = 0) -> Iterator[bytes]:
        """The file's bytes from `offset` on, in chunks (for copying big bodies)."""
        try:
            with self._reading(relative) as fd:
                if fd is None:
                    raise StorageError(relative, "the file is gone")
                os.lseek(fd, offset, os.SEEK_SET)
                while chunk := os.read(fd, CHUNK_BYTES):
                    yield chunk
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def write(
        self,
        relative: str,
        chunks: Iterable[bytes],
        *,
        keep_as: str | None = None,
        may_replace: Collection[str] = (),
        on_ready: Callable[[str], None] | None = None,
    ) -> WriteOutcome:
        """Stream `chunks` into a temp file beside the target, fsync, then rename over it.

        If the target already holds the same bytes the temp file is dropped and the target
        is left untouched (no mtime churn). With `keep_as`, anything in the way whose sha256
        is not in `may_replace` (the user's edit, a file syncd never wrote, a link) is moved
        there first instead of being replaced, once the new bytes are safely on disk.
        Without it, a link in the way is replaced (itself, never its target).
        `on_ready` is told the new file's sha256 once its bytes are durable, before anything
        is moved or renamed. An exception from `chunks` (or `on_ready`) removes the temp
        file and leaves everything else as it was.
        """
        with self._folder(relative, create=True) as (folder, name):
            assert folder is not None  # made as needed
            return self._write_in(folder, name, relative, chunks, keep_as, may_replace, on_ready)

    def _write_in(
        self,
        folder: int,
        name: str,
        relative: str,
        chunks: Iterable[bytes],
        keep_as: str | None,
        may_replace: Collection[str],
        on_ready: Callable[[str], None] | None,
    ) -> WriteOutcome:
        temp = names.temp_name(name, secrets.token_hex(4))
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(nofollow.create_file(folder, temp), "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            sha256 = digest.hexdigest()
            if on_ready is not None:
                on_ready(sha256)
            if self._holds(relative, sha256, size):
                os.unlink(temp, dir_fd=folder)
                return WriteOutcome(sha256, size, written=False)
            durable.reached("write:temp")
            kept = self._keep_unless_replaceable(relative, keep_as, may_replace)
            os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
            _fsync(folder)
            durable.reached("write")
        except OSError as exc:
            _unlink_quietly(folder, temp)
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        except BaseException:
            _unlink_quietly(folder, temp)
            raise
        return WriteOutcome(sha256, size, written=True, kept_as=kept)

    def _keep_unless_replaceable(
        self, relative: str, keep_as: str | None, may_replace: Collection[str]
    ) -> str | None:
        if keep_as is None or not self.occupied(relative):
            return None
        if self.file_sha256(relative) in may_replace:
            return None
        self.move(relative, keep_as)
        return keep_as

    def write_bytes(self, relative: str, data: bytes) -> WriteOutcome:
        """Like write(), but an unchanged file is detected before any temp file exists, so
        a no-change run does not even touch the folder's mtime."""
        if self.holds(relative, data):
            return WriteOutcome(hashlib.sha256(data).hexdigest(), len(data), written=False)
        return self.write(relative, [data])

    def holds(self, relative: str, data: bytes) -> bool:
        """Whether the regular file at `relative` holds exactly `data` (a link never does)."""
        return self._holds(relative, hashlib.sha256(data).hexdigest(), len(data))

    def move(self, old: str, new: str) -> None:
        """Rename an entry inside the root (a link is moved as the link itself); the new
        folder is created as needed. An existing entry at `new` is never replaced."""
        what = f"{old} -> {new}"
        try:
            with (
                self._folder(old) as (source, old_name),
                self._folder(new, create=True) as (target, new_name),
            ):
                assert target is not None  # made as needed
                if source is None:
                    raise StorageError(what, "the source folder is gone")
                if nofollow.lstat_in(target, new_name) is not None:
                    raise StorageError(what, f"{new} already exists")
                os.rename(old_name, new_name, src_dir_fd=source, dst_dir_fd=target)
                _fsync(target)
        except OSError as exc:
            raise StorageError(what, exc.strerror or str(exc)) from exc
        durable.reached("move")

    def remove(self, relative: str) -> None:
        """Remove the entry at `relative` (a link itself, never its target)."""
        try:
            with self._folder(relative) as (folder, name):
                if folder is None:
                    return
                try:
                    os.unlink(name, dir_fd=folder)
                except FileNotFoundError:
                    return
                _fsync(folder)
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        durable.reached("remove")

    def remove_empty_dir(self, relative: str) -> None:
        """Drop a folder left empty by moves; anything still in it keeps it (and a link
        is not a folder: it stays)."""
        try:
            with self._folder(relative) as (folder, name):
                if folder is not None:
                    os.rmdir(name, dir_fd=folder)
        except (OSError, StorageError, UnsafePathError):
            return

    def top_level_folders(self) -> list[str]:
        """Folder names directly under the root, syncd's own dot-folders excluded."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        )

    def sweep_temp_files(self) -> list[str]:
        """Delete temp files left by an interrupted write; returns their relative paths.

        A temp file sits beside its target, and targets are at most one folder deep: two
        levels are looked at, never the whole tree (a git archive's objects included), and
        never a folder that is a link.
        """
        removed: list[str] = []
        with nofollow.folder(self.root, (), create=False, path=".") as root:
            if root is None:
                return removed
            removed += _sweep(root, "")
            for name in nofollow.names_in(root):
                found = nofollow.lstat_in(root, name)
                if found is None or not stat.S_ISDIR(found.st_mode):
                    continue
                try:
                    with nofollow.folder(self.root, (name,), create=False, path=name) as sub:
                        removed += _sweep(sub, f"{name}/") if sub is not None else []
                except (StorageError, UnsafePathError):
                    continue  # swapped for a link or a file meanwhile: not ours to sweep
        if removed:
            logger.warning(
                "removed %d unfinished temp file(s) from an interrupted run", len(removed)
            )
        return removed

    def _holds(self, relative: str, sha256: str, size: int) -> bool:
        found = self._lstat(relative)
        if found is None or not stat.S_ISREG(found.st_mode) or found.st_size != size:
            return False
        return self.file_sha256(relative) == sha256


def _inspect(handle: BinaryIO) -> FileInspection:
    head = handle.read(HEAD_LIMIT)
    try:
        mapping, body_head = split(head)
        offset = len(head) - len(body_head)
    except FrontMatterError:
        mapping, offset = None, 0
    file_hash, body_hash = hashlib.sha256(head), hashlib.sha256(head[offset:])
    size = len(head)
    while chunk := handle.read(CHUNK_BYTES):
        file_hash.update(chunk)
        body_hash.update(chunk)
        size += len(chunk)
    return FileInspection(file_hash.hexdigest(), mapping, offset, body_hash.hexdigest(), size)


def _sweep(folder: int, prefix: str) -> list[str]:
    removed = []
    for name in nofollow.names_in(folder):
        found = nofollow.lstat_in(folder, name)
        if names.is_temp(name) and found is not None and stat.S_ISREG(found.st_mode):
            _unlink_quietly(folder, name)
            removed.append(prefix + name)
    return removed


def _unlink_quietly(folder: int, name: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder)


def _fsync(folder: int) -> None:
    # Makes the rename itself durable; some filesystems do not support it, which is fine.
    with suppress(OSError):
        os.fsync(folder)
