"""The stdlib read path opens only an index it can read as the Store would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from syncd.index.reader import open_reader, sqlite_file
from syncd.index.revision import HEAD_REVISION
from syncd.index.store import Store


def test_plain_sqlite_urls_name_their_file() -> None:
    assert sqlite_file("sqlite:////srv/mirror/.syncd/index.db") == Path(
        "/srv/mirror/.syncd/index.db"
    )
    assert sqlite_file("sqlite:///relative.db") == Path("relative.db")
    assert sqlite_file("sqlite:///with%20space.db") == Path("with space.db")


def test_other_urls_take_the_sqlalchemy_path() -> None:
    assert sqlite_file("postgresql+psycopg://u@h/db") is None
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("sqlite:///index.db?mode=ro") is None


def test_a_current_index_is_opened_read_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    Store.open(url).close()
    reader = open_reader(url)
    assert reader is not None
    with reader:
        assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM sessions")


def test_a_missing_or_older_index_is_left_to_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    assert open_reader(url) is None
    assert not (tmp_path / "index.db").exists()  # looking did not create it
    Store.open(url).close()
    with sqlite3.connect(tmp_path / "index.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0001'")
    assert HEAD_REVISION != "0001"
    assert open_reader(url) is None
