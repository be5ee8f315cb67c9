"""What every command shares: the global options, the settings they load, the session
argument."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from syncd.config import Settings, load_settings
from syncd.logs import configure_logging


@dataclass
class Options:
    config: Path | None


def settings_of(ctx: typer.Context) -> Settings:
    options: Options = ctx.obj
    settings = load_settings(options.config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


SessionArg = Annotated[str, typer.Argument(help="Session id, id prefix or mirrored file.")]
