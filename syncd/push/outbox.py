"""The outbox, `<root>/.syncd/outbox/`: files and links dropped there to push a session.

Two kinds of entry are taken:
- a link, read as a pointer and never opened: its target must be a file in the mirror
  (which is then read the way every mirror file is, without following links), and the
  link is removed once its session is queued;
- a regular file of at most OUTBOX_MAX_BYTES (a copy of a session file): only its front
  matter is read to find the session, and it is removed only when it is an exact copy of
  the mirrored file (it may be the user's only copy).
An entry that cannot be pushed (a link to nothing useful, a file that is not a mirrored
session or cannot be read, a session that makes no brief, a FIFO, a socket, a device, a
folder, a bigger file) is moved to `outbox/rejected/` with a `<name>.reason` file beside
it and one warning: it is told once, never again at the next start. Moving is a rename of
the entry itself (a link is not followed, a FIFO not opened). Nothing here can block:
entries are looked at with lstat, opened with O_NONBLOCK | O_NOFOLLOW and checked with fstat.
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

from syncd.errors import NotAFileError, SessionNotFoundError, StorageError, SyncdError
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter, names, nofollow
from syncd.mirror.names import OUTBOX_PATH, is_state_path
from syncd.mirror.writer import HEAD_LIMIT, Mirror

logger = logging.getLogger(__name__)

OUTBOX = OUTBOX_PATH
REJECTED = names.OUTBOX_REJECTED
REASON_SUFFIX = names.REJECTED_REASON_SUFFIX
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
        """The session the entry `name` stands for; None when it is gone, or refused: then
        it is moved to rejected/ with its reason (or, when it cannot be moved, left and
        told once per version of the entry)."""
        with self._open() as folder:
            if folder is None:
                return None
            found = nofollow.lstat_in(folder, name)
            if found is None:
                return None
            try:
                return self._claim(store, folder, name, found)
            except _Refused as refused:
                self._reject(folder, name, found, refused.reason)
            except SessionNotFoundError as exc:
                self._reject(folder, name, found, exc.problem)
            except NotAFileError as exc:  # swapped for something else since the lstat
                self._reject(folder, name, found, f"it is {exc.kind}, not a regular file")
            except StorageError as exc:  # e.g. no permission to read it
                self._reject(folder, name, found, f"it cannot be read ({exc.reason})")
            return None

    def reject(self, name: str, reason: str) -> None:
        """Move the entry `name` to rejected/ (after its session turned out to make no
        brief), with `reason` beside it."""
        with self._open() as folder:
            found = nofollow.lstat_in(folder, name) if folder is not None else None
            if folder is not None and found is not None:
                self._reject(folder, name, found, reason)

    def _claim(self, store: Store, folder: int, name: str, found: os.stat_result) -> Claim:
        if stat.S_ISLNK(found.st_mode):
            return self._claim_link(store, name)
        if not stat.S_ISREG(found.st_mode):
            kind = nofollow.kind_of(found.st_mode)
            raise _Refused(f"it is {kind}, not a regular file or a link")
        if found.st_size > OUTBOX_MAX_BYTES:
            raise _Refused(
                f"it is too big for a session copy ({found.st_size} bytes, at most "
                f"{OUTBOX_MAX_BYTES}); link the mirrored file instead"
            )
        return self._claim_file(store, folder, name)

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

    def _claim_link(self, store: Store, name: str) -> Claim:
        """A link names a mirrored file: it is resolved as a path (lstat and readlink
        only), never opened."""
        relative = self._mirror_path(name)
        return Claim(name, _session_at(store, self.mirror, relative), remove=True)

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

    def _claim_file(self, store: Store, folder: int, name: str) -> Claim:
        fd = nofollow.open_file(folder, name, path=f"{OUTBOX}/{name}", root=self.mirror.root)
        if fd is None:
            raise _Refused("it went away while it was read")
        try:
            data = _read_at_most(fd, OUTBOX_MAX_BYTES)
        except OSError as exc:
            raise _Refused(f"it cannot be read ({exc.strerror or exc})") from None
        finally:
            os.close(fd)
        if data is None:
            raise _Refused("it grew past the size of a session copy")
        record = _session_named_in(store, name, data[:HEAD_LIMIT])
        same = hashlib.sha256(data).hexdigest() == self.mirror.file_sha256(record.path)
        return Claim(name, record, remove=same)

    # --- rejected entries --------------------------------------------------------------

    def _reject(self, folder: int, name: str, found: os.stat_result, reason: str) -> None:
        """Move the entry to rejected/ with its reason beside it, told once; when it
        cannot be moved it stays, told once per version of it while syncd runs."""
        try:
            moved = _move_to_rejected(folder, name, reason)
        except OSError as exc:
            version = (found.st_ino, found.st_size, found.st_mtime_ns, found.st_mode)
            told = self._refused.get(name) == version
            self._refused[name] = version
            log = logger.debug if told else logger.warning
            log(
                "outbox entry %s left where it is: %s (and it cannot be moved to %s/: %s)",
                name,
                reason,
                REJECTED,
                exc.strerror or exc,
            )
            return
        renamed = "" if moved == name else f" as {moved}"
        logger.warning("outbox entry %s moved to %s/%s: %s", name, REJECTED, renamed, reason)


class _Refused(Exception):
    """An outbox entry that will not be pushed, and why, in words for its .reason file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _move_to_rejected(folder: int, name: str, reason: str) -> str:
    """Rename the entry (never opened, a link not followed) into rejected/ under a name
    not taken there, write `<name>.reason`, and return the name used."""
    with suppress(FileExistsError):
        os.mkdir(REJECTED, 0o700, dir_fd=folder)
    rejected = os.open(REJECTED, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
    try:
        target = _free_name(rejected, name)
        os.rename(name, target, src_dir_fd=folder, dst_dir_fd=rejected)
        with suppress(OSError):  # the entry is aside either way; the reason is a courtesy
            fd = nofollow.create_file(rejected, target + REASON_SUFFIX)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{reason}\nMove it back into the outbox to try again.\n")
        return target
    finally:
        os.close(rejected)


def _free_name(folder: int, name: str) -> str:
    """`name`, or `name` with -2, -3 ... before its suffix, whichever is not in the folder
    yet (with its .reason file): an earlier rejected entry is never replaced."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    for number in range(1, 10_000):
        candidate = name if number == 1 else f"{stem}-{number}{dot}{suffix}"
        taken = (candidate, candidate + REASON_SUFFIX)
        if all(nofollow.lstat_in(folder, each) is None for each in taken):
            return candidate
    raise FileExistsError(name)


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
