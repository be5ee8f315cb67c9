"""What a database URL costs when it cannot work (a driver not installed, a server that
refuses), and one index per mirror root, on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from syncd.cli import run
from syncd.daemon.doctor import INDEX, run_checks
from syncd.index import migrate
from syncd.index.store import Store
from tests.integration.conftest import Harness, point_cli_at
from tests.integration.test_sync import seed_two_projects

MISSING_DRIVER = "postgresql+pg8000://syncd:s3cret@127.0.0.1:1/nothing"


@pytest.mark.parametrize("command", [["status"], ["ls"], ["search", "login"], ["sync", "--once"]])
def test_a_driver_that_is_not_installed_is_one_line_and_exit_2(
    cli_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    cli_root.mkdir()
    monkeypatch.setenv("SYNCD_DATABASE_URL", MISSING_DRIVER)
    assert run(command) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'syncd[postgres]'" in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert "s3cret" not in err


def test_doctor_reports_a_missing_driver_as_one_failed_check(
    cli_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", MISSING_DRIVER)
    index = next(c for c in run_checks(None) if c.name == INDEX)
    assert not index.ok
    assert "pg8000" in index.detail
    assert "pip install 'syncd[postgres]'" in (index.fix or "")


def test_doctor_advises_checking_the_server_not_moving_a_file_for_a_refused_connection(
    cli_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    monkeypatch.setenv("SYNCD_DATABASE_URL", "postgresql://syncd:s3cret@127.0.0.1:1/nothing")
    index = next(c for c in run_checks(None) if c.name == INDEX)
    assert not index.ok
    assert "server at 127.0.0.1:1" in (index.fix or "")
    assert "move it aside" not in (index.fix or "")
    assert "s3cret" not in index.detail + (index.fix or "")


def test_a_server_that_refuses_is_a_storage_error_not_a_never_synced_root(
    cli_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    monkeypatch.setenv("SYNCD_DATABASE_URL", "postgresql://syncd:s3cret@127.0.0.1:1/nothing")
    for command in (["status"], ["ls"], ["search", "login"]):
        assert run(command) == 5, command
        err = capsys.readouterr().err
        assert "Connection refused" in err
        assert "s3cret" not in err


def test_a_second_root_on_the_same_index_is_refused_naming_both(
    any_harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    seed_two_projects(any_harness.server)
    monkeypatch.setenv("SYNCD_DATABASE_URL", any_harness.database_url)
    first = point_cli_at(monkeypatch, any_harness.server.url, "test-key", any_harness.root)
    assert run(["sync", "--once"]) == 0
    second = point_cli_at(monkeypatch, any_harness.server.url, "test-key", tmp_path / "other")
    capsys.readouterr()
    # A current SQLite file is read without SQLAlchemy by status and search: only writers
    # check it (README); on a server every command does.
    on_server = any_harness.database_url.startswith("postgresql")
    readers = [["status"], ["search", "login"]] if on_server else []
    commands = [["sync", "--once"], *readers]
    for command in commands:
        assert run(command) == 2, command
        err = capsys.readouterr().err
        assert str(first.resolve()) in err
        assert str(second.resolve()) in err
    # The owner goes on as before.
    point_cli_at(monkeypatch, any_harness.server.url, "test-key", first)
    assert run(["search", "login"]) == 0


def test_reading_an_empty_database_says_never_synced_and_creates_no_table(
    cli_root: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", postgres_url)
    assert run(["ls"]) == 2  # no mirror yet, as on SQLite
    assert run(["search", "login"]) == 2
    assert run(["status"]) == 0
    engine = create_engine(postgres_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_doctor_says_the_index_belongs_to_another_root(
    any_harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed_two_projects(any_harness.server)
    monkeypatch.setenv("SYNCD_DATABASE_URL", any_harness.database_url)
    first = point_cli_at(monkeypatch, any_harness.server.url, "test-key", any_harness.root)
    assert run(["sync", "--once"]) == 0
    index = next(c for c in run_checks(None) if c.name == INDEX)
    assert index.ok, index.detail
    point_cli_at(monkeypatch, any_harness.server.url, "test-key", tmp_path / "other")
    index = next(c for c in run_checks(None) if c.name == INDEX)
    assert not index.ok
    assert str(first.resolve()) in index.detail
    assert "its own database" in (index.fix or "")


def test_the_owner_and_search_tables_are_created_once_whoever_created_them(
    any_harness: Harness,
) -> None:
    with Store.open(any_harness.database_url) as store:
        migrate.downgrade(store.engine, "0011")
        with store.engine.begin() as connection:  # as if a cut-short upgrade had made it
            connection.execute(text("CREATE TABLE index_owner (id INTEGER PRIMARY KEY)"))
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.HEAD_REVISION
        assert "index_owner" in inspect(store.engine).get_table_names()
