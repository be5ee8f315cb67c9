"""`syncd brief`, `syncd push` and `syncd ls` through the CLI, against both local servers."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.errors import EXIT_QUOTA, EXIT_UNAVAILABLE
from syncd.index.store import PushState, Store
from tests.fakes.pullstory import PullStoryServer
from tests.integration.conftest import point_cli_at
from tests.integration.test_push import TOKEN, seed_parser_session


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
        seed_parser_session(cloud)
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


# --- retries, the quota, an unreachable PullStory ---------------------------------------

SMALLER = "Story generation failed. Retry with a smaller brief."


def _index(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mirror' / '.syncd' / 'index.db'}"


def test_push_wait_on_spent_minutes_ends_at_once_with_the_reset_date_and_exit_7(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str]
) -> None:
    stories = servers[1]
    stories.exhaust_quota()
    capsys.readouterr()
    started = time.monotonic()
    assert run(["push", "00000000", "--wait"]) == EXIT_QUOTA == 7
    assert time.monotonic() - started < 5.0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "queued"
    period_end = str(stories.usage["period_end"])  # "2026-02-01T00:00:00Z"
    reset = period_end[:10] + " " + period_end[11:16] + " UTC"
    assert f"the period resets on {reset}" in err
    assert "minutes used up" in err
    assert "The brief stays queued" in err
    assert [r.status for r in stories.requests if r.method == "POST"] == [402]


def test_push_after_the_minutes_came_back_posts_at_once_despite_a_stored_pause(
    servers: tuple[DevServer, PullStoryServer], tmp_path: Path
) -> None:
    with Store.open(_index(tmp_path)) as store:
        later = time.time() + 3600
        store.save_push_state(PushState(paused_reason="used up", next_usage_check=later))
    # Posted, then still generating when --timeout ends it: the pause did not hold it.
    assert run(["push", "00000000", "--wait", "--timeout", "1"]) == 1
    assert [r.status for r in servers[1].requests if r.method == "POST"] == [202]
    with Store.open(_index(tmp_path)) as store:
        assert store.push_state().paused_reason is None


def test_push_of_a_story_that_failed_for_its_size_posts_a_smaller_brief_and_says_so(
    servers: tuple[DevServer, PullStoryServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from syncd.mirror.writer import Mirror
    from syncd.push.selection import enqueue, resolve_session

    with Store.open(_index(tmp_path)) as store:
        mirror = Mirror(tmp_path / "mirror")
        story = enqueue(store, mirror, resolve_session(store, mirror, "00000000"), "mark", 0.0)
        store.save_story(
            dataclasses.replace(story, status="failed", last_error=SMALLER, failures=1)
        )
    capsys.readouterr()
    assert run(["push", "00000000", "--wait", "--timeout", "1"]) == 1  # still generating
    out = capsys.readouterr().out
    assert f"The last story failed ({SMALLER}); retrying with a smaller brief: " in out
    assert "1 file instead of 2" in out
    (posted,) = [r.body for r in servers[1].requests if r.method == "POST"]
    assert isinstance(posted, dict)
    assert len(posted["files"]) == 1
    assert len(story.brief["files"]) == 2


def test_push_wait_against_a_pullstory_that_never_answers_ends_by_its_timeout(
    servers: tuple[DevServer, PullStoryServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        monkeypatch.setenv("SYNCD_PULLSTORY__BASE_URL", f"http://127.0.0.1:{port}/api/v1")
        capsys.readouterr()
        started = time.monotonic()
        assert run(["push", "00000000", "--wait", "--timeout", "1"]) == EXIT_UNAVAILABLE
        assert time.monotonic() - started < 10.0
    err = capsys.readouterr().err
    assert "Gave up waiting after" in err
    assert "PullStory unavailable" in err


def test_status_shows_the_pause_its_reason_and_the_next_look_at_the_usage(
    servers: tuple[DevServer, PullStoryServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = time.time()
    with Store.open(_index(tmp_path)) as store:
        store.save_push_state(
            PushState(
                paused_reason="PullStory minutes used up",
                paused_at=now - 60,
                next_usage_check=now + 120,
                resets_at=now + 86400,
            )
        )
    capsys.readouterr()
    assert run(["status"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("pullstory:"))
    assert "PAUSED: PullStory minutes used up (next look at the usage " in line
    assert "(in 2 min))" in line
    assert run(["status", "--json"]) == 0
    pullstory = json.loads(capsys.readouterr().out)["pullstory"]
    assert pullstory["paused"] == "PullStory minutes used up"
    assert pullstory["next_usage_check"].startswith(
        datetime.fromtimestamp(now + 120, UTC).strftime("%Y-%m-%dT%H:%M")
    )
    assert pullstory["resets_at"] is not None
