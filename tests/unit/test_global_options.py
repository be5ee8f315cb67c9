"""Global options may follow the command: they are moved before it for the parser."""

from __future__ import annotations

import pytest

from syncd.cli.options import hoist_global_options


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["ls", "--config", "c.toml"], ["--config", "c.toml", "ls"]),
        (["--config", "c.toml", "ls"], ["--config", "c.toml", "ls"]),
        (["db", "upgrade", "--config=c.toml"], ["--config=c.toml", "db", "upgrade"]),
        (
            ["search", "login", "--limit", "3", "--config", "c.toml", "--json"],
            ["--config", "c.toml", "search", "login", "--limit", "3", "--json"],
        ),
        # After `--` it is an argument, and a trailing --config is left for the parser.
        (["search", "--", "--config", "x"], ["search", "--", "--config", "x"]),
        (["ls", "--config"], ["ls", "--config"]),
        (["status", "--json", "--version"], ["--version", "status", "--json"]),
        ([], []),
    ],
)
def test_global_options_move_before_the_command(argv: list[str], parsed: list[str]) -> None:
    assert hoist_global_options(argv) == parsed
