"""Which mirrored session a user means: an id, a unique id prefix or the mirrored file.

`syncd show`, `brief` and `push` take the same words, whichever way they read the index.
"""

from __future__ import annotations

from pathlib import Path

from syncd.errors import SessionNotFoundError
from syncd.index.queries import IndexReading
from syncd.model import SessionRecord


def resolve_session(index: IndexReading, root: Path, wanted: str) -> SessionRecord:
    """A session from its id, a unique id prefix, or the path of its file under `root`;
    SessionNotFoundError otherwise (an ambiguous prefix lists up to ten matches)."""
    path = Path(wanted).expanduser()
    if path.suffix == ".md" and path.exists():
        record = index.session_by_path(_relative_to_root(root, path))
        if record is not None:
            return record
        raise SessionNotFoundError(wanted, "this file is not a session syncd mirrored")
    sessions = index.sessions()
    if wanted in sessions:
        return sessions[wanted]
    matches = [r for r in sessions.values() if r.id.startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SessionNotFoundError(wanted, "no mirrored session has this id or path")
    listed = ", ".join(sorted(r.id for r in matches)[:10])
    raise SessionNotFoundError(wanted, f"ambiguous: {len(matches)} sessions match ({listed})")


def _relative_to_root(root: Path, path: Path) -> str:
    resolved, resolved_root = path.resolve(), root.resolve()
    if not resolved.is_relative_to(resolved_root):
        raise SessionNotFoundError(str(path), f"it is outside the mirror root {root}")
    return resolved.relative_to(resolved_root).as_posix()
