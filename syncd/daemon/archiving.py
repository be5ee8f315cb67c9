"""After a cycle: commit what it wrote and removed to the git archive, when enabled.

Paths of a commit that failed (a hook said no, the repository was locked) are kept in
`.syncd/git-pending.json` and go into the next cycle's commit, so nothing is left out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from syncd.archive.git import ChangeSummary, CommitResult, GitArchive
from syncd.config import Settings
from syncd.errors import StorageError
from syncd.index.store import Store
from syncd.sync.report import CycleReport

logger = logging.getLogger(__name__)

PENDING = "git-pending.json"


def commit_cycle(settings: Settings, store: Store, report: CycleReport) -> CommitResult | None:
    """Commit the cycle's changes (plus any left from a failed commit); None when off."""
    git = settings.git
    if not git.enabled:
        return None
    pending_written, pending_removed = _load(settings.state_dir)
    written = sorted(set(pending_written) | report.written)
    removed = sorted(set(pending_removed) | report.removed)
    if not written and not removed:
        return None  # most daemon cycles: no git process at all
    archive = GitArchive(
        settings.mirror_root,
        author_name=git.author_name,
        author_email=git.author_email,
        remote=git.remote,
        branch=git.branch,
    )
    archive.ensure_repository()
    result = archive.commit(written, removed, [], _summary(store, report))
    if result.error:
        _save(settings.state_dir, written, removed)
        logger.error("git commit failed (retried next cycle): %s", result.error)
    else:
        _save(settings.state_dir, [], [])
        if result.committed:
            logger.info("git: committed %d file(s) as %s", result.files, (result.sha or "")[:10])
    if result.push_error:
        logger.warning("git push failed: %s", result.push_error)
    return result


def _summary(store: Store, report: CycleReport) -> ChangeSummary:
    names = {p.id: p.name for p in store.projects().values()}
    grouped: dict[str, dict[str, list[str]]] = {"new": {}, "updated": {}, "deleted": {}}
    for kind, project_id, name in report.changes:
        grouped[kind].setdefault(names.get(project_id, project_id), []).append(name)
    sessions_gone = [p for p in report.removed if not p.endswith(("/INDEX.md", "README.md"))]
    moved = len(sessions_gone) - report.deleted
    return ChangeSummary(grouped["new"], grouped["updated"], grouped["deleted"], max(0, moved))


def _load(state_dir: Path) -> tuple[list[str], list[str]]:
    try:
        data = json.loads((state_dir / PENDING).read_text(encoding="utf-8"))
        return list(data.get("written", [])), list(data.get("removed", []))
    except (OSError, ValueError, AttributeError):
        return [], []


def _save(state_dir: Path, written: list[str], removed: list[str]) -> None:
    path = state_dir / PENDING
    try:
        if not written and not removed:
            path.unlink(missing_ok=True)
            return
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps({"written": written, "removed": removed}), encoding="utf-8")
        temp.replace(path)
    except OSError as exc:
        raise StorageError(str(path), exc.strerror or str(exc)) from exc
