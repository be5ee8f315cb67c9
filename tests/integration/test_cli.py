"""The `syncd` command end to end: environment in, exit code and one-line messages out."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import app, run
from syncd.devserver import DevServer
from tests.integration.test_sync import seed_two_projects


@pytest.fixture
def env_for(cli_root: Path) -> Path:
    return cli_root


def test_sync_once_prints_the_summary_and_exits_0(
    server: DevServer, env_for: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    out = capsys.readouterr().out
    assert "3 new, 0 updated, 0 unchanged, 0 failed" in out
    assert run(["sync", "--once"]) == 0
    assert "0 new, 0 updated, 3 unchanged, 0 failed" in capsys.readouterr().out


def test_a_failed_session_exits_1_and_the_rest_are_written(
    server: DevServer, env_for: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncd.devserver import Fault

    seed_two_projects(server)
    server.inject(Fault(kind="status", status=500, path="000000000003$", times=-1))
    assert run(["sync", "--once"]) == 1
    captured = capsys.readouterr()
    assert "2 new, 0 updated, 0 unchanged, 1 failed" in captured.out
    assert "000000000003" in captured.err


def test_rejected_key_exits_3_without_printing_it(
    server: DevServer,
    env_for: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCD_API_KEY", "sk-wrong-and-secret")
    assert run(["sync", "--once"]) == 3
    captured = capsys.readouterr()
    assert f"API key rejected by {server.url}" in captured.err
    assert "sk-wrong-and-secret" not in captured.out + captured.err


def test_bad_setting_exits_2_naming_it(
    env_for: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "-1")
    assert run(["sync", "--once"]) == 2
    err = capsys.readouterr().err
    assert "SYNCD_TIMEOUT_SECONDS" in err
    assert err.count("\n") == 1


def test_unreachable_server_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SYNCD_API_KEY", "k")
    monkeypatch.setenv("SYNCD_ROOT", str(tmp_path / "m"))
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("SYNCD_RETRY__BASE_DELAY_SECONDS", "0")
    code = run(["sync", "--once"])
    err = capsys.readouterr().err
    assert code == 4
    assert "unavailable at http://127.0.0.1:9" in err


def test_with_nothing_configured_the_demo_server_is_synced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sync", "--once"]) == 0
    captured = capsys.readouterr()
    assert "No API key configured" in captured.err
    assert "demo server" in captured.err
    assert "60 new" in captured.out
    demo_root = tmp_path / "xdg-data" / "syncd" / "demo"
    assert (demo_root / "README.md").is_file()


def test_demo_flag_syncs_the_demo_server_into_the_configured_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_ROOT", str(tmp_path / "demo"))
    monkeypatch.setenv("SYNCD_API_KEY", "sk-real-key-not-used")
    assert run(["sync", "--once", "--demo"]) == 0
    assert "60 new" in capsys.readouterr().out
    assert (tmp_path / "demo" / "README.md").is_file()


def test_missing_key_with_a_configured_root_never_fills_it_with_demo_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_ROOT", str(tmp_path / "real"))
    assert run(["sync", "--once"]) == 2
    assert "SYNCD_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "real").exists()


def test_missing_key_for_a_custom_server_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_BASE_URL", "http://127.0.0.1:9")
    assert run(["sync", "--once"]) == 2
    assert "SYNCD_API_KEY" in capsys.readouterr().err


def test_db_upgrade_reports_the_revision(env_for: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from syncd.index import migrate
    from syncd.index.store import Store

    assert run(["db", "upgrade"]) == 0
    with Store.open(f"sqlite:///{env_for / '.syncd' / 'index.db'}", migrate_schema=False) as s:
        head = migrate.head_revision(s.engine)
    assert f"upgraded from empty to {head}" in capsys.readouterr().out
    assert run(["db", "upgrade"]) == 0
    assert f"already at revision {head}" in capsys.readouterr().out


def test_every_command_has_help_text() -> None:
    import typer.main

    group = typer.main.get_group(app)
    commands = dict(group.commands)
    for name, command in commands.items():
        assert command.help, f"{name} has no help"
        sub = getattr(command, "commands", {})
        for sub_name, sub_command in sub.items():
            assert sub_command.help, f"{name} {sub_name} has no help"
    assert {"sync", "db", "devserver"} <= set(commands)


def test_dry_run_prints_the_changes_and_makes_none(
    server: DevServer, env_for: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("fetch  ") == 3
    assert "nothing was changed" in out
    assert not any(p.suffix == ".md" for p in env_for.rglob("*"))


def test_mass_delete_needs_the_flag(
    server: DevServer, env_for: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    server.delete_session("proj_app", "550e8400-0000-0000-0000-000000000001")
    server.delete_session("proj_app", "550e8401-0000-0000-0000-000000000002")
    capsys.readouterr()
    assert run(["sync", "--once"]) == 1
    assert "--allow-mass-delete" in capsys.readouterr().err
    assert run(["sync", "--once", "--allow-mass-delete"]) == 0
    assert "2 deleted" in capsys.readouterr().out
    assert len(list((env_for / ".trash").rglob("*.md"))) == 2
