"""The only code that touches the mirror folder: atomic writes, moves and removals.

Every path is checked twice: as text (no absolute paths, no '..') and on disk
(the resolved target, symlinks followed, must stay under the resolved root).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd import durable
from syncd.errors import StorageError, UnsafePathError
from syncd.mirror.frontmatter import FrontMatterError, split
from syncd.mirror.paths import check_relative

logger = logging.getLogger(__name__)

TEMP_MARKER = ".syncd-tmp"
CHUNK_BYTES = 1 << 20
# Front matter is a few hundred bytes; a "header" larger than this is not ours.
HEAD_LIMIT = 1 << 20


@dataclass(frozen=True)
class FileInspection:
    """What a mirrored file holds now, read in one pass."""

    file_sha256: str
    front_matter: dict[str, object] | None  # None: missing or unreadable
    body_offset: int  # where the body starts (0 when there is no readable front matter)
    body_sha256: str


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

    def resolve(self, relative: str) -> Path:
        """The absolute path for `relative`, proven to stay under the root."""
        rel = check_relative(relative)
        real_root = self.root.resolve()
        target = (real_root / rel).resolve()
        if not target.is_relative_to(real_root) or target == real_root:
            raise UnsafePathError(relative, str(self.root))
        return target

    def exists(self, relative: str) -> bool:
        """Whether a regular file is at `relative` (a path that fails the checks is absent)."""
        try:
            return (self.root / check_relative(relative)).is_file()
        except UnsafePathError:
            return False

    def read_bytes(self, relative: str) -> bytes | None:
        path = self.resolve(relative)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def file_sha256(self, relative: str) -> str | None:
        path = self.resolve(relative)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        return digest.hexdigest()

    def inspect(self, relative: str) -> FileInspection | None:
        """Hash the file and its body and parse its front matter; None when it is absent."""
        path = self.resolve(relative)
        try:
            with path.open("rb") as handle:
                head = handle.read(HEAD_LIMIT)
                try:
                    mapping, body_head = split(head)
                    offset = len(head) - len(body_head)
                except FrontMatterError:
                    mapping, offset = None, 0
                file_hash, body_hash = hashlib.sha256(head), hashlib.sha256(head[offset:])
                while chunk := handle.read(CHUNK_BYTES):
                    file_hash.update(chunk)
                    body_hash.update(chunk)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        return FileInspection(file_hash.hexdigest(), mapping, offset, body_hash.hexdigest())

    def iter_bytes(self, relative: str, offset: int = 0) -> Iterator[bytes]:
        """The file's bytes from `offset` on, in chunks (for copying big bodies)."""
        path = self.resolve(relative)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(CHUNK_BYTES):
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
        is left untouched (no mtime churn). With `keep_as`, a file in the way whose sha256
        is not in `may_replace` (the user's edit, or a file syncd never wrote) is moved
        there first instead of being replaced, once the new bytes are safely on disk.
        `on_ready` is told the new file's sha256 once its bytes are durable, before anything
        is moved or renamed. An exception from `chunks` (or `on_ready`) removes the temp
        file and leaves everything else as it was.
        """
        target = self.resolve(relative)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_MARKER}")
        digest = hashlib.sha256()
        size = 0
        try:
            with temp.open("xb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            sha256 = digest.hexdigest()
            if on_ready is not None:
                on_ready(sha256)
            if self._holds(target, sha256, size):
                temp.unlink()
                return WriteOutcome(sha256, size, written=False)
            durable.reached("write:temp")
            kept = self._keep_unless_replaceable(relative, keep_as, may_replace)
            temp.replace(target)
            _fsync_dir(target.parent)
            durable.reached("write")
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return WriteOutcome(sha256, size, written=True, kept_as=kept)

    def _keep_unless_replaceable(
        self, relative: str, keep_as: str | None, may_replace: Collection[str]
    ) -> str | None:
        if keep_as is None or not self.exists(relative):
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
        """Whether the file at `relative` holds exactly `data`."""
        sha256 = hashlib.sha256(data).hexdigest()
        return self._holds(self.resolve(relative), sha256, len(data))

    def move(self, old: str, new: str) -> None:
        """Rename a file inside the root; the new folder is created as needed."""
        source, target = self.resolve(old), self.resolve(new)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"{old} -> {new}", exc.strerror or str(exc)) from exc
        durable.reached("move")

    def remove(self, relative: str) -> None:
        path = self.resolve(relative)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        _fsync_dir(path.parent)
        durable.reached("remove")

    def remove_empty_dir(self, relative: str) -> None:
        """Drop a folder left empty by moves; anything still in it keeps it."""
        path = self.resolve(relative)
        try:
            path.rmdir()
        except OSError:
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
        levels are looked at, never the whole tree (a git archive's objects included).
        """
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        candidates = [*self.root.glob(f"*{TEMP_MARKER}"), *self.root.glob(f"*/*{TEMP_MARKER}")]
        for path in candidates:
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(self.root).as_posix())
        if removed:
            logger.warning(
                "removed %d unfinished temp file(s) from an interrupted run", len(removed)
            )
        return removed

    def _holds(self, target: Path, sha256: str, size: int) -> bool:
        try:
            if target.stat().st_size != size:
                return False
        except FileNotFoundError:
            return False
        return self.file_sha256(target.relative_to(self.root.resolve()).as_posix()) == sha256


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems do not support it, which is fine.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
