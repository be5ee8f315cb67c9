"""The devserver's listing shapes: pages linked by a cursor, short answers, repeated ids,
`/sessions/recent` as a bare array, and names JSON can hold but UTF-8 cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from syncd.devserver import DevServer, ListingShape
from tests.integration.conftest import FakeClock

API_KEY = "test-key"


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer(api_key=API_KEY, clock=FakeClock(), rate_limit=None) as running:
        yield running


@pytest.fixture
def client(server: DevServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=10) as http:
        yield http


def seven_sessions(server: DevServer) -> list[str]:
    server.add_project("Alpha", project_id="proj_a")
    return [
        server.put_session("proj_a", session_id=f"s{n}", name=f"session {n}", markdown="# x\n")
        for n in range(7)
    ]


def follow(client: httpx.Client, path: str, key: str, place: str = "data") -> list[list[str]]:
    """Every page's ids, following nextCursor from where `place` says it is."""
    pages: list[list[str]] = []
    params: dict[str, str] = {}
    while True:
        body = client.get(path, params=params).raise_for_status().json()
        pages.append([item["id"] for item in body["data"][key]])
        cursor = body["data"].get("nextCursor") if place == "data" else body.get("nextCursor")
        if cursor is None:
            return pages
        params = {"cursor": cursor}


def test_listings_are_whole_and_without_a_cursor_by_default(
    server: DevServer, client: httpx.Client
) -> None:
    seven_sessions(server)
    data = client.get("/projects/proj_a/sessions").json()["data"]
    assert len(data["sessions"]) == data["total"] == 7
    assert "nextCursor" not in data


@pytest.mark.parametrize("place", ["data", "top"])
def test_pages_link_by_next_cursor_sent_back_as_the_cursor_parameter(
    server: DevServer, client: httpx.Client, place: str
) -> None:
    ids = seven_sessions(server)
    server.shape_listings(ListingShape(page_size=3, cursor_in=place))  # type: ignore[arg-type]
    pages = follow(client, "/projects/proj_a/sessions", "sessions", place)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(sid for page in pages for sid in page) == sorted(ids)
    cursors = [r.query.get("cursor") for r in server.requests]
    assert cursors == [None, "page-3", "page-6"]


def test_projects_are_paged_too(server: DevServer, client: httpx.Client) -> None:
    for n in range(5):
        server.add_project(f"p{n}", project_id=f"proj_{n}")
    server.shape_listings(ListingShape(page_size=2))
    pages = follow(client, "/projects", "projects")
    assert pages == [["proj_0", "proj_1"], ["proj_2", "proj_3"], ["proj_4"]]
    assert client.get("/projects").json()["data"]["total"] == 5


def test_each_page_has_an_etag_of_its_own(server: DevServer, client: httpx.Client) -> None:
    seven_sessions(server)
    server.shape_listings(ListingShape(page_size=3))
    first = client.get("/projects/proj_a/sessions")
    second = client.get("/projects/proj_a/sessions", params={"cursor": "page-3"})
    assert first.headers["etag"] != second.headers["etag"]
    again = client.get(
        "/projects/proj_a/sessions", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_a_looping_cursor_leads_back_to_the_second_page_forever(
    server: DevServer, client: httpx.Client
) -> None:
    seven_sessions(server)
    server.shape_listings(ListingShape(page_size=3, looping_cursor=True))
    path = "/projects/proj_a/sessions"
    assert client.get(path).json()["data"]["nextCursor"] == "page-3"
    assert client.get(path, params={"cursor": "page-3"}).json()["data"]["nextCursor"] == "page-3"


@pytest.mark.parametrize("cursor", ["nonsense", "page-", "page-x"])
def test_a_cursor_the_server_never_gave_is_a_wrapped_400(
    server: DevServer, client: httpx.Client, cursor: str
) -> None:
    seven_sessions(server)
    server.shape_listings(ListingShape(page_size=3))
    response = client.get("/projects/proj_a/sessions", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_hidden_sessions_are_left_out_but_still_counted(
    server: DevServer, client: httpx.Client
) -> None:
    ids = seven_sessions(server)
    server.shape_listings(ListingShape(hidden=frozenset(ids[:2])))
    data = client.get("/projects/proj_a/sessions").json()["data"]
    assert {s["id"] for s in data["sessions"]} == set(ids[2:])
    assert data["total"] == 7
    recent = client.get("/sessions/recent", params={"limit": 100}).json()["data"]["sessions"]
    assert not {s["id"] for s in recent} & set(ids[:2])
    # Still there when asked for by id: only the listings leave them out.
    assert client.get(f"/projects/proj_a/sessions/{ids[0]}").status_code == 200


def test_hidden_projects_are_left_out_but_still_counted(
    server: DevServer, client: httpx.Client
) -> None:
    seven_sessions(server)
    server.add_project("Beta", project_id="proj_b")
    server.shape_listings(ListingShape(hidden=frozenset({"proj_a"})))
    data = client.get("/projects").json()["data"]
    assert [p["id"] for p in data["projects"]] == ["proj_b"]
    assert data["total"] == 2


def test_a_total_can_count_more_than_exist(server: DevServer, client: httpx.Client) -> None:
    seven_sessions(server)
    server.shape_listings(ListingShape(extra_total={"/projects/proj_a/sessions": 3}))
    data = client.get("/projects/proj_a/sessions").json()["data"]
    assert (len(data["sessions"]), data["total"]) == (7, 10)
    assert client.get("/projects").json()["data"]["total"] == 1
    server.shape_listings(ListingShape(extra_total={"/projects": 2}))
    assert client.get("/projects").json()["data"]["total"] == 3
    assert client.get("/projects/proj_a/sessions").json()["data"]["total"] == 7
    server.shape_listings(ListingShape(extra_total={"/projects/proj_a/sessions": -5}))
    assert client.get("/projects/proj_a/sessions").json()["data"]["total"] == 2


def test_duplicated_ids_repeat_identically_or_with_another_name(
    server: DevServer, client: httpx.Client
) -> None:
    ids = seven_sessions(server)
    duplicated = {ids[0]: "identical", ids[1]: "conflicting"}
    server.shape_listings(ListingShape(duplicated=duplicated))  # type: ignore[arg-type]
    data = client.get("/projects/proj_a/sessions").json()["data"]
    assert data["total"] == 7
    same = [s for s in data["sessions"] if s["id"] == ids[0]]
    assert len(same) == 2
    assert same[0] == same[1]
    other = [s for s in data["sessions"] if s["id"] == ids[1]]
    assert [s["name"] for s in other] == ["session 1", "session 1 (another copy)"]


def test_a_session_can_be_listed_under_a_second_project(
    server: DevServer, client: httpx.Client
) -> None:
    ids = seven_sessions(server)
    server.add_project("Beta", project_id="proj_b")
    server.shape_listings(ListingShape(also_listed_under={ids[0]: "proj_b"}))
    data = client.get("/projects/proj_b/sessions").json()["data"]
    assert [(s["id"], s["projectId"]) for s in data["sessions"]] == [(ids[0], "proj_a")]
    assert data["total"] == 1
    assert ids[0] in {
        s["id"] for s in client.get("/projects/proj_a/sessions").json()["data"]["sessions"]
    }


def test_recent_answers_in_each_shape(server: DevServer, client: httpx.Client) -> None:
    ids = set(seven_sessions(server))
    assert {
        s["id"] for s in client.get("/sessions/recent?limit=9").json()["data"]["sessions"]
    } == ids
    server.shape_listings(ListingShape(recent="data-array"))
    body = client.get("/sessions/recent?limit=9").json()
    assert body["success"] is True
    assert {s["id"] for s in body["data"]} == ids
    server.shape_listings(ListingShape(recent="bare-array"))
    assert {s["id"] for s in client.get("/sessions/recent?limit=9").json()} == ids


def test_a_lone_surrogate_in_a_name_goes_out_escaped(
    server: DevServer, client: httpx.Client
) -> None:
    server.add_project("bad \ud800 project", project_id="proj_s")
    server.put_session("proj_s", session_id="s\udfff", name="half \ud83d pair", markdown="# x\n")
    raw = client.get("/projects/proj_s/sessions").content
    assert b"\\ud83d" in raw
    assert b"s\\udfff" in raw
    assert json.loads(raw)["data"]["sessions"][0]["name"] == "half \ud83d pair"
    assert json.loads(client.get("/projects").content)["data"]["projects"][0]["name"] == (
        "bad \ud800 project"
    )


def test_shapes_reject_what_they_cannot_serve() -> None:
    with pytest.raises(ValueError, match="page_size"):
        ListingShape(page_size=0)
    with pytest.raises(ValueError, match="recent"):
        ListingShape(recent="naked")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicated"):
        ListingShape(duplicated={"x": "twice"})  # type: ignore[dict-item]
