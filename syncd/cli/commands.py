"""The `syncd` command: the typer app and its commands, and the one place a SyncdError
becomes a line and an exit code."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from syncd import __version__
from syncd.cli import browsing, completion, devserver, mirroring, pushing
from syncd.cli.options import CONTEXT_SETTINGS, Options, hoist_global_options
from syncd.errors import SyncdError

app = typer.Typer(
    help="Mirror your SpecStory Cloud sessions to a Markdown folder tree and a SQLite index.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
    # No --install-completion/--show-completion on every command line: `syncd completion
    # SHELL` prints the script, loaded where the user chooses (typer's installer would
    # edit ~/.bashrc itself).
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: stable text for logs, pipes and the README's CLI reference.
    rich_markup_mode=None,
)
db_app = typer.Typer(
    help="Manage the index database.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        print(f"syncd {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (default: XDG config dir).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options shared by every command (before or after the command's name)."""
    ctx.obj = Options(config=config)


app.command("sync")(mirroring.sync_command)
app.command("run")(mirroring.run_command)
app.command("status")(mirroring.status_command)
app.command("doctor")(mirroring.doctor_command)
db_app.command("upgrade")(mirroring.db_upgrade)
db_app.command("rebuild")(mirroring.db_rebuild)
app.command("brief")(pushing.brief_command)
app.command("push")(pushing.push_command)
app.command("ls")(browsing.ls_command)
app.command("show")(browsing.show_command)
app.command("search")(browsing.search_command)
app.command("devserver")(devserver.devserver_command)
app.command("completion")(completion.completion_command)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: one line per SyncdError, tracebacks only for bugs.

    Usage errors, --help and interrupts are handled by the argument parser (standalone
    mode) and arrive here as SystemExit.
    """
    completion.prepare_if_completing()
    try:
        args = hoist_global_options(sys.argv[1:] if argv is None else argv)
        app(args=args, prog_name="syncd", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except SyncdError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        print("unexpected error (please report it):", file=sys.stderr)
        traceback.print_exc()
        return 70
    return 0
