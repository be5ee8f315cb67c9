"""Which mirror root an index belongs to: one database serves one root.

Two roots pointed at one database would see each other's runs and sessions and could
sync at the same time (each root's lock is a file in its own folder). So the first root
to write to an index records itself in `index_owner` (migration 0012): its resolved path
and a random id, which is also kept in the root's own folder (ROOT_ID_FILE). A root is the
owner when its id matches, or, having no id file yet (an index made by an older syncd, or
a folder restored without it), when its path matches: then it takes the recorded id.
Anything else is refused with IndexOwnedError naming both roots.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from syncd.errors import IndexOwnedError, StorageError, driver_message
from syncd.index.models import IndexOwnerRow

ROOT_ID_FILE = "root-id"
_ROW = 1  # the table's one row


def claim(engine: Engine, root: Path, state_dir: Path) -> None:
    """Make `root` the owner of a new index, or check that it owns this one (writers:
    sync, run, rebuild); IndexOwnedError when another root does."""
    local = _local_id(state_dir)
    path = str(root.resolve())
    try:
        with engine.begin() as connection:
            recorded = _recorded(connection)
            if recorded is None:
                local = local or secrets.token_hex(16)
                connection.execute(
                    insert(IndexOwnerRow).values(id=_ROW, root_id=local, root_path=path)
                )
            elif _is_owner(recorded, local, path):
                local = recorded[0]
                if recorded[1] != path:  # the root moved: its id says it is the same one
                    connection.execute(update(IndexOwnerRow).values(root_path=path))
            else:
                raise IndexOwnedError(_shown(engine), recorded[1], path)
    except IntegrityError:  # another root claimed it in the meantime
        check(engine, root, state_dir)
        return
    except SQLAlchemyError as exc:
        raise StorageError("the index", driver_message(exc)) from exc
    _keep_local_id(state_dir, local)


def check(engine: Engine, root: Path, state_dir: Path) -> None:
    """IndexOwnedError when another root owns the index (readers: nothing is written)."""
    path = str(root.resolve())
    try:
        with engine.connect() as connection:
            recorded = _recorded(connection)
    except SQLAlchemyError:
        return  # no owner table yet (an index an older syncd left): the next sync claims it
    if recorded is not None and not _is_owner(recorded, _local_id(state_dir), path):
        raise IndexOwnedError(_shown(engine), recorded[1], path)


def _recorded(connection: Connection) -> tuple[str, str] | None:
    row = connection.execute(
        select(IndexOwnerRow.root_id, IndexOwnerRow.root_path).where(IndexOwnerRow.id == _ROW)
    ).first()
    return None if row is None else (row[0], row[1])


def _is_owner(recorded: tuple[str, str], local: str | None, path: str) -> bool:
    root_id, root_path = recorded
    return local == root_id if local is not None else root_path == path


def _local_id(state_dir: Path) -> str | None:
    try:
        return (state_dir / ROOT_ID_FILE).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _keep_local_id(state_dir: Path, root_id: str) -> None:
    if _local_id(state_dir) == root_id:
        return
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / ROOT_ID_FILE).write_text(root_id + "\n", encoding="ascii")
    except OSError as exc:
        raise StorageError(str(state_dir / ROOT_ID_FILE), exc.strerror or str(exc)) from exc


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
