"""`syncd sync --first QUERY` and sync.first over real HTTP: under a REST budget too small
for the whole backlog, the sessions the cloud's search finds are the ones written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from tests.integration.conftest import point_cli_at

GRAPHQL = "/api/v1/graphql"
# /projects and three listings, then room for exactly three bodies.
REST_LIMIT = 7


def _seed(server: DevServer) -> set[str]:
    """Twelve sessions over three projects; the three about zebras are in the last one
    (listed, and so fetched, last in the usual order). Returns their ids."""
    zebras: set[str] = set()
    for p, project in enumerate(("Alpha", "Beta", "Gamma")):
        project_id = server.add_project(project, project_id=f"proj_{p}")
        for n in range(4):
            about = "zebra crossing" if p == 2 and n < 3 else f"plain topic {p} {n}"
            session_id = server.put_session(
                project_id,
                session_id=f"5{p}{n}00000-0000-0000-0000-000000000000",
                name=f"Session {p}{n}",
                markdown=f"# Session {p}{n}\n\n_**User**_\n\n{about}\n",
            )
            if "zebra" in about:
                zebras.add(session_id)
    return zebras


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DevServer]:
    with DevServer(api_key="test-key", port=0, rate_limit=REST_LIMIT) as server:
        point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
        yield server


def _bodies(server: DevServer) -> list[str]:
    """The session ids whose body was fetched, in order."""
    return [
        r.path.rsplit("/", 1)[1]
        for r in server.requests
        if r.method == "GET" and r.path.count("/") == 6 and r.status == 200
    ]


def _mirrored_ids(root: Path) -> set[str]:
    return {
        line.split(":", 1)[1].strip().strip('"')
        for path in root.glob("*/*.md")
        if path.name != "INDEX.md"
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("id:")
    }


def test_without_first_the_budget_goes_to_the_first_projects(
    tight: DevServer, tmp_path: Path
) -> None:
    zebras = _seed(tight)
    assert run(["sync", "--once"]) == 1  # halted on the spent budget
    assert len(_bodies(tight)) == 3
    assert not set(_bodies(tight)) & zebras  # the baseline the next test departs from


def test_first_writes_the_matching_sessions_before_any_other(
    tight: DevServer, tmp_path: Path
) -> None:
    zebras = _seed(tight)
    assert run(["sync", "--once", "--first", "zebra"]) == 1  # halted on the spent budget
    assert set(_bodies(tight)) == zebras
    assert _mirrored_ids(tmp_path / "mirror") == zebras
    assert sum(r.path == GRAPHQL for r in tight.requests) == 1


def test_a_failing_search_leaves_the_usual_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DevServer(
        api_key="test-key", port=0, rate_limit=REST_LIMIT, graphql_rate_limit=0
    ) as server:
        point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
        zebras = _seed(server)
        assert run(["sync", "--once", "--first", "zebra"]) == 1
        assert len(_bodies(server)) == 3
        assert not set(_bodies(server)) & zebras
    assert "sync.first not applied" in capsys.readouterr().err


def test_the_setting_works_like_the_option_and_nothing_is_fetched_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYNCD_SYNC__FIRST", "zebra")
    with DevServer(api_key="test-key", port=0, rate_limit=None) as server:
        point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
        zebras = _seed(server)
        assert run(["sync", "--once"]) == 0
        fetched = _bodies(server)
        paths = [r.path for r in server.requests]
    # Bodies may be fetched a few ahead, at once, when the budget holds them all: the
    # order of the downloads is asserted under a tight budget (above); here, the query
    # went before any download, and every session came once.
    first_body = min(i for i, p in enumerate(paths) if p.count("/") == 6)
    assert paths.index(GRAPHQL) < first_body
    assert zebras <= set(fetched)
    assert len(fetched) == len(set(fetched)) == 12


def test_the_daemons_incremental_cycle_puts_them_first_too(tmp_path: Path) -> None:
    from syncd.cloud.budget import RateBudget
    from syncd.cloud.client import CloudClient
    from syncd.index.store import Store
    from syncd.mirror.writer import Mirror
    from syncd.sync.engine import SyncEngine
    from tests.integration.conftest import NO_WAIT

    # Twelve mirrored (/projects, three listings, twelve bodies), then one recent page and
    # room for three of the six new sessions.
    with DevServer(api_key="test-key", port=0, rate_limit=16 + 1 + 3) as server:
        for p in range(3):
            server.add_project(f"P{p}", project_id=f"proj_{p}")
            for n in range(4):
                server.put_session(f"proj_{p}", name=f"Old {p}{n}", markdown=f"# Old {p}{n}\n")
        root = tmp_path / "mirror"

        def engine(store: Store, client: CloudClient, first: str | None) -> SyncEngine:
            return SyncEngine(client, store, Mirror(root), first=first)

        client = CloudClient(
            server.url, "test-key", retry=NO_WAIT, budget=RateBudget(interactive=True)
        )
        with client, Store.open(f"sqlite:///{root / 'index.db'}") as store:
            assert engine(store, client, None).run_once().fetched == 12
            for n in range(3):
                server.put_session("proj_0", name=f"New plain {n}", markdown="# plain\n")
            zebras = {
                server.put_session("proj_2", name=f"Zebra {n}", markdown="# zebra\n")
                for n in range(3)
            }
            before = len(_bodies(server))
            report = engine(store, client, "zebra").run_incremental()
        assert report.halted is not None
        assert set(_bodies(server)[before:]) == zebras
