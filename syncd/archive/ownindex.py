"""syncd's own git index, kept from one commit to the next and trusted while it holds HEAD.

syncd stages in its own index file (GIT_INDEX_FILE: `syncd-index*` in the git directory),
never in the user's. Reading HEAD's tree into it before every commit cost as much as the
rest of the commit in a large archive, so after each commit syncd records beside it
(`syncd-head*`) the commit the index was written for and which file that was (inode, size,
times). The next commit uses the index as it is only when HEAD is still that commit and the
file is still the one recorded; otherwise (the user committed, reset or switched branches;
an attempt failed or was killed after staging; the file was deleted or replaced) it reads
HEAD's tree into it again. The record is removed before anything is staged, so no kill can
leave a record vouching for an index that no longer holds HEAD's tree.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from syncd.archive.command import Git, GitFailed
from syncd.archive.locks import Repository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexRecord:
    """The commit whose tree the index file held when written, and that file's identity:
    git replaces the file (a new inode, new times) whenever it writes it."""

    head: str
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, head: str, index: Path) -> IndexRecord:
        """The record for `index` as it is now, holding `head`'s tree. Raises OSError."""
        stat = index.stat()
        return cls(head, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class OwnIndex:
    """The index file syncd stages in for one mirror root, and its record."""

    def __init__(self, git: Git, repo: Repository) -> None:
        self._git = git
        self.path = repo.own_index
        self.record = repo.own_index_record

    @property
    def env(self) -> dict[str, str]:
        """The environment that points git at this index instead of the user's."""
        return {"GIT_INDEX_FILE": str(self.path)}

    def prepare(self, head: str | None) -> bool:
        """Make the index hold exactly `head`'s tree, and forget the record before anything
        is staged in it. True when the index was already known to hold it (no git ran)."""
        trusted = self._holds(head)
        if not trusted:
            self.reset(head)
        self.forget()
        return trusted

    def reset(self, head: str | None) -> None:
        """Read `head`'s tree into the index (nothing while there is no commit yet).

        `read-tree -m` keeps the stat data of entries whose content matches, so the commit
        re-reads only the files that changed, not the whole archive; `-i` because only the
        index is compared, never the work tree (a file that differs there is no reason to
        fail). An index git cannot read is started afresh.
        """
        if head is None:
            self.path.unlink(missing_ok=True)
            return
        if self.path.exists():
            try:
                self._git("read-tree", "-m", "-i", head, env=self.env)
                return
            except GitFailed as exc:
                logger.info("starting syncd's git index afresh: %s", exc)
                self.path.unlink(missing_ok=True)
        self._git("read-tree", head, env=self.env)

    def forget(self) -> None:
        """Drop the record: the index is about to change."""
        try:
            self.record.unlink(missing_ok=True)
        except OSError as exc:
            raise GitFailed(f"cannot remove {self.record}: {exc.strerror or exc}") from exc

    def remember(self, head: str) -> None:
        """Record that the index now holds exactly `head`'s tree. Not fatal when it cannot be
        written: the next commit then reads HEAD's tree again, as it always used to."""
        temp = self.record.with_name(self.record.name + ".tmp")
        try:
            temp.write_text(json.dumps(asdict(IndexRecord.of(head, self.path))), "utf-8")
            temp.replace(self.record)
        except OSError as exc:
            logger.warning("cannot record which commit syncd's git index holds: %s", exc)

    def _recorded(self) -> IndexRecord | None:
        try:
            return IndexRecord(**json.loads(self.record.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None  # none yet, or not one we wrote: read HEAD's tree again

    def _holds(self, head: str | None) -> bool:
        """Whether the record vouches that the index file holds `head`'s tree now."""
        recorded = self._recorded()
        if head is None or recorded is None or recorded.head != head:
            return False
        try:
            return IndexRecord.of(head, self.path) == recorded
        except OSError:
            return False  # the index file is gone
