"""`syncd brief`, `syncd push` and `syncd ls` through the CLI, against both local servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer, PullStoryServer
from syncd.index.store import PushState, Store
from tests.integration.conftest import point_cli_at
from tests.integration.test_push import TOKEN, session_markdown


@pytest.fixture
def servers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[DevServer, PullStoryServer]]:
    with (
        DevServer(api_key="k", port=0, rate_limit=None) as cloud,
        # Ready on the first poll: the CLI waits in real time, so keep it short.
        PullStoryServer(
            TOKEN, port=0, generation_seconds=None, generation_polls=1, estimated_seconds=1
        ) as stories,
    ):
        cloud.add_project("Tools", project_id="proj_tools")
        cloud.put_session(
            "proj_tools",
            session_id="00000000-aaaa",
            name="Fix the parser",
            markdown=session_markdown("parser"),
        )
        cloud.put_session(
            "proj_tools",
            session_id="00000001-bbbb",
            name="Just chatting",
            markdown="_**User**_\n\nWho invented the tootsie pop?\n\n_**Assistant**_\n\nNobody.\n",
        )
        point_cli_at(monkeypatch, cloud.url, "k", tmp_path / "mirror")
        monkeypatch.setenv("SYNCD_PULLSTORY__BASE_URL", stories.url)
        monkeypatch.setenv("SYNCD_PULLSTORY__API_KEY", TOKEN)
        assert run(["sync", "--once"]) == 0
        yield cloud, stories


def test_brief_prints_the_json_it_would_send(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["brief", "00000000"]) == 0
    brief = json.loads(capsys.readouterr().out)
    assert brief["title"] == "Fix the parser"
    assert any(f["path"] == "src/parser.py" for f in brief["files"])
    assert servers[1].requests == []


def test_brief_takes_the_mirrored_file_as_well_as_the_id(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (path,) = (tmp_path / "mirror").glob("*/*-00000000.md")
    capsys.readouterr()
    assert run(["brief", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Fix the parser"


def test_status_says_when_pushing_is_paused(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'mirror' / '.syncd' / 'index.db'}") as store:
        store.save_push_state(PushState(paused_reason="PullStory quota used up until June"))
    capsys.readouterr()
    run(["status"])
    assert "PAUSED: PullStory quota used up until June" in capsys.readouterr().out


def test_brief_explains_why_a_session_cannot_make_one(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["brief", "00000001"]) == 1
    assert "No PullStory brief for Just chatting" in capsys.readouterr().err


def test_push_wait_prints_the_story_url_and_ls_shows_it(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    path = next((tmp_path / "mirror" / "tools").glob("*00000000.md"))
    assert run(["push", str(path), "--wait"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ready: https://pullstory.com/s/brief_")
    url = out.split()[1]
    assert f"pullstory_url: {url}" in path.read_text()
    assert run(["ls"]) == 0
    assert url in capsys.readouterr().out
    assert run(["status"]) == 0
    assert "1 ready" in capsys.readouterr().out
    assert run(["push", "00000000"]) == 0  # the same brief: nothing is posted again
    assert sum(r.method == "POST" for r in servers[1].requests) == 1


def test_push_without_a_token_names_the_setting(
    servers: tuple[DevServer, PullStoryServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SYNCD_PULLSTORY__API_KEY")
    capsys.readouterr()
    assert run(["push", "00000000"]) == 2
    assert "SYNCD_PULLSTORY__API_KEY" in capsys.readouterr().err


def test_push_of_an_unknown_session_is_a_clear_error(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["push", "zzz"]) == 2
    assert "no mirrored session" in capsys.readouterr().err
