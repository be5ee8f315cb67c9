"""The only code that touches the mirror folder: atomic writes, moves and removals.

Every path is checked twice: as text (no absolute paths, no '..') and on disk
(the resolved target, symlinks followed, must stay under the resolved root).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import StorageError, UnsafePathError
from syncd.mirror.paths import check_relative

logger = logging.getLogger(__name__)

TEMP_MARKER = ".syncd-tmp"


@dataclass(frozen=True)
class WriteOutcome:
    sha256: str
    size: int
    written: bool  # False when the file already held exactly these bytes


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

    def write(self, relative: str, chunks: Iterable[bytes]) -> WriteOutcome:
        """Stream `chunks` into a temp file beside the target, fsync, then rename over it.

        If the target already holds the same bytes the temp file is dropped and the target
        is left untouched (no mtime churn). An exception from `chunks` removes the temp file
        and leaves any previous version in place.
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
            if self._holds(target, sha256, size):
                temp.unlink()
                return WriteOutcome(sha256, size, written=False)
            temp.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StorageError(relative, exc.strerror or str(exc)) from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return WriteOutcome(sha256, size, written=True)

    def write_bytes(self, relative: str, data: bytes) -> WriteOutcome:
        return self.write(relative, [data])

    def move(self, old: str, new: str) -> None:
        """Rename a file inside the root; the new folder is created as needed."""
        source, target = self.resolve(old), self.resolve(new)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"{old} -> {new}", exc.strerror or str(exc)) from exc

    def remove(self, relative: str) -> None:
        try:
            self.resolve(relative).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(relative, exc.strerror or str(exc)) from exc

    def remove_empty_dir(self, relative: str) -> None:
        """Drop a folder left empty by moves; anything still in it keeps it."""
        path = self.resolve(relative)
        try:
            path.rmdir()
        except OSError:
            return

    def sweep_temp_files(self) -> list[str]:
        """Delete temp files left by an interrupted write; returns their relative paths."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for path in self.root.rglob(f"*{TEMP_MARKER}"):
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
