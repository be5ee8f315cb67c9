"""The `syncd` command: parse options, call one `syncd.app` function per command, print.

- `commands`: the typer app, which command is which, and the error handler;
- `mirroring`: sync, run, status, doctor, db; `pushing`: brief, push;
  `browsing`: ls, show, search; `devserver`: the local server;
- `options`: what every command shares (global options, settings, the session argument);
  `since`: the forms --since takes; `completion`: the shell completion scripts.

Start-up time is part of the interface: `syncd --version` answers before typer is
imported, and the command modules import their heavy dependencies (SQLAlchemy, pydantic,
httpx) inside the command functions, so `--help` builds the parser and nothing more.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.cli.commands import app, run

__all__ = ["app", "main", "run"]


def main() -> None:
    """The `syncd` entry point: `--version` alone is answered without building the CLI."""
    if sys.argv[1:] == ["--version"]:
        from syncd import __version__

        print(f"syncd {__version__}")
        sys.exit(0)
    from syncd.cli.commands import run

    sys.exit(run())


def __getattr__(name: str) -> Any:
    # `app` and `run` build the typer app, so they load on first use, not with `main`.
    if name in ("app", "run"):
        from syncd.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
