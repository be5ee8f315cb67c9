"""The `syncd` command: parse options, call one `syncd.app` function per command, print.

- `commands`: the typer app, which command is which, and the error handler;
- `mirroring`: sync, run, status, doctor, db; `pushing`: brief, push;
  `browsing`: ls, show, search; `devserver`: the local server;
- `options`: what every command shares (global options, settings, the session argument).
"""

from syncd.cli.commands import app, main, run

__all__ = ["app", "main", "run"]
