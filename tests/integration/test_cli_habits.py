"""What people type out of habit: -h, options after the command, completion, the forms
of --since, --limit and --project, mistyped variables, and the demo mirror after a
first keyless sync."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from syncd.cli import app, run
from syncd.devserver import DevServer
from tests.integration.test_sync import seed_two_projects


def every_command() -> list[list[str]]:
    group = typer.main.get_group(app)
    found: list[list[str]] = [[]]
    for name, command in group.commands.items():
        found.append([name])
        found.extend([name, sub] for sub in getattr(command, "commands", {}))
    return found


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_h_is_help_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*command, "-h"]) == 0
    short = capsys.readouterr().out
    assert run([*command, "--help"]) == 0
    assert short == capsys.readouterr().out
    assert short.startswith("Usage: syncd")


def test_config_may_follow_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('root = "elsewhere"\ntimeout_seconds = -1\n', encoding="utf-8")
    for argv in (["--config", str(config), "status"], ["status", "--config", str(config)]):
        assert run(argv) == 2
        assert "SYNCD_TIMEOUT_SECONDS" in capsys.readouterr().err
    assert run(["db", "upgrade", f"--config={tmp_path / 'missing.toml'}"]) == 2
    assert "missing.toml does not exist" in capsys.readouterr().err


def test_version_may_follow_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    from syncd import __version__

    assert run(["ls", "--version"]) == 0
    assert capsys.readouterr().out == f"syncd {__version__}\n"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_that_calls_syncd_back(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "_SYNCD_COMPLETE=complete_" + shell in script


def test_the_completion_script_completes_commands_and_options() -> None:
    # As bash runs it: syncd with the words typed so far in the environment.
    def complete(words: str) -> list[str]:
        environ = os.environ | {
            "_SYNCD_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = subprocess.run(
            [sys.executable, "-m", "syncd"], env=environ, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("syncd st") == ["status"]
    assert {"--since", "--sort"} <= set(complete("syncd ls --s"))


@pytest.mark.parametrize("since", ["last week", "7 days", "2025-02-30"])
def test_a_since_not_understood_is_a_usage_error_naming_the_forms(
    since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ls", "--since", since]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--since'" in err
    assert "7d" in err
    assert "yesterday" in err


@pytest.mark.parametrize("command", [["ls"], ["search", "login"]])
@pytest.mark.parametrize("limit", ["-1", "0"])
def test_a_limit_below_one_is_a_usage_error(
    command: list[str], limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*command, "--limit", limit]) == 2
    assert "Invalid value for '--limit'" in capsys.readouterr().err


def listed_ids(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    capsys.readouterr()
    assert run(["ls", *args]) == 0
    return [line.split()[2] for line in capsys.readouterr().out.splitlines()]


def test_since_spans_keep_recent_sessions(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)  # every session started 2025-07-20T10:28:48Z
    assert run(["sync", "--once"]) == 0
    assert len(listed_ids(capsys, "--since", "2025-07-20T10:28")) == 3
    assert listed_ids(capsys, "--since", "2025-07-20T10:29") == []
    assert listed_ids(capsys, "--since", "7d") == []
    assert len(listed_ids(capsys, "--since", "100000d")) == 3


def test_project_by_id_name_or_folder(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    folder = next(p.name for p in cli_root.iterdir() if p.is_dir() and "app" in p.name.lower())
    by_id = listed_ids(capsys, "--project", "proj_app")
    assert len(by_id) == 2
    assert listed_ids(capsys, "--project", "my app") == by_id
    assert listed_ids(capsys, "--project", folder) == by_id
    capsys.readouterr()
    assert run(["search", "login", "--project", folder]) == 0
    assert "My App / " in capsys.readouterr().out


def test_an_unknown_project_names_the_closest(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    assert run(["ls", "--project", "My Ap"]) == 2
    err = capsys.readouterr().err
    assert "no project named 'My Ap'" in err
    assert "My App" in err
    assert run(["search", "x", "--project", "nothing like it"]) == 2
    assert "no project named 'nothing like it'" in capsys.readouterr().err


def test_an_ambiguous_project_lists_the_candidates(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    twin = server.add_project("my app", project_id="proj_twin")
    server.put_session(
        twin, session_id="7717e400-0000-0000-0000-000000000001", name="t", markdown="# t\n"
    )
    assert run(["sync", "--once"]) == 0
    capsys.readouterr()
    assert run(["ls", "--project", "MY APP"]) == 2
    err = capsys.readouterr().err
    assert "names 2 projects" in err
    assert "proj_app" in err
    assert "proj_twin" in err
    assert len(listed_ids(capsys, "--project", "proj_twin")) == 1


def test_a_mistyped_variable_is_warned_about(
    cli_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_ROOTT", "/somewhere")
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr.count("SYNCD_ROOTT is not a setting; did you mean SYNCD_ROOT?") == 1


@pytest.fixture
def first_keyless_sync(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A home with no mirror and nothing configured, after `syncd sync` filled the demo
    root; returns the demo root."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run(["sync"]) == 0
    capsys.readouterr()
    demo = tmp_path / "xdg-data" / "syncd" / "demo"
    assert (demo / ".syncd" / "index.db").is_file()
    return demo


SAYS_DEMO = "showing the demo mirror at {}; configure a root or an API key to sync your own\n"


@pytest.mark.parametrize("command", [["ls"], ["search", "session"], ["status"]])
def test_reading_commands_show_the_demo_mirror_a_first_sync_made(
    first_keyless_sync: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(command) == 0
    captured = capsys.readouterr()
    assert captured.err == SAYS_DEMO.format(first_keyless_sync)
    assert captured.out.strip()
    assert "run 'syncd sync" not in captured.out


def test_a_configured_root_or_key_never_shows_the_demo(
    first_keyless_sync: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCD_API_KEY", "k")
    assert run(["ls"]) == 2  # the default root holds no mirror: said as ever
    assert "No mirror at" in capsys.readouterr().err
    monkeypatch.delenv("SYNCD_API_KEY")
    monkeypatch.setenv("SYNCD_ROOT", str(tmp_path / "mine"))
    assert run(["status"]) == 0
    captured = capsys.readouterr()
    assert "demo" not in captured.err
    assert str(tmp_path / "mine") in captured.out
