"""HEAD's commit read from the files in the git directory, without starting git.

A commit asks for HEAD twice (has it moved while staging? what did the commit make?), and a
git process costs more than the rest of either question. Only the plain layout is read: HEAD
naming a branch whose id is in its loose ref file or in packed-refs, or a detached HEAD.
Anything else (a reftable repository, a symbolic ref to a symbolic ref, a file being
replaced) gives None, and the caller asks `git rev-parse`, whose answer is the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from syncd.archive.locks import Repository

#: A full object id (SHA-1 or SHA-256), as git writes it in ref files.
OBJECT_ID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
BRANCHES = "refs/heads/"


def read_head(repo: Repository) -> str | None:
    """The commit id HEAD names, or None when these files do not say for sure."""
    head = _read(repo.git_dir / "HEAD")
    if head is None or not head.startswith("ref: "):
        return _object_id(head)  # detached: the id itself
    ref = head.removeprefix("ref: ").strip()
    if not ref.startswith(BRANCHES) or ".." in ref:
        return None
    # A loose ref file, when there is one, is newer than what packed-refs says.
    try:
        loose = (repo.common_dir / ref).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _packed(repo.common_dir / "packed-refs", ref)
    except (OSError, UnicodeDecodeError):
        return None  # unreadable, or not a file (refs/heads of a reftable repository)
    return _object_id(loose)


def _packed(packed_refs: Path, ref: str) -> str | None:
    text = _read(packed_refs)
    for line in (text or "").splitlines():
        oid, _, name = line.partition(" ")
        if name == ref:
            return _object_id(oid)
    return None  # not born yet, or git knows something these files do not say


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _object_id(text: str | None) -> str | None:
    return text if text is not None and OBJECT_ID.fullmatch(text) else None
