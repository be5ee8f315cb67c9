"""`syncd completion SHELL`: the shell completion script, printed to be sourced.

Completion itself runs through the command: the script calls `syncd` with
_SYNCD_COMPLETE set, and `commands.run` then registers typer's completion classes (which
typer registers itself only with add_completion, left off in `commands`).
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

PROG_NAME = "syncd"
COMPLETE_VAR = "_SYNCD_COMPLETE"


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def completion_command(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script for SHELL.

    Load it in the current shell with `eval "$(syncd completion bash)"` (zsh the same),
    or `syncd completion fish | source`; to keep it, add that line to ~/.bashrc,
    ~/.zshrc or ~/.config/fish/config.fish.
    """
    # typer keeps its scripts (and, below, its shells' classes) in these modules only.
    from typer._completion_shared import get_completion_script

    print(get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell))


def prepare_if_completing() -> None:
    """Register typer's completion classes when the shell asks for completions."""
    if COMPLETE_VAR in os.environ:
        from typer._completion_classes import completion_init

        completion_init()
