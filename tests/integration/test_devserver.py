"""The devserver speaks the SpecStory Cloud REST protocol over real loopback HTTP."""

from __future__ import annotations

import dataclasses
import re
import socket
import statistics
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import httpx
import pytest

from syncd.devserver import DevServer, Fault, RequestRecord
from tests.integration.conftest import FakeClock

API_KEY = "test-key"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "specstory"
SUMMARY_FIELDS = {
    "id", "projectId", "name", "markdownSize", "rawDataSize", "createdAt", "updatedAt",
    "startedAt", "endedAt", "metadata", "etag",
}  # fmt: skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[DevServer]:
    with DevServer(api_key=API_KEY, clock=clock, rate_limit=None) as running:
        yield running


def api_client(server: DevServer, key: str | None = API_KEY) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=10)


@pytest.fixture
def client(server: DevServer) -> Iterator[httpx.Client]:
    with api_client(server) as http:
        yield http


@pytest.fixture
def one(server: DevServer) -> tuple[str, str]:
    """A project holding one session with non-ASCII Markdown."""
    project_id = server.add_project("demo", project_id="proj_demo")
    session_id = server.put_session(
        project_id,
        name="Fix the café bug",
        markdown="# Fix the café bug\n\n_**User (2026-01-01 00:00:00Z)**_\n\nWhy? 🚀\n",
        session_id="11111111-2222-4333-8444-555555555555",
        started_at="2026-01-01T00:00:00Z",
    )
    return project_id, session_id


def session_path(ids: tuple[str, str]) -> str:
    return f"/projects/{ids[0]}/sessions/{ids[1]}"


# Authentication and envelopes


def test_missing_key_is_401_with_the_wrapped_error(server: DevServer) -> None:
    with api_client(server, key=None) as anonymous:
        response = anonymous.get("/projects")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "Invalid or missing authentication token",
    }


def test_wrong_key_is_401_and_logged_as_unauthorized(server: DevServer) -> None:
    with api_client(server, key="not-the-key") as stranger:
        assert stranger.get("/projects").status_code == 401
    assert server.requests[-1].authorized is False
    assert server.requests[-1].status == 401


def test_projects_list_is_wrapped_with_projects_and_total(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    body = client.get("/projects").json()
    assert body["success"] is True
    assert body["data"]["total"] == 1
    project = body["data"]["projects"][0]
    assert set(project) == {"id", "ownerId", "name", "icon", "color", "createdAt", "updatedAt"}
    assert project["id"] == "proj_demo"
    assert ISO_MS.match(project["createdAt"])


def test_session_summaries_carry_every_field_and_a_byte_size(
    client: httpx.Client, one: tuple[str, str], server: DevServer
) -> None:
    data = client.get(f"/projects/{one[0]}/sessions").json()["data"]
    assert data["projectId"] == one[0]
    assert data["total"] == 1
    (summary,) = data["sessions"]
    assert set(summary) == SUMMARY_FIELDS
    markdown = client.get(session_path(one), headers={"Accept": "text/markdown"}).content
    assert summary["markdownSize"] == len(markdown) != len(markdown.decode())
    assert summary["startedAt"] == "2026-01-01T00:00:00.000Z"
    assert summary["endedAt"] is None
    assert all(ISO_MS.match(summary[key]) for key in ("createdAt", "updatedAt"))
    assert set(summary["metadata"]) >= {"clientName", "gitBranches", "llmModels", "tags"}


def test_session_detail_json_holds_content_and_project(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    response = client.get(session_path(one))
    assert response.headers["content-type"].startswith("application/json")
    session = response.json()["data"]["session"]
    assert "etag" not in session
    assert session["markdownContent"].startswith("# Fix the café bug")
    assert session["project"] == {"id": one[0], "name": "demo", "icon": None, "color": None}
    assert set(session) == SUMMARY_FIELDS - {"etag"} | {"markdownContent", "project"}


def test_accept_markdown_returns_the_raw_bytes(client: httpx.Client, one: tuple[str, str]) -> None:
    response = client.get(session_path(one), headers={"Accept": "text/markdown"})
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.content.decode("utf-8").endswith("Why? 🚀\n")
    assert response.headers["content-length"] == str(len(response.content))


def test_session_get_carries_weak_etag_and_last_modified(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    response = client.get(session_path(one))
    etag = response.headers["etag"]
    assert re.fullmatch(r'W/"[0-9a-f]+-[0-9a-f]+"', etag)
    listed = client.get(f"/projects/{one[0]}/sessions").json()["data"]["sessions"][0]
    assert listed["etag"] == etag
    assert response.headers["last-modified"] == "Thu, 01 Jan 2026 00:00:00 GMT"


def test_head_sends_the_get_headers_without_a_body(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    get = client.get(session_path(one), headers={"Accept": "text/markdown"})
    head = client.head(session_path(one), headers={"Accept": "text/markdown"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]
    assert "last-modified" in head.headers


def test_head_tells_the_markdown_size_of_either_representation(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    markdown = client.get(session_path(one), headers={"Accept": "text/markdown"}).content
    head = client.head(session_path(one))  # JSON by default: still the Markdown's size
    assert head.headers["x-markdown-size"] == str(len(markdown))
    assert "x-session-data-size" not in head.headers  # no raw data was sent


def test_head_tells_the_session_data_size_when_raw_data_was_sent(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    client.put(
        session_path(one), json={"name": "n", "markdown": "# m\n", "rawData": '{"é": 1}'}
    ).raise_for_status()
    head = client.head(session_path(one))
    assert head.headers["x-markdown-size"] == "4"
    assert head.headers["x-session-data-size"] == str(len('{"é": 1}'.encode()))


def test_unknown_project_and_session_are_wrapped_404s(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    for path in ("/projects/nope/sessions", f"/projects/{one[0]}/sessions/nope", "/elsewhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["success"] is False


def test_unsupported_method_is_405_naming_the_allowed_ones(client: httpx.Client) -> None:
    response = client.post("/projects")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["success"] is False


def test_malformed_request_line_gets_a_wrapped_400(server: DevServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GET /api/v1/projects extra HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"X-RateLimit-Remaining" in head
    assert body.startswith(b'{"success":false')


def test_keep_alive_serves_many_requests_on_one_connection(
    server: DevServer, one: tuple[str, str]
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        connection.request("GET", "/api/v1/projects", headers=headers)
        connection.getresponse().read()
        first_socket = connection.sock
        connection.request("GET", f"/api/v1{session_path(one)}", headers=headers)
        assert connection.getresponse().status == 200
        assert connection.sock is first_socket
    finally:
        connection.close()


# Conditional requests


def test_exact_etag_gives_304_without_body_but_with_etag_and_rate_headers(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    etag = client.get(session_path(one)).headers["etag"]
    response = client.get(session_path(one), headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert all(name in response.headers for name in RATE_HEADERS)


def test_strong_form_of_a_weak_etag_still_matches(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    etag = client.get(session_path(one)).headers["etag"]
    strong = etag.removeprefix("W/")
    assert client.get(session_path(one), headers={"If-None-Match": strong}).status_code == 304
    assert client.head(session_path(one), headers={"If-None-Match": strong}).status_code == 304


def test_etag_list_matches_when_any_member_matches(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    etag = client.get(session_path(one)).headers["etag"]
    listed = f'"other", W/"stale-1", {etag}'
    assert client.get(session_path(one), headers={"If-None-Match": listed}).status_code == 304


def test_star_matches_an_existing_session(client: httpx.Client, one: tuple[str, str]) -> None:
    assert client.get(session_path(one), headers={"If-None-Match": "*"}).status_code == 304


def test_stale_etag_gets_the_full_body(client: httpx.Client, one: tuple[str, str]) -> None:
    response = client.get(session_path(one), headers={"If-None-Match": 'W/"0-stale"'})
    assert response.status_code == 200
    assert response.json()["success"] is True


@pytest.mark.parametrize("path", ["/projects", "/projects/proj_demo/sessions", "/sessions/recent"])
def test_list_endpoints_answer_304_to_their_own_etag(
    client: httpx.Client, one: tuple[str, str], path: str
) -> None:
    etag = client.get(path).headers["etag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_listing_etag_changes_when_a_session_changes(
    client: httpx.Client, one: tuple[str, str], server: DevServer
) -> None:
    path = f"/projects/{one[0]}/sessions"
    etag = client.get(path).headers["etag"]
    server.rename_session(*one, "renamed")
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 200


def test_putting_identical_content_keeps_etag_and_updated_at(
    client: httpx.Client, one: tuple[str, str], server: DevServer, clock: FakeClock
) -> None:
    before = client.get(session_path(one)).json()["data"]["session"]
    etag = client.get(session_path(one)).headers["etag"]
    clock.advance(60)
    markdown = before["markdownContent"]
    server.put_session(one[0], session_id=one[1], name=before["name"], markdown=markdown)
    after = client.get(session_path(one))
    assert after.headers["etag"] == etag
    assert after.json()["data"]["session"]["updatedAt"] == before["updatedAt"]


@pytest.mark.parametrize("change", ["markdown", "name", "metadata"])
def test_a_real_change_moves_etag_and_updated_at_to_the_clock(
    client: httpx.Client, one: tuple[str, str], server: DevServer, clock: FakeClock, change: str
) -> None:
    etag = client.get(session_path(one)).headers["etag"]
    clock.advance(90.5)
    if change == "markdown":
        server.put_session(one[0], session_id=one[1], name="Fix the café bug", markdown="new")
    elif change == "name":
        server.rename_session(*one, "A new name")
    else:
        server.put_session(
            one[0], session_id=one[1], name="Fix the café bug",
            markdown=client.get(session_path(one), headers={"Accept": "text/markdown"}).content,
            metadata={"tags": ["moved"]},
        )  # fmt: skip
    response = client.get(session_path(one))
    assert response.headers["etag"] != etag
    assert response.json()["data"]["session"]["updatedAt"] == "2026-01-01T00:01:30.500Z"


def test_same_size_edit_at_the_same_instant_still_changes_the_etag(
    client: httpx.Client, server: DevServer
) -> None:
    project_id = server.add_project("p")
    session_id = server.put_session(project_id, name="n", markdown="aaaa")
    etag = client.get(f"/projects/{project_id}/sessions/{session_id}").headers["etag"]
    server.put_session(project_id, session_id=session_id, name="n", markdown="bbbb")
    assert client.get(f"/projects/{project_id}/sessions/{session_id}").headers["etag"] != etag


# Recent sessions


def test_recent_lists_most_recently_updated_first_and_honours_limit(
    client: httpx.Client, server: DevServer, clock: FakeClock
) -> None:
    alpha, beta = server.add_project("alpha"), server.add_project("beta")
    ids = []
    for index in range(7):
        clock.advance(1)
        ids.append(server.put_session((alpha, beta)[index % 2], name=f"s{index}", markdown="x"))
    clock.advance(1)
    server.rename_session(alpha, ids[0], "touched last")
    default = client.get("/sessions/recent").json()["data"]["sessions"]
    assert [s["id"] for s in default] == [ids[0], ids[6], ids[5], ids[4], ids[3]]
    assert all("etag" not in s for s in default)
    two = client.get("/sessions/recent", params={"limit": 2}).json()["data"]["sessions"]
    assert [s["id"] for s in two] == [ids[0], ids[6]]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "2.5"])
def test_recent_rejects_a_limit_outside_1_to_100(client: httpx.Client, limit: str) -> None:
    response = client.get("/sessions/recent", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_recent_can_include_etags_when_configured(clock: FakeClock) -> None:
    with DevServer(api_key=API_KEY, clock=clock, recent_includes_etag=True) as server:
        server.put_session(server.add_project("p"), name="n", markdown="m")
        with api_client(server) as http:
            (summary,) = http.get("/sessions/recent").json()["data"]["sessions"]
    assert summary["etag"].startswith('W/"')


# Writes


def test_put_over_http_creates_a_session_and_returns_its_etag(
    client: httpx.Client, server: DevServer
) -> None:
    payload = {"projectName": "new", "name": "written", "markdown": "# hi ✓", "rawData": "{}"}
    response = client.put("/projects/proj_new/sessions/abc", json=payload)
    assert response.status_code == 200
    assert response.json()["data"]["sessionId"] == "abc"
    detail = client.get("/projects/proj_new/sessions/abc")
    assert detail.headers["etag"] == response.headers["etag"]
    assert detail.json()["data"]["session"]["markdownContent"] == "# hi ✓"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"name": "x"}', b'{"name": 1, "markdown": "m"}']
)
def test_put_with_a_bad_body_is_a_wrapped_400(
    client: httpx.Client, one: tuple[str, str], body: bytes
) -> None:
    response = client.put(session_path(one), content=body)
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_patch_renames_and_delete_removes_a_project(
    client: httpx.Client, one: tuple[str, str]
) -> None:
    patched = client.patch(f"/projects/{one[0]}", json={"name": "renamed", "color": "#fff"})
    assert patched.json()["data"]["name"] == "renamed"
    assert client.get(session_path(one)).json()["data"]["session"]["project"]["color"] == "#fff"
    deleted = client.delete(f"/projects/{one[0]}")
    assert deleted.json()["data"]["deletedProject"]["id"] == one[0]
    assert client.get(f"/projects/{one[0]}/sessions").status_code == 404


def test_delete_removes_a_session(client: httpx.Client, one: tuple[str, str]) -> None:
    assert client.delete(session_path(one)).status_code == 200
    assert client.get(session_path(one)).status_code == 404


def test_large_session_streams_exactly_its_size(client: httpx.Client, server: DevServer) -> None:
    project_id = server.add_project("big")
    size = 8 * 1024 * 1024 + 7
    session_id = server.add_large_session(project_id, size)
    path = f"/projects/{project_id}/sessions/{session_id}"
    received = 0
    with client.stream("GET", path, headers={"Accept": "text/markdown"}) as response:
        assert response.headers["content-length"] == str(size)
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received == size
    session = client.get(path).json()["data"]["session"]
    assert len(session["markdownContent"].encode()) == session["markdownSize"] == size


# Rate limits


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[DevServer]:
    with DevServer(api_key=API_KEY, clock=clock, rate_limit=5, window_seconds=3600) as running:
        yield running


def test_every_status_carries_rate_headers_and_every_request_counts(
    limited: DevServer,
) -> None:
    project_id = limited.add_project("p", project_id="p")
    session_id = limited.put_session(project_id, name="n", markdown="m")
    path = f"/projects/{project_id}/sessions/{session_id}"
    with api_client(limited) as http, api_client(limited, key=None) as anonymous:
        etag = http.get(path).headers["etag"]
        responses = [
            http.get(path, headers={"If-None-Match": etag}),
            anonymous.get(path),
            http.get("/projects/missing/sessions"),
            http.post("/projects"),
            http.get(path),
        ]
    assert [r.status_code for r in responses] == [304, 401, 404, 405, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["3", "2", "1", "0", "0"]
    for response in responses:
        assert response.headers["x-ratelimit-limit"] == "5"
        assert response.headers["x-ratelimit-reset"] == str(int(START) + 3600)


def test_over_the_limit_is_429_with_retry_after_from_the_clock(
    limited: DevServer, clock: FakeClock
) -> None:
    with api_client(limited) as http:
        for _ in range(5):
            assert http.get("/projects").status_code == 200
        clock.advance(1000)
        refused = http.get("/projects")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2600"
    assert refused.json() == {
        "success": False,
        "error": "Rate limit of 5 requests exceeded; retry in 2600 s",
    }
    assert limited.requests[-1].status == 429


def test_window_resets_once_the_clock_passes_the_reset_time(
    limited: DevServer, clock: FakeClock
) -> None:
    with api_client(limited) as http:
        for _ in range(6):
            http.get("/projects")
        clock.advance(3600)
        again = http.get("/projects")
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining"] == "4"
    assert again.headers["x-ratelimit-reset"] == str(int(START) + 7200)


def test_unlimited_server_never_refuses_but_still_sends_headers(
    client: httpx.Client,
) -> None:
    for _ in range(20):
        response = client.get("/projects")
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit"] == "1000000"
    assert response.headers["x-ratelimit-remaining"] == str(1_000_000 - 20)


# Faults


def test_status_fault_answers_wrapped_errors_for_its_times_then_recovers(
    client: httpx.Client, server: DevServer
) -> None:
    server.inject(Fault("status", path=r"/projects$", status=503, times=2))
    first, second, third = (client.get("/projects") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json()["success"] is False
    assert "x-ratelimit-remaining" in first.headers


def test_fault_with_a_method_leaves_other_methods_alone(
    client: httpx.Client, server: DevServer, one: tuple[str, str]
) -> None:
    server.inject(Fault("status", method="HEAD", times=-1))
    assert client.get(session_path(one)).status_code == 200
    assert client.head(session_path(one)).status_code == 500
    assert client.head(session_path(one)).status_code == 500
    server.clear_faults()
    assert client.head(session_path(one)).status_code == 200


def test_latency_fault_delays_then_answers_normally(
    client: httpx.Client, server: DevServer
) -> None:
    server.inject(Fault("latency", delay=0.05))
    started = time.monotonic()
    response = client.get("/projects")
    assert time.monotonic() - started >= 0.05
    assert response.status_code == 200


def test_reset_fault_drops_the_connection_without_a_response(
    client: httpx.Client, server: DevServer
) -> None:
    server.inject(Fault("reset"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get("/projects")
    assert server.requests[-1].status == 0
    assert client.get("/projects").status_code == 200


def test_truncate_fault_sends_half_the_announced_body(
    client: httpx.Client, server: DevServer, one: tuple[str, str]
) -> None:
    server.inject(Fault("truncate", path="/sessions/"))
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        client.get(session_path(one), headers={"Accept": "text/markdown"})
    assert client.get(session_path(one)).status_code == 200


def test_oversize_fault_serves_more_bytes_than_markdown_size(
    client: httpx.Client, server: DevServer, one: tuple[str, str]
) -> None:
    listed = client.get(f"/projects/{one[0]}/sessions").json()["data"]["sessions"][0]
    server.inject(Fault("oversize", times=2, body=b"EXTRA"))
    raw = client.get(session_path(one), headers={"Accept": "text/markdown"})
    detail = client.get(session_path(one)).json()["data"]["session"]
    assert len(raw.content) == listed["markdownSize"] + 5 == int(raw.headers["content-length"])
    assert raw.content.endswith(b"EXTRA")
    assert detail["markdownContent"].endswith("EXTRA")
    assert detail["markdownSize"] == listed["markdownSize"]


def test_oversize_fault_waits_for_a_session_request(
    client: httpx.Client, server: DevServer, one: tuple[str, str]
) -> None:
    server.inject(Fault("oversize", body=b"!"))
    assert client.get("/projects").status_code == 200
    raw = client.get(session_path(one), headers={"Accept": "text/markdown"}).content
    assert raw.endswith(b"!")


def test_body_fault_answers_200_with_exactly_those_bytes(
    client: httpx.Client, server: DevServer
) -> None:
    server.inject(Fault("body", body=b'{"success": true, "data": {'))
    response = client.get("/projects")
    assert response.status_code == 200
    assert response.content == b'{"success": true, "data": {'


def test_faults_do_not_fire_for_unauthorized_requests(server: DevServer) -> None:
    server.inject(Fault("status", status=500))
    with api_client(server, key=None) as anonymous, api_client(server) as http:
        assert anonymous.get("/projects").status_code == 401
        assert http.get("/projects").status_code == 500


def test_fault_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")  # type: ignore[arg-type]


# Request log


def test_request_log_records_each_request_as_seen(
    client: httpx.Client, server: DevServer, one: tuple[str, str]
) -> None:
    server.clear_requests()
    client.get("/sessions/recent", params={"limit": "3"})
    client.get(session_path(one), headers={"If-None-Match": '"x"', "Accept": "text/markdown"})
    assert [dataclasses.replace(r, at=0.0) for r in server.requests] == [
        RequestRecord(
            "GET",
            "/api/v1/sessions/recent",
            {"limit": "3"},
            200,
            None,
            "*/*",
            True,
            "gzip, deflate",
        ),
        RequestRecord(
            "GET",
            f"/api/v1{session_path(one)}",
            {},
            200,
            '"x"',
            "text/markdown",
            True,
            "gzip, deflate",
        ),
    ]
    snapshot = server.requests
    client.get("/projects")
    assert len(snapshot) == 2


# Seeding


def test_seed_from_folder_makes_one_project_per_folder_with_stable_ids(
    tmp_path: Path, clock: FakeClock
) -> None:
    alpha = tmp_path / "alpha"
    history = tmp_path / "beta" / ".specstory" / "history"
    alpha.mkdir()
    history.mkdir(parents=True)
    (alpha / "2025-07-19_23-13Z-who-invented.md").write_text(
        "<!-- Generated by SpecStory -->\n\n# Who invented the Tootsie Pop? (2025-07-19 23:13Z)\n"
    )
    (alpha / "2026-01-16_16-46-41Z-command-name-exit.md").write_text(
        "<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n# 2026-01-16 16:46:41Z\n"
    )
    (history / "untitled.md").write_bytes(b"## SpecStory\n\n")
    (tmp_path / "stray.md").write_text("# not in a project\n")

    def listing() -> dict[str, list[tuple[str, str, str]]]:
        with DevServer(api_key=API_KEY, clock=clock) as server:
            assert server.seed_from_folder(tmp_path) == 3
            with api_client(server) as http:
                projects = http.get("/projects").json()["data"]["projects"]
                return {
                    p["name"]: sorted(
                        (s["id"], s["name"], s["startedAt"])
                        for s in http.get(f"/projects/{p['id']}/sessions").json()["data"][
                            "sessions"
                        ]
                    )
                    for p in projects
                }

    first = listing()
    assert first == listing()
    assert sorted(first) == ["alpha", "beta"]
    names = {name for _, name, _ in first["alpha"]}
    assert names == {"Who invented the Tootsie Pop?", "command name exit"}
    assert ("2025-07-19T23:13:00.000Z") in {started for _, _, started in first["alpha"]}
    assert [name for _, name, _ in first["beta"]] == ["untitled"]


@pytest.mark.corpus
def test_seed_corpus_flat_serves_every_file_byte_for_byte(server: DevServer) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    paths = [p for p in CORPUS.glob("*.md") if p.name != "FORMAT.md"]
    assert server.seed_corpus_flat(CORPUS, projects=4) == len(paths)
    served: list[bytes] = []
    with api_client(server) as http:
        projects = http.get("/projects").json()["data"]["projects"]
        # The corpus MANIFEST names each file's source repository: one project per repo.
        assert "specstoryai/getspecstory" in {p["name"] for p in projects}
        for project in projects:
            listing = http.get(f"/projects/{project['id']}/sessions").json()["data"]
            for summary in listing["sessions"]:
                path = f"/projects/{project['id']}/sessions/{summary['id']}"
                body = http.get(path, headers={"Accept": "text/markdown"}).content
                assert len(body) == summary["markdownSize"]
                served.append(body)
    assert sorted(served) == sorted(p.read_bytes() for p in paths)


# Synthetic sessions


def synthetic_listing(server: DevServer) -> list[dict[str, object]]:
    with api_client(server) as http:
        projects = http.get("/projects").json()["data"]["projects"]
        return [
            summary
            for project in projects
            for summary in http.get(f"/projects/{project['id']}/sessions").json()["data"][
                "sessions"
            ]
        ]


def test_synthetic_sessions_are_deterministic_per_seed(clock: FakeClock) -> None:
    listings = []
    for seed in (7, 7, 8):
        with DevServer(api_key=API_KEY, clock=clock, rate_limit=None) as server:
            server.seed_synthetic(sessions=50, projects=3, seed=seed)
            listings.append(synthetic_listing(server))
    assert listings[0] == listings[1]
    assert listings[0] != listings[2]
    assert len(listings[0]) == 50


def test_synthetic_markdown_looks_like_specstory(server: DevServer) -> None:
    server.seed_synthetic(sessions=20, projects=2, seed=1)
    summary = max(synthetic_listing(server), key=lambda s: int(str(s["markdownSize"])))
    with api_client(server) as http:
        path = f"/projects/{summary['projectId']}/sessions/{summary['id']}"
        text = http.get(path, headers={"Accept": "text/markdown"}).content.decode("utf-8")
    assert text.startswith("<!-- Generated by SpecStory, Markdown v2.1.0 -->")
    assert f"Session {summary['id']}" in text
    assert re.search(r"^_\*\*User \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)\*\*_$", text, re.M)
    assert re.search(r"^_\*\*Agent \(.+ \d\d:\d\d:\d\dZ\)\*\*_$", text, re.M)
    assert "```" in text


def test_two_thousand_synthetic_sessions_are_quick_and_shaped_like_the_corpus(
    server: DevServer,
) -> None:
    started = time.monotonic()
    server.seed_synthetic(sessions=2000, projects=8, seed=0)
    assert time.monotonic() - started < 5
    sizes = [int(str(s["markdownSize"])) for s in synthetic_listing(server)]
    assert len(sizes) == 2000
    assert 1_000 <= statistics.median(sizes) <= 10_000
    assert 50_000 <= statistics.mean(sizes) <= 500_000
    assert max(sizes) <= 2_600_000


def test_synthetic_sizes_follow_a_given_sample_with_jitter(server: DevServer) -> None:
    server.seed_synthetic(sessions=40, projects=2, seed=3, sizes=[200_000])
    sizes = [int(str(s["markdownSize"])) for s in synthetic_listing(server)]
    assert all(180_000 <= size <= 220_000 for size in sizes)
