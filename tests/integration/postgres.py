"""A fresh PostgreSQL database per test, on the server SYNCD_TEST_POSTGRES_URL names.

`backend_url` is parametrized over both backends: "sqlite" (a file under the test's temp
dir) and "postgresql", which is skipped with its reason when the variable is not set (CI
sets it: scripts/postgres-for-tests starts a server). Each PostgreSQL test gets its own
database, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "SYNCD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]
# Read once at import: every test's environment is cleared of SYNCD_* (tests/conftest.py).
SERVER = os.environ.get(POSTGRES_ENV)
SKIP_REASON = f"{POSTGRES_ENV} is not set (scripts/postgres-for-tests starts a server)"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty database; dropped after the test."""
    server = SERVER
    if not server:
        pytest.skip(SKIP_REASON)
    name = f"syncd_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_url(request: pytest.FixtureRequest, backend: str, sqlite_file: Path) -> str:
    """The index URL for `backend`: `sqlite_file`, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{sqlite_file}"
    return str(request.getfixturevalue("postgres_url"))
