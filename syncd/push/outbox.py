"""The outbox, `<root>/.syncd/outbox/`: files and links dropped there to push a session.

Two kinds of entry are taken:
- a link, read as a pointer and never opened: its target must be a file in the mirror
  (which is then read the way every mirror file is, without following links), and the
  link is removed once its session is queued (or when it points nowhere useful);
- a regular file of at most OUTBOX_MAX_BYTES (a copy of a session file): only its front
  matter is read to find the session, and it is removed only when it is an exact copy of
  the mirrored file (it may be the user's only copy).
Anything else (a FIFO, a socket, a device, a folder, a bigger file) is left where it is
with one warning, repeated only when the entry changes. Nothing here can block: entries
are looked at with lstat, opened with O_NONBLOCK | O_NOFOLLOW and checked with fstat.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import SessionNotFoundError, SyncdError
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter, nofollow
from syncd.mirror.names import OUTBOX_PATH, is_state_path
from syncd.mirror.writer import HEAD_LIMIT, Mirror

logger = logging.getLogger(__name__)

OUTBOX = OUTBOX_PATH
# An outbox file is a copy of a session file: the largest real sessions are a few MB.
# Anything bigger is not one, and is refused before a byte of it is read.
OUTBOX_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Claim:
    """An outbox entry that stands for a mirrored session; settle it once it is queued."""

    name: str
    record: SessionRecord
    remove: bool  # a link, or an exact copy of the mirrored file: done with once queued


class Outbox:
    """The outbox of one mirror; remembers what it refused, so each refusal is told once."""

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        self.folder = mirror.root / OUTBOX
        self._refused: dict[str, tuple[int, int, int, int]] = {}

    def entries(self) -> list[Path]:
        """The `.md` entries waiting in the outbox (none when it is missing or a link)."""
        try:
            with self._open() as folder:
                names = nofollow.names_in(folder) if folder is not None else []
        except (SyncdError, OSError) as exc:
            logger.warning("the outbox: %s", exc.message if isinstance(exc, SyncdError) else exc)
            return []
        return [self.folder / n for n in names if n.endswith(".md") and not n.startswith(".")]

    def claim(self, store: Store, name: str) -> Claim | None:
        """The session the entry `name` stands for; None when it is gone or refused (told
        once per version of the entry). A link that names no session is removed, and the
        error raised; a file that names none is left, and the error raised."""
        with self._open() as folder:
            if folder is None:
                return None
            found = nofollow.lstat_in(folder, name)
            if found is None:
                return None
            if stat.S_ISLNK(found.st_mode):
                return self._claim_link(store, folder, name)
            if not stat.S_ISREG(found.st_mode):
                kind = nofollow.kind_of(found.st_mode)
                self._refuse(name, found, f"it is {kind}, not a regular file or a link")
                return None
            if found.st_size > OUTBOX_MAX_BYTES:
                self._refuse(
                    name,
                    found,
                    f"it is too big for a session copy ({found.st_size} bytes, at most "
                    f"{OUTBOX_MAX_BYTES}); link the mirrored file instead",
                )
                return None
            return self._claim_file(store, folder, name, found)

    def settle(self, claim: Claim) -> None:
        """After its session is queued: a link or an exact copy goes, anything else stays."""
        if not claim.remove:
            logger.info("%s differs from the mirrored file: left in the outbox", claim.name)
            return
        with self._open() as folder:
            if folder is not None:
                _unlink(folder, claim.name)

    @contextmanager
    def _open(self) -> Iterator[int | None]:
        # .syncd/ is syncd's own state folder, opened like the index and the lock are (it
        # may be a link the user set up); the outbox in it must be a real folder.
        state, outbox = self.folder.parent, self.folder.name
        with nofollow.folder(state, (outbox,), create=False, path=OUTBOX) as folder:
            yield folder

    # --- links -------------------------------------------------------------------------

    def _claim_link(self, store: Store, folder: int, name: str) -> Claim:
        """A link names a mirrored file: it is resolved as a path (lstat and readlink
        only), never opened."""
        try:
            relative = self._mirror_path(name)
            record = _session_at(store, self.mirror, relative)
        except SessionNotFoundError:
            _unlink(folder, name)
            raise
        return Claim(name, record, remove=True)

    def _mirror_path(self, name: str) -> str:
        link = self.folder / name
        try:
            target = Path(os.path.realpath(link, strict=True))
        except OSError as exc:  # gone, or a loop of links
            raise SessionNotFoundError(name, f"broken link ({exc.strerror or exc})") from None
        root = self.mirror.root.resolve()
        if not target.is_relative_to(root) or target == root:
            raise SessionNotFoundError(name, f"it points outside the mirror root ({target})")
        relative = target.relative_to(root)
        if is_state_path(relative.parts):
            raise SessionNotFoundError(name, "it points into syncd's own folder")
        return relative.as_posix()

    # --- regular files -----------------------------------------------------------------

    def _claim_file(
        self, store: Store, folder: int, name: str, found: os.stat_result
    ) -> Claim | None:
        fd = nofollow.open_file(folder, name, path=f"{OUTBOX}/{name}", root=self.mirror.root)
        if fd is None:
            return None
        try:
            data = _read_at_most(fd, OUTBOX_MAX_BYTES)
        finally:
            os.close(fd)
        if data is None:
            self._refuse(name, found, "it grew past the size of a session copy")
            return None
        record = _session_named_in(store, name, data[:HEAD_LIMIT])
        same = hashlib.sha256(data).hexdigest() == self.mirror.file_sha256(record.path)
        return Claim(name, record, remove=same)

    def _refuse(self, name: str, found: os.stat_result, reason: str) -> None:
        version = (found.st_ino, found.st_size, found.st_mtime_ns, found.st_mode)
        told = self._refused.get(name) == version
        self._refused[name] = version
        log = logger.debug if told else logger.warning
        log("outbox entry %s left where it is: %s", name, reason)


def _read_at_most(fd: int, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit` (never reads past it)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _session_at(store: Store, mirror: Mirror, relative: str) -> SessionRecord:
    """The session whose mirrored file is at `relative` (or whose front matter it has)."""
    record = store.session_by_path(relative)
    if record is not None:
        return record
    try:
        head = next(iter(mirror.iter_bytes(relative)), b"")
    except SyncdError as exc:
        raise SessionNotFoundError(relative, exc.message) from None
    return _session_named_in(store, relative, head)


def _session_named_in(store: Store, name: str, head: bytes) -> SessionRecord:
    try:
        mapping, _ = frontmatter.split(head)
    except frontmatter.FrontMatterError:
        raise SessionNotFoundError(name, "not a mirrored session file") from None
    session_id = mapping.get("id")
    if isinstance(session_id, str) and (record := store.session(session_id)) is not None:
        return record
    raise SessionNotFoundError(name, "its session id is not in the index")


def _unlink(folder: int, name: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder)
