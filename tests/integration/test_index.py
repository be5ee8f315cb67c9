"""The index: migrations and the store contract, on real SQLite files (and PostgreSQL when
SYNCD_TEST_POSTGRES_URL names a server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from syncd.errors import StorageError
from syncd.index import migrate
from syncd.index.store import ProjectRecord, RunRecord, SessionRecord, Store
from syncd.model import SessionMetadata

POSTGRES_URL = os.environ.get("SYNCD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'index.db'}"
        return
    assert POSTGRES_URL is not None
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    yield POSTGRES_URL


def test_opening_creates_the_schema_at_head(database_url: str) -> None:
    with Store.open(database_url) as store:
        assert migrate.current_revision(store.engine) == migrate.head_revision(store.engine)
        tables = set(inspect(store.engine).get_table_names())
    assert {"projects", "sessions", "sync_runs", "alembic_version"} <= tables


def test_the_recorded_head_is_the_newest_migration_script(database_url: str) -> None:
    # Opening an index at HEAD_REVISION skips Alembic, so the constant must follow the scripts.
    with Store.open(database_url) as store:
        assert migrate.head_revision(store.engine) == migrate.HEAD_REVISION


def test_an_index_one_revision_behind_is_upgraded_on_open(database_url: str) -> None:
    with Store.open(database_url) as store:
        migrate.downgrade(store.engine, "-1")
        assert migrate.current_revision(store.engine) != migrate.HEAD_REVISION
    with Store.open(database_url) as store:
        assert migrate.current_revision(store.engine) == migrate.HEAD_REVISION


def test_the_client_id_column_is_added_once_whoever_added_it(database_url: str) -> None:
    with Store.open(database_url) as store:
        migrate.downgrade(store.engine, "0007")
        with store.engine.begin() as connection:  # as if a cut-short upgrade had added it
            connection.execute(text("ALTER TABLE sessions ADD COLUMN client_id TEXT"))
        migrate.upgrade(store.engine)
        columns = [c["name"] for c in inspect(store.engine).get_columns("sessions")]
        assert columns.count("client_id") == 1
        assert migrate.current_revision(store.engine) == migrate.HEAD_REVISION


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    with Store.open(database_url) as store:
        migrate.downgrade(store.engine, "base")
        assert "sessions" not in inspect(store.engine).get_table_names()
        migrate.upgrade(store.engine)
        assert "sessions" in inspect(store.engine).get_table_names()


def test_session_round_trips_with_its_metadata(database_url: str) -> None:
    record = SessionRecord(
        id="550e8400",
        project_id="proj_1",
        name="Fix 🎉 login",
        path="app/x.md",
        etag='W/"1"',
        markdown_size=12,
        body_sha256="ab" * 32,
        client_id="cursor-8f3a",
        metadata=SessionMetadata(client_name="cursor", llm_models=("gpt-5",)),
    )
    with Store.open(database_url) as store:
        store.save_project(ProjectRecord("proj_1", "App", "app"))
        store.save_session(record)
        store.save_session(record)  # saving twice updates, never duplicates
        assert store.sessions() == {record.id: record}
        assert store.sessions("other") == {}
        assert store.session("550e8400") == record


def test_saving_a_row_keeps_its_story_url_and_ends_its_pending_write(database_url: str) -> None:
    first = SessionRecord(id="s1", project_id="proj_1", name="One", path="app/1.md")
    second = SessionRecord(id="s2", project_id="proj_1", name="Two", path="app/2.md")
    with Store.open(database_url) as store:
        store.save_project(ProjectRecord("proj_1", "App", "app"))
        store.save_sessions([first, second])
        store.set_pullstory_url("s1", "https://pullstory.example/s/1")
        store.begin_write(first)
        store.save_session(first)  # written from what the sync read before the URL came
        assert store.pending_writes() == []
        saved = store.session("s1")
        assert saved is not None
        assert saved.pullstory_url == "https://pullstory.example/s/1"
        assert store.sessions()["s2"] == second


def test_runs_are_recorded_newest_first(database_url: str) -> None:
    with Store.open(database_url) as store:
        first = store.start_run(datetime(2026, 1, 1, tzinfo=UTC))
        second = store.start_run(datetime(2026, 1, 2, tzinfo=UTC))
        store.finish_run(
            RunRecord(
                second,
                datetime(2026, 1, 2, tzinfo=UTC),
                datetime(2026, 1, 2, tzinfo=UTC),
                7,
                6,
                1,
                1,
                0,
                6,
                0,
                [],
            )
        )
        runs = store.runs()
    assert [r.id for r in runs] == [second, first]
    assert (runs[0].requests, runs[0].not_modified) == (7, 6)


def test_unwritable_index_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="index"):
        Store.open(f"sqlite:///{blocker / 'index.db'}")


def test_migrations_describe_exactly_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from syncd.index.models import Base
    from syncd.index.search import include_name_except_search

    with Store.open(f"sqlite:///{tmp_path / 'index.db'}") as store, store.engine.connect() as db:
        assert (
            compare_metadata(
                MigrationContext.configure(db, opts={"include_name": include_name_except_search}),
                Base.metadata,
            )
            == []
        )


def test_budget_state_survives_reopening(database_url: str) -> None:
    from syncd.index.store import BudgetRecord

    with Store.open(database_url) as store:
        assert store.budget() is None
        store.save_budget(BudgetRecord(1000, 12, 1_700_000_000.0, 1_699_999_000.0, None))
    with Store.open(database_url) as store:
        assert store.budget() == BudgetRecord(1000, 12, 1_700_000_000.0, 1_699_999_000.0, None)
