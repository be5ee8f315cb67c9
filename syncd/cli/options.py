"""What every command shares: the global options, the settings they load, the session
argument."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pydantic-settings costs more than `syncd --help` may take
    from syncd.config import Settings

#: -h works wherever --help does (inherited by every command and group).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

#: Top-level options that may also come after the command: `syncd ls --config x.toml`
#: means `syncd --config x.toml ls`, `syncd ls --version` means `syncd --version`.
GLOBAL_VALUE_OPTIONS = ("--config",)
GLOBAL_FLAGS = ("--version",)


@dataclass
class Options:
    config: Path | None


def hoist_global_options(argv: list[str]) -> list[str]:
    """`argv` with every global option moved before the command, where the parser reads
    it; nothing after `--` is touched (it is an argument there)."""
    hoisted: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(argv):
        arg = argv[position]
        if arg == "--":
            rest.extend(argv[position:])
            break
        if arg in GLOBAL_VALUE_OPTIONS and position + 1 < len(argv):
            hoisted += argv[position : position + 2]
            position += 2
            continue
        if arg in GLOBAL_FLAGS or arg.startswith(tuple(f"{n}=" for n in GLOBAL_VALUE_OPTIONS)):
            hoisted.append(arg)
        else:
            rest.append(arg)
        position += 1
    return hoisted + rest


def settings_of(ctx: typer.Context) -> Settings:
    from syncd.config import load_settings
    from syncd.logs import configure_logging

    options: Options = ctx.obj
    settings = load_settings(options.config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def reading_settings_of(ctx: typer.Context) -> Settings:
    """The settings of a command that reads the mirror: with nothing configured and no
    mirror at the default root, the demo mirror a first `syncd sync` made (said on
    stderr, so the output itself stays what it always is)."""
    from syncd.app.demo_mirror import settings_to_read

    settings, demo = settings_to_read(settings_of(ctx))
    if demo is not None:
        print(
            f"showing the demo mirror at {demo}; configure a root or an API key to sync your own",
            file=sys.stderr,
        )
    return settings


SessionArg = Annotated[str, typer.Argument(help="Session id, id prefix or mirrored file.")]
