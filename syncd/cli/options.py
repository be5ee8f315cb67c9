"""What every command shares: the global options, the settings they load, the session
argument."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pydantic-settings costs more than `syncd --help` may take
    from syncd.config import Settings


@dataclass
class Options:
    config: Path | None


def settings_of(ctx: typer.Context) -> Settings:
    from syncd.config import load_settings
    from syncd.logs import configure_logging

    options: Options = ctx.obj
    settings = load_settings(options.config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


SessionArg = Annotated[str, typer.Argument(help="Session id, id prefix or mirrored file.")]
