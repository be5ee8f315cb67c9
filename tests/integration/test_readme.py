"""The README's CLI reference is the real --help output, so it cannot go stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import typer.main

from syncd.cli import app, run

ROOT = Path(__file__).resolve().parents[2]


def load_reference_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts" / "cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_cli_reference_matches_the_help_output() -> None:
    reference = load_reference_script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert reference.render() in readme, "run: .venv/bin/python scripts/cli_reference.py"


def test_reference_covers_every_command() -> None:
    rendered = load_reference_script().render()
    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", {})
        for full in [f"{name} {sub}" for sub in subcommands] or [name]:
            assert f"$ syncd {full} --help" in rendered


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sync", "--bogus"]) == 2
    assert "No such option: --bogus" in capsys.readouterr().err
