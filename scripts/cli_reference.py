"""Regenerate the README's CLI reference from the real `--help` output.

Run `python scripts/cli_reference.py` after changing a command; a test fails while the
README and the help text disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import typer.main

from syncd.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"


def _help_of(command: Any, path: list[str], parent: typer.Context | None = None) -> list[str]:
    # Each context under its parent, as when run: settings such as -h are inherited.
    context = typer.Context(
        command,
        parent=parent,
        info_name=path[-1],
        max_content_width=88,
        **command.context_settings,
    )
    context.terminal_width = 88
    blocks = [f"$ {' '.join(path)} --help\n{command.get_help(context)}"]
    if hasattr(command, "list_commands"):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None:
                blocks.extend(_help_of(sub, [*path, name], context))
    return blocks


def render() -> str:
    """The reference section, between its markers."""
    body = "\n\n".join(_help_of(typer.main.get_command(app), ["syncd"]))
    return f"{START}\n```text\n{body}\n```\n{END}"


def update(readme: Path = README) -> bool:
    """Rewrite the section in place; returns True when it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(START), text.index(END) + len(END)
    new = text[:start] + render() + text[end:]
    if new == text:
        return False
    readme.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = update()
    sys.stdout.write("README CLI reference updated\n" if changed else "README already current\n")
