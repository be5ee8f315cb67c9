"""`syncd ls` and `show`: reading the mirror and its index, never writing the mirror
(`syncd search` is app/searching.py)."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.config import Settings
from syncd.errors import ConfigError, MirrorMissingError, SyncdError
from syncd.index import lookup
from syncd.index.filters import SessionFilter
from syncd.index.queries import IndexReader, IndexReading
from syncd.index.records import ProjectRecord
from syncd.model import SessionRecord

if TYPE_CHECKING:  # ls and show read a current index without SQLAlchemy (see reading_index)
    from syncd.index.store import Store
    from syncd.mirror.writer import Mirror

logger = logging.getLogger(__name__)

#: `syncd ls --sort`: newest, largest first; names A to Z.
SORTS: dict[str, Callable[[SessionRecord], Any]] = {
    "date": lambda r: (r.started_at or r.created_at or "", r.id),
    "name": lambda r: (r.name.casefold(), r.id),
    "size": lambda r: (r.markdown_size or 0, r.id),
}


@dataclass(frozen=True)
class Listed:
    """One session as `ls` and `show` print it."""

    record: SessionRecord
    project: ProjectRecord | None
    root: Path  # the mirror's

    @property
    def path(self) -> Path:
        """The mirrored file (worked out when asked: `ls` lists thousands, prints none)."""
        return self.root / self.record.path


def open_mirror(settings: Settings) -> tuple[Store, Mirror]:
    """The root's index (upgraded when an older syncd left it) and mirror, without the
    lock: readers run beside a syncing daemon. MirrorMissingError before a first sync."""
    from syncd.daemon.status import open_index
    from syncd.mirror.writer import Mirror

    store = open_index(settings.index_url)
    if store is None:
        raise MirrorMissingError(str(settings.mirror_root))
    from syncd.index import (
        migrate,
        owner,
    )  # here: a root never synced is told so without SQLAlchemy

    # An index left behind by an older syncd is upgraded here too (one query when current).
    try:
        if not migrate.has_schema(store.engine):  # an empty database: never synced
            raise MirrorMissingError(str(settings.mirror_root))
        migrate.upgrade(store.engine)
        owner.check(store.engine, settings.mirror_root, settings.state_dir)
    except SyncdError:
        store.close()
        raise
    return store, Mirror(settings.mirror_root)


@contextmanager
def reading_index(settings: Settings) -> Iterator[IndexReading]:
    """The index for `ls` and `show`: read with the standard library when it is a current
    SQLite file, else through the Store (`open_mirror`: upgraded, or the error said)."""
    index: IndexReading | None = IndexReader.open(settings.index_url)
    if index is None:
        index, _ = open_mirror(settings)
    try:
        yield index
    finally:
        index.close()


def list_sessions(
    settings: Settings, wanted: SessionFilter, *, sort: str, limit: int | None
) -> list[Listed]:
    """The sessions `wanted` keeps, sorted by `sort` (a key of SORTS), at most `limit`."""
    with reading_index(settings) as index:
        projects = index.projects()
        records = [
            r for r in index.sessions().values() if _keeps(wanted, r, projects.get(r.project_id))
        ]
    records.sort(key=SORTS[sort], reverse=sort != "name")
    return [Listed(r, projects.get(r.project_id), settings.mirror_root) for r in records[:limit]]


def resolve_project(settings: Settings, wanted: str) -> str:
    """The id of the project `wanted` names: its id, its name (any case) or its folder in
    the mirror. ConfigError (exit 2) lists the candidates of an ambiguous name, or the
    closest names of an unknown one."""
    with reading_index(settings) as index:
        projects = list(index.projects().values())
    return match_project(projects, wanted).id


def match_project(projects: list[ProjectRecord], wanted: str) -> ProjectRecord:
    """The one project `wanted` names (see `resolve_project`)."""
    for project in projects:
        if project.id == wanted:
            return project
    folded = wanted.casefold().strip("/")
    found = sorted(
        (p for p in projects if folded in (p.name.casefold(), p.dirname.casefold())),
        key=lambda p: p.id,
    )
    if len(found) == 1:
        return found[0]
    if found:
        listed = ", ".join(f"{p.name!r} ({p.dirname}/, id {p.id})" for p in found)
        raise ConfigError(
            "--project", f"{wanted!r} names {len(found)} projects: {listed}; give the id"
        )
    import difflib  # only for a name that matched nothing

    # Case-insensitive, as the match itself: "my ap" is close to "My App".
    by_folded = {name.casefold(): name for p in projects for name in (p.name, p.dirname)}
    close = difflib.get_close_matches(folded, sorted(by_folded), n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(repr(by_folded[c]) for c in close)}" if close else ""
    raise ConfigError("--project", f"no project named {wanted!r}{hint}")


def find_session(settings: Settings, session: str) -> Listed:
    """The session an id, id prefix or file names; an ambiguous prefix raises, listing
    the matches."""
    with reading_index(settings) as index:
        record = lookup.resolve_session(index, settings.mirror_root, session)
        project = index.projects().get(record.project_id)
    return Listed(record, project, settings.mirror_root)


def open_in_editor(path: Path) -> None:
    """Open `path` with $VISUAL or $EDITOR, else the desktop's opener."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    opener = shutil.which("xdg-open") or shutil.which("open")
    command = (
        [*shlex.split(editor), str(path)] if editor else [opener, str(path)] if opener else None
    )
    if command is None:
        raise ConfigError("EDITOR", "no editor or opener found; set $EDITOR")
    subprocess.run(command, check=False)


def _keeps(wanted: SessionFilter, record: SessionRecord, owner: ProjectRecord | None) -> bool:
    return wanted.keeps(
        projects=[record.project_id, *([owner.name] if owner else [])],
        tags=record.metadata.tags,
        models=record.metadata.llm_models,
        started=record.started_at or record.created_at,
    )
