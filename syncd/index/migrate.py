"""Apply the Alembic migrations shipped inside the package (syncd.migrations).

Alembic is imported only when there is something to do: opening an index that is already
at HEAD_REVISION (every command, every time but the first after an upgrade) is one query.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from syncd.errors import StorageError, driver_message
from syncd.index.revision import HEAD_REVISION as HEAD_REVISION

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("syncd.migrations")))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest)."""
    if revision == "head" and _recorded_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StorageError("the index schema", driver_message(exc)) from exc


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError("the index", driver_message(exc)) from exc


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def has_schema(engine: Engine) -> bool:
    """Whether any syncd schema is there: an empty database (a server's, before the first
    sync) has none, and reading it must not create one. StorageError when the database
    cannot be reached."""
    try:
        return inspect(engine).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise StorageError("the index", driver_message(exc)) from exc


def _recorded_revision(engine: Engine) -> str | None:
    """The revision in alembic_version, read directly; None when there is none (yet)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None  # a new database: no table yet
    return rows[0][0] if len(rows) == 1 else None
