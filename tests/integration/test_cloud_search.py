"""`syncd search --cloud` over real HTTP against the devserver's GraphQL endpoint: hits
marked mirrored (with their file) or not mirrored yet, only the GraphQL budget spent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.errors import EXIT_UNAVAILABLE
from tests.integration.conftest import point_cli_at
from tests.integration.test_sync import seed_two_projects

GRAPHQL = "/api/v1/graphql"
NEW_ID = "550e8403-0000-0000-0000-000000000004"


@pytest.fixture
def tight_graphql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DevServer]:
    """A devserver allowing one GraphQL query an hour (REST unlimited), the CLI on it."""
    with DevServer(api_key="test-key", port=0, rate_limit=None, graphql_rate_limit=1) as server:
        point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
        yield server


def _add_unmirrored(server: DevServer) -> None:
    server.put_session(
        "proj_app",
        session_id=NEW_ID,
        name="Login retries",
        markdown="# Login retries\n\nback off on login failures\n",
        metadata={"tags": ["auth"]},
    )


def _rest_requests(server: DevServer, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests[since:] if r.path != GRAPHQL]


def test_hits_are_marked_mirrored_or_not_with_no_rest_request(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    _add_unmirrored(server)
    capsys.readouterr()
    before = len(server.requests)

    assert run(["search", "--cloud", "login", "--json"]) == 0

    rows = {row["id"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    mirrored = rows["550e8400-0000-0000-0000-000000000001"]
    assert mirrored["mirrored"] is True
    assert mirrored["project"] == "My App"
    assert Path(mirrored["path"]).read_text(encoding="utf-8").count("fix it") == 1
    assert rows[NEW_ID]["mirrored"] is False
    assert rows[NEW_ID]["path"] is None
    assert _rest_requests(server, before) == []
    assert [r.method for r in server.requests[before:]] == ["POST"]


def test_text_output_and_project_and_tag_filters(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    _add_unmirrored(server)
    capsys.readouterr()

    # --project by name, as everywhere else in the CLI; --tag repeatable.
    assert run(["search", "--cloud", "login", "--project", "my app", "--tag", "auth"]) == 0
    out = capsys.readouterr().out
    assert "My App / Login retries" in out
    assert "  not mirrored yet" in out
    assert "My App / Fix login" in out
    assert str(cli_root / "my-app") in out
    assert "Docs /" not in out


def test_works_without_a_mirror(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["search", "--cloud", "login"]) == 0
    out = capsys.readouterr().out
    assert "Fix login" in out
    assert "not mirrored yet" in out
    assert not cli_root.exists()  # a cloud search creates no mirror


def test_a_spent_graphql_budget_exits_4_and_rest_still_works(
    tight_graphql: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(tight_graphql)
    assert run(["sync", "--once"]) == 0
    assert run(["search", "--cloud", "login"]) == 0
    capsys.readouterr()

    assert run(["search", "--cloud", "login"]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "GraphQL budget spent" in err
    assert "Traceback" not in err
    # The spent budget was kept in the index: the second search sent nothing.
    assert sum(r.path == GRAPHQL for r in tight_graphql.requests) == 1

    # The GraphQL budget spent (and saved) holds no REST request back.
    tight_graphql.put_session("proj_docs", name="After", markdown="# After\n\nlater\n")
    assert run(["sync", "--once"]) == 0
    assert "1 new" in capsys.readouterr().out


def test_status_shows_the_graphql_budget_beside_the_rest_one(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(server)
    assert run(["sync", "--once"]) == 0
    assert run(["status"]) == 0
    assert "graphql budget" not in capsys.readouterr().out  # no query made yet

    assert run(["search", "--cloud", "login"]) == 0
    capsys.readouterr()
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "rate budget" in out
    assert "graphql budget: 499 of 500 left, resets at" in " ".join(out.split())
    assert run(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["graphql_budget"]["limit"] == 500
    assert report["graphql_budget"]["remaining"] == 499
    assert report["budget"]["limit"] != report["graphql_budget"]["limit"]


def test_limit_beyond_the_api_cap_is_a_usage_error(
    server: DevServer, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["search", "--cloud", "x", "--limit", "201"]) == 2
    assert "at most 200" in capsys.readouterr().err
    assert server.requests == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"errors": [{"message": "Cannot query field \\"bogus\\""}], "data": null}', "bogus"),
        (b'{"data": null}', "GraphQL answer has no data"),
        (b"<html>busy</html>", "not JSON"),
        (b'{"data": {"searchSessions": {"total": 1, "results": 7}}}', "is not a list"),
        (b'{"data": {"searchSessions": {"results": [{"name": "x"}]}}}', "has no id"),
    ],
)
def test_a_bad_answer_is_one_line_and_exit_4(
    server: DevServer,
    cli_root: Path,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    said: str,
) -> None:
    from syncd.devserver import Fault

    server.inject(Fault(kind="body", path="graphql$", body=body))
    assert run(["search", "--cloud", "login"]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
