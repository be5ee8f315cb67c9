"""Start-up cost: each command imports only what it needs, checked in a fresh interpreter.

`syncd --version` and `--help` answer in about the time Python takes to start, so they
must not load the settings, index or network stack. `status`, `ls` and `show` read a
current SQLite index with the standard library, so they import no SQLAlchemy either; on
an older index (or none) they take the SQLAlchemy path, and still answer. No reading
command imports the HTTP client, the scheduler or the file watcher.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.index import migrate
from syncd.index.store import Store
from tests.integration.test_sync import seed_two_projects

# Runs `syncd <args>` as the entry point does, then reports the top-level packages loaded.
_PROBE = """
import json, sys
sys.argv = ["syncd", *sys.argv[1:]]
from syncd.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({name.partition(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""

NEVER_FOR_HELP = {"sqlalchemy", "httpx", "apscheduler", "watchdog", "alembic", "pydantic"}
NEVER_FOR_READING = {"httpx", "apscheduler", "watchdog", "alembic"}


def probe(*args: str, code: int = 0) -> tuple[set[str], str]:
    """The top-level packages `syncd <args>` imports, run in a fresh interpreter, and what
    it prints; it must exit with `code`."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert (report["code"] or 0) == code, done.stdout + done.stderr
    return set(report["loaded"]), done.stdout


def imports_of(*args: str, code: int = 0) -> set[str]:
    return probe(*args, code=code)[0]


def test_version_imports_neither_the_cli_nor_any_heavy_library() -> None:
    loaded = imports_of("--version")
    assert not loaded & (NEVER_FOR_HELP | {"typer", "click", "rich"})


def test_help_imports_no_settings_index_or_network_library() -> None:
    # Only the top-level help: typer (0.29) validates every parsed option with pydantic,
    # so `syncd db` or `syncd status --help` load pydantic, though still no syncd module.
    assert not imports_of("--help") & NEVER_FOR_HELP


def test_version_prints_the_package_version() -> None:
    from syncd import __version__

    done = subprocess.run(
        [sys.executable, "-m", "syncd", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, f"syncd {__version__}\n")


READING = [["status", "--json"], ["ls"], ["show", "550e8400-0000-0000-0000-000000000001"]]


@pytest.mark.parametrize("args", READING)
def test_status_ls_and_show_read_a_current_index_without_sqlalchemy(
    server: DevServer, cli_root: Path, args: list[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    assert not imports_of(*args) & (NEVER_FOR_READING | {"sqlalchemy"})


@pytest.mark.parametrize("args", READING)
def test_status_ls_and_show_read_an_older_index_through_sqlalchemy(
    server: DevServer, cli_root: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    _, current = probe(*args)
    with Store.open(f"sqlite:///{cli_root / '.syncd' / 'index.db'}") as store:
        migrate.downgrade(store.engine, "-1")
    loaded, older = probe(*args)
    assert "sqlalchemy" in loaded  # the fallback, which upgrades (ls, show) or reads as is
    assert not loaded & {"httpx", "apscheduler", "watchdog"}
    assert _without_now(older) == _without_now(current)


def _without_now(printed: str) -> str:
    """`status --json` but for the moment it was asked; any other output as printed."""
    if not printed.startswith("{"):
        return printed
    return json.dumps(json.loads(printed) | {"now": None})


def test_status_and_ls_of_a_root_never_synced_import_no_sqlalchemy(cli_root: Path) -> None:
    assert not imports_of("status") & (NEVER_FOR_READING | {"sqlalchemy"})
    # No mirror: the same error as ever (exit 2), said as fast.
    assert not imports_of("ls", code=2) & (NEVER_FOR_READING | {"sqlalchemy"})


def test_search_of_a_current_index_imports_no_sqlalchemy(server: DevServer, cli_root: Path) -> None:
    # A sync leaves the search index current, so the search reads it with sqlite3 alone.
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    loaded = imports_of("search", "login")
    assert "syncd" in loaded
    assert not loaded & (NEVER_FOR_READING | {"sqlalchemy"})


def test_search_of_an_index_behind_the_mirror_brings_it_up_to_date_first(
    server: DevServer, cli_root: Path
) -> None:
    import sqlite3

    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    database = next(cli_root.rglob("index.db"))
    with sqlite3.connect(database) as connection:  # as if a file changed since its indexing
        connection.execute("UPDATE session_search_docs SET file_sha256 = 'old'")
    assert "sqlalchemy" in imports_of("search", "login")
    assert "sqlalchemy" not in imports_of("search", "login")
