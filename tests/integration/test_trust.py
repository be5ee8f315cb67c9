"""Configuration you can trust, secrets that never leak: the `syncd` command end to end.

A folder someone else wrote (its `.env`) changes nothing, plain http:// is refused off this
machine, credentials in URLs are never shown, git and its hooks never see the keys, and a
key file others can read is warned about.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.devserver import DevServer
from syncd.errors import AuthError
from tests.integration.conftest import point_cli_at
from tests.integration.test_sync import seed_two_projects

#: Distinctive enough that finding it anywhere means it leaked.
CLOUD_KEY = "sk-trust-7f3a9c2e51d84b06"
PULLSTORY_KEY = "ps_live_trust_4c8e1a7b2d9f"
PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer(api_key=CLOUD_KEY, port=0, rate_limit=None) as running:
        yield running


@pytest.fixture
def collector() -> Iterator[DevServer]:
    """Where a hostile .env would send the key: it must never hear from syncd."""
    with DevServer(api_key="anything", port=0, rate_limit=None) as running:
        yield running


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def quiet_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration (hooks paths, signing) reaches the tests."""
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


# -- a .env in the working directory ------------------------------------------------------


def test_a_hostile_dotenv_in_the_working_directory_changes_nothing(
    server: DevServer,
    collector: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_two_projects(server)
    root = tmp_path / "mirror"
    config = tmp_path / "syncd.toml"
    config.write_text(
        f'base_url = "{server.url}"\n'
        f'root = "{root}"\n'
        f'api_key_command = "echo {CLOUD_KEY}"\n'
        "[retry]\nbase_delay_seconds = 0\n"
    )
    checkout = tmp_path / "someone-elses-checkout"
    checkout.mkdir()
    marker = tmp_path / "hostile-command-ran"
    (checkout / ".env").write_text(
        f"SYNCD_BASE_URL={collector.url}\n"
        f"SYNCD_API_KEY_COMMAND=touch {marker}; echo stolen\n"
        f"SYNCD_ROOT={tmp_path / 'moved'}\n"
        f"SYNCD_GIT__ENABLED=true\n"
        f"SYNCD_GIT__REMOTE={tmp_path / 'their.git'}\n"
        f"SYNCD_PULLSTORY__BASE_URL={collector.url}\n"
    )
    monkeypatch.chdir(checkout)

    assert run(["--config", str(config), "sync", "--once"]) == 0

    assert "3 new, 0 updated, 0 unchanged, 0 failed" in capsys.readouterr().out
    assert len(list(root.glob("*/*.md"))) == 5  # three sessions, two INDEX.md
    assert collector.requests == []
    assert server.requests
    assert not marker.exists()
    assert not (tmp_path / "moved").exists()
    assert not (root / ".git").exists()


# -- plain http and credentials in URLs ---------------------------------------------------


@pytest.mark.parametrize("allowed", [None, '["example.invalid"]'])
@pytest.mark.parametrize("command", [["sync", "--once"], ["doctor"], ["status"]])
def test_credentials_in_a_plain_http_base_url_exit_2_without_being_shown(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    allowed: str | None,
) -> None:
    point_cli_at(monkeypatch, f"http://user:{PASSWORD}@example.invalid", "k", tmp_path / "m")
    if allowed is not None:
        monkeypatch.setenv("SYNCD_ALLOW_INSECURE_HTTP", allowed)

    assert run(command) == 2

    captured = capsys.readouterr()
    assert "SYNCD_BASE_URL" in captured.out + captured.err
    assert PASSWORD not in captured.out + captured.err


def test_plain_http_off_this_machine_exits_2_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    point_cli_at(monkeypatch, "http://sync.example.invalid", "k", tmp_path / "m")

    assert run(["sync", "--once"]) == 2

    assert capsys.readouterr().err == (
        "error: Configuration error in SYNCD_BASE_URL: plain http:// to sync.example.invalid "
        "would send the API key unencrypted; use https://, or, where the network on the way is "
        'trusted, allow the host by name: allow_insecure_http = ["sync.example.invalid"]\n'
    )
    assert not (tmp_path / "m").exists()


def test_a_client_given_credentials_in_its_url_never_shows_them(server: DevServer) -> None:
    # The settings refuse such a URL; the client is an adapter and must not rely on that.
    with_password = server.url.replace("http://", f"http://bot:{PASSWORD}@")
    client = CloudClient(with_password, CLOUD_KEY, retry=RetryPolicy(attempts=1))
    with client, pytest.raises(AuthError) as caught:  # the password replaced the key
        client.list_projects()
    assert PASSWORD not in caught.value.message
    assert PASSWORD not in client.session_url("proj", "sid")
    assert "http://***@127.0.0.1" in caught.value.message


def test_a_remotes_password_is_never_shown_or_stored(
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    quiet_git: None,
) -> None:
    seed_two_projects(server)
    root = point_cli_at(monkeypatch, server.url, CLOUD_KEY, tmp_path / "mirror")
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    remote = tmp_path / "remote.git"
    monkeypatch.setenv("SYNCD_GIT__REMOTE", f"file://bot:{PASSWORD}@localhost{remote}")

    assert run(["sync", "--once"]) == 0  # the remote is missing: the push fails
    subprocess.run(["git", "init", "--bare", "--quiet", str(remote)], check=True)
    assert run(["status"]) == 0
    assert run(["sync", "--once"]) == 0  # nothing new: the failed push is tried again
    assert run(["status", "--json"]) == 0
    assert run(["doctor"]) == 0

    captured = capsys.readouterr()
    assert "git push failed" in captured.err
    assert f"git: pushed to file://***@localhost{remote}" in captured.err
    assert PASSWORD not in captured.out + captured.err
    assert git(remote, "rev-list", "--count", "HEAD").strip() == "1"
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "index.db" for p in stored)
    assert not [p for p in stored if PASSWORD.encode() in p.read_bytes()]


# -- what git children see ----------------------------------------------------------------


def install_env_dump(repo: Path, hook: str, dump: Path) -> None:
    path = repo / ".git" / "hooks" / hook
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nenv >> '{dump}'\nexit 0\n")
    path.chmod(0o755)


def test_git_hooks_and_push_never_see_the_keys(
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    quiet_git: None,
) -> None:
    seed_two_projects(server)
    root = point_cli_at(monkeypatch, server.url, CLOUD_KEY, tmp_path / "mirror")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(remote)], check=True)
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    monkeypatch.setenv("SYNCD_GIT__REMOTE", str(remote))
    monkeypatch.setenv("SYNCD_PULLSTORY__API_KEY", PULLSTORY_KEY)
    monkeypatch.setenv("syncd_log_level", "INFO")  # read case-insensitively: withheld too
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    dump = tmp_path / "hook-environment"
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push"):
        install_env_dump(root, hook, dump)
    install_env_dump(remote, "pre-receive", dump)

    assert run(["sync", "--once"]) == 0

    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(remote, "rev-list", "--count", "HEAD").strip() == "1"  # the push landed
    seen = dump.read_text()
    names = {line.split("=", 1)[0] for line in seen.splitlines() if "=" in line}
    assert "PATH" in names  # every hook ran with a usable environment
    assert seen.count("GIT_LITERAL_PATHSPECS=1") >= 4  # and with syncd's own git settings
    assert not [name for name in names if name.upper().startswith("SYNCD_")]
    assert "NOTIFY_SOCKET" not in names
    assert CLOUD_KEY not in seen
    assert PULLSTORY_KEY not in seen


def test_an_inherited_repository_location_never_takes_syncds_commits(
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    quiet_git: None,
) -> None:
    # As when syncd is started from another repository's hook or alias.
    seed_two_projects(server)
    root = point_cli_at(monkeypatch, server.url, CLOUD_KEY, tmp_path / "mirror")
    other = tmp_path / "other"
    subprocess.run(["git", "init", "--quiet", str(other)], check=True)
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))

    assert run(["sync", "--once"]) == 0

    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    other_head = subprocess.run(
        ["git", "-C", str(other), "rev-parse", "--verify", "--quiet", "HEAD"],
        capture_output=True,
        check=False,
    )
    assert other_head.returncode != 0  # not one commit landed there
    assert not (other / ".git" / "index").exists()


# -- key files ------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False), (0o400, False)])
def test_a_key_file_others_can_read_is_warned_about_once(
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: int,
    warned: bool,
) -> None:
    seed_two_projects(server)
    point_cli_at(monkeypatch, server.url, CLOUD_KEY, tmp_path / "mirror")
    key_file = tmp_path / "specstory-key"
    key_file.write_text(CLOUD_KEY + "\n")
    key_file.chmod(mode)
    monkeypatch.delenv("SYNCD_API_KEY")
    monkeypatch.setenv("SYNCD_API_KEY_FILE", str(key_file))

    assert run(["sync", "--once"]) == 0  # a warning, not a refusal

    err = capsys.readouterr().err
    warning = (
        f"WARNING syncd.config: SYNCD_API_KEY_FILE: {key_file} is accessible to other users "
        f"(mode 0644); anyone who can read it can use the key. Fix: chmod 600 {key_file}\n"
    )
    assert err.count(warning) == (1 if warned else 0)
    assert err.count("accessible to other users") == (1 if warned else 0)
    assert CLOUD_KEY not in err
