"""The PullStory devserver speaks the PullStory API over real loopback HTTP, on a fake clock."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from syncd.devserver import Fault
from tests.fakes.pullstory import PullStoryRecord, PullStoryServer
from tests.integration.conftest import FakeClock

TOKEN = "ps_live_test"
START = 1_768_435_200.0  # 2026-01-15T00:00:00Z
STORY_FIELDS = {
    "id", "status", "url", "cached", "message", "estimated_seconds", "duration_seconds",
    "scenes", "title", "error",
}  # fmt: skip
ALREADY_GENERATING = "Another request is already generating this story"
DEFAULT_FAILURE = "Story generation failed. Retry with a smaller brief."
MISSING = object()


def brief(**changes: Any) -> dict[str, Any]:
    """A minimal valid brief; a change to MISSING removes the field."""
    base: dict[str, Any] = {
        "title": "Fix the login redirect",
        "summary": "The login page sent users back to itself.",
        "files": [{"path": "app/login.py"}],
        "flow": ["Find the loop", "Fix the redirect", "Add a test"],
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not MISSING}


def file_entry(**changes: Any) -> dict[str, Any]:
    return {"path": "app/login.py", **changes}


def expected_id(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return "brief_" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def api_client(server: PullStoryServer, token: str | None = TOKEN) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[PullStoryServer]:
    with PullStoryServer(token=TOKEN, clock=clock) as running:
        yield running


@pytest.fixture
def client(server: PullStoryServer) -> Iterator[httpx.Client]:
    with api_client(server) as http:
        yield http


@pytest.fixture(scope="module")
def validator() -> Iterator[httpx.Client]:
    """One unthrottled server shared by the validation cases (they never change its state)."""
    with (
        PullStoryServer(token=TOKEN, clock=FakeClock(START), post_limit_per_minute=None) as running,
        api_client(running) as http,
    ):
        yield http


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


# Briefs: every limit of the API note


INVALID_BRIEFS: list[tuple[str, Any, str]] = [
    ("title-missing", brief(title=MISSING), "title"),
    ("title-too-short", brief(title="ab"), "title"),
    ("title-too-long", brief(title="x" * 141), "title"),
    ("title-number", brief(title=123), "title"),
    ("title-null", brief(title=None), "title"),
    ("summary-missing", brief(summary=MISSING), "summary"),
    ("summary-too-short", brief(summary="x" * 9), "summary"),
    ("summary-too-long", brief(summary="x" * 2001), "summary"),
    ("summary-array", brief(summary=["a summary text"]), "summary"),
    ("files-missing", brief(files=MISSING), "files"),
    ("files-empty", brief(files=[]), "files"),
    ("files-too-many", brief(files=[file_entry(path=f"f{i}.py") for i in range(21)]), "files"),
    ("files-string", brief(files="app/login.py"), "files"),
    ("file-not-object", brief(files=["app/login.py"]), "files[0]"),
    ("file-path-missing", brief(files=[{"role": "changed"}]), "files[0].path"),
    ("file-path-empty", brief(files=[file_entry(path="")]), "files[0].path"),
    ("file-path-number", brief(files=[file_entry(path=7)]), "files[0].path"),
    ("file-role-number", brief(files=[file_entry(role=1)]), "files[0].role"),
    ("file-language-null", brief(files=[file_entry(language=None)]), "files[0].language"),
    ("file-excerpt-object", brief(files=[file_entry(excerpt={})]), "files[0].excerpt"),
    ("file-start-zero", brief(files=[file_entry(startLine=0)]), "files[0].startLine"),
    ("file-start-string", brief(files=[file_entry(startLine="3")]), "files[0].startLine"),
    ("file-start-float", brief(files=[file_entry(startLine=3.0)]), "files[0].startLine"),
    ("file-end-negative", brief(files=[file_entry(endLine=-1)]), "files[0].endLine"),
    ("file-end-boolean", brief(files=[file_entry(endLine=True)]), "files[0].endLine"),
    ("file-start-after-end", brief(files=[file_entry(startLine=9, endLine=3)]), "startLine"),
    ("file-unknown-field", brief(files=[file_entry(lines="1-3")]), "lines"),
    ("second-file-bad", brief(files=[file_entry(), file_entry(path="")]), "files[1].path"),
    ("repo-string", brief(repo="acme/shop"), "repo"),
    ("repo-null", brief(repo=None), "repo"),
    ("flow-missing", brief(flow=MISSING), "flow"),
    ("flow-too-few", brief(flow=["one", "two"]), "flow"),
    ("flow-too-many", brief(flow=[f"step {i}" for i in range(8)]), "flow"),
    ("flow-string", brief(flow="one, two, three"), "flow"),
    ("flow-step-too-short", brief(flow=["one", "ab", "three"]), "flow[1]"),
    ("flow-step-too-long", brief(flow=["one", "two", "x" * 501]), "flow[2]"),
    ("flow-step-number", brief(flow=["one", "two", 3]), "flow[2]"),
    ("highlights-too-many", brief(highlights=[f"point {i}" for i in range(9)]), "highlights"),
    ("highlight-too-short", brief(highlights=["ab"]), "highlights[0]"),
    ("highlight-too-long", brief(highlights=["ok!", "x" * 201]), "highlights[1]"),
    ("highlights-string", brief(highlights="fast"), "highlights"),
    ("highlight-null", brief(highlights=[None]), "highlights[0]"),
    ("unknown-top-level-field", brief(author="me"), "author"),
    ("not-an-object", [brief()], "brief"),
]


@pytest.mark.parametrize(
    ("payload", "field"),
    [pytest.param(payload, field, id=case) for case, payload, field in INVALID_BRIEFS],
)
def test_invalid_brief_is_422_naming_the_field(
    validator: httpx.Client, payload: Any, field: str
) -> None:
    response = validator.post("/stories", json=payload)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_brief"
    assert field in error["message"]


VALID_BRIEFS: list[tuple[str, dict[str, Any]]] = [
    ("minimal", brief()),
    ("shortest-texts", brief(title="abc", summary="x" * 10, flow=["one", "two", "six"])),
    ("longest-texts", brief(title="x" * 140, summary="x" * 2000, flow=["x" * 500] * 7)),
    ("most-files", brief(files=[file_entry(path=f"f{i}.py") for i in range(20)])),
    (
        "every-file-field",
        brief(
            files=[
                file_entry(
                    role="changed", language="python", excerpt="x = 1", startLine=4, endLine=4
                )
            ]
        ),
    ),
    ("repo-object", brief(repo={"name": "acme/shop", "branch": "main"})),
    ("most-highlights", brief(highlights=["x" * 200] * 8)),
    ("no-highlights", brief(highlights=[])),
    ("shortest-highlight", brief(highlights=["abc"])),
]


@pytest.mark.parametrize(
    "payload", [pytest.param(payload, id=case) for case, payload in VALID_BRIEFS]
)
def test_brief_at_every_limit_is_accepted(validator: httpx.Client, payload: Any) -> None:
    response = validator.post("/stories", json=payload)
    assert response.status_code in (200, 202), response.text
    assert response.json()["id"] == expected_id(payload)


def test_malformed_json_is_400_and_logged_without_a_body(
    client: httpx.Client, server: PullStoryServer
) -> None:
    response = client.post(
        "/stories", content=b'{"title": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"
    assert server.requests[-1].body is None
    assert server.stories == {}


# Stories: ids, generation, cache


def test_new_brief_answers_generating_with_the_bare_story_object(
    client: httpx.Client, server: PullStoryServer
) -> None:
    payload = brief()
    response = client.post("/stories", json=payload)
    assert response.status_code == 202
    story = response.json()
    assert set(story) == STORY_FIELDS
    story_id = expected_id(payload)
    assert story == {
        "id": story_id,
        "status": "generating",
        "url": f"https://pullstory.com/s/{story_id}",
        "cached": False,
        "message": None,
        "estimated_seconds": story["estimated_seconds"],
        "duration_seconds": None,
        "scenes": None,
        "title": "Fix the login redirect",
        "error": None,
    }
    assert 60 <= story["estimated_seconds"] <= 180
    assert server.stories == {story_id: {**story}}


def test_story_id_depends_only_on_the_brief_content(client: httpx.Client) -> None:
    payload = brief(highlights=["Café crème 🚀"])
    reordered = dict(reversed(list(payload.items())))
    first = client.post("/stories", json=payload).json()["id"]
    again = client.post("/stories", json=reordered).json()["id"]
    other = client.post("/stories", json=brief(title="Another title")).json()["id"]
    assert first == again == expected_id(payload)
    assert re.fullmatch(r"brief_[a-f0-9]{16}", first)
    assert other != first


def test_same_brief_while_generating_says_another_request_is_generating(
    client: httpx.Client,
) -> None:
    first = client.post("/stories", json=brief()).json()
    response = client.post("/stories", json=brief())
    assert response.status_code == 202  # the docs: "comes with status 202 and that message"
    story = response.json()
    assert story["id"] == first["id"]
    assert story["status"] == "generating"
    assert story["cached"] is False
    assert story["message"] == ALREADY_GENERATING


def test_story_becomes_ready_when_generation_seconds_pass_on_the_server_clock(
    client: httpx.Client, clock: FakeClock
) -> None:
    story_id = client.post("/stories", json=brief()).json()["id"]
    clock.advance(89.9)
    assert client.get(f"/stories/{story_id}").json()["status"] == "generating"
    clock.advance(0.1)
    story = client.get(f"/stories/{story_id}").json()
    assert story["status"] == "ready"
    assert 30 <= story["duration_seconds"] <= 150
    assert story["scenes"] == len(brief()["flow"]) + 2
    assert story["estimated_seconds"] is None
    assert story["error"] is None


def test_story_becomes_ready_on_the_configured_poll(clock: FakeClock) -> None:
    with (
        PullStoryServer(
            token=TOKEN, clock=clock, generation_seconds=None, generation_polls=3
        ) as server,
        api_client(server) as client,
    ):
        story_id = client.post("/stories", json=brief()).json()["id"]
        clock.advance(3600)  # with no time trigger, time alone never finishes it
        statuses = [client.get(f"/stories/{story_id}").json()["status"] for _ in range(3)]
    assert statuses == ["generating", "generating", "ready"]


def test_whichever_trigger_comes_first_finishes_the_story(clock: FakeClock) -> None:
    with (
        PullStoryServer(token=TOKEN, clock=clock, generation_polls=50) as server,
        api_client(server) as client,
    ):
        story_id = client.post("/stories", json=brief()).json()["id"]
        clock.advance(90)
        assert client.get(f"/stories/{story_id}").json()["status"] == "ready"


def test_posting_a_ready_brief_is_a_cached_hit(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    story_id = client.post("/stories", json=brief()).json()["id"]
    clock.advance(90)
    ready = client.get(f"/stories/{story_id}").json()
    used = server.usage["minutes_used"]
    response = client.post("/stories", json=brief())
    assert response.status_code == 200
    hit = response.json()
    assert hit == {**ready, "cached": True}
    assert hit["url"] == f"https://pullstory.com/s/{story_id}"
    assert server.usage["minutes_used"] == used


def test_failed_story_carries_its_error_and_posting_again_regenerates(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    server.fail_next_story()
    story_id = client.post("/stories", json=brief()).json()["id"]
    clock.advance(90)
    failed = client.get(f"/stories/{story_id}").json()
    assert failed["status"] == "failed"
    assert failed["error"] == DEFAULT_FAILURE
    assert failed["duration_seconds"] is None
    assert server.usage["minutes_used"] == 0

    retry = client.post("/stories", json=brief())
    assert retry.status_code == 202
    assert retry.json()["status"] == "generating"
    assert retry.json()["error"] is None
    clock.advance(90)
    assert client.get(f"/stories/{story_id}").json()["status"] == "ready"


def test_fail_next_story_hits_only_the_next_new_generation(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    server.fail_next_story("Renderer crashed.")
    doomed = client.post("/stories", json=brief()).json()["id"]
    client.post("/stories", json=brief())  # already generating: not a new generation
    healthy = client.post("/stories", json=brief(title="Another title")).json()["id"]
    clock.advance(90)
    assert server.stories[doomed]["error"] == "Renderer crashed."
    assert server.stories[healthy]["status"] == "ready"


def test_story_get_checks_the_id_format_then_existence(client: httpx.Client) -> None:
    for bad in ("brief_0123", "brief_0123456789ABCDEF", "story_0123456789abcdef", "x"):
        response = client.get(f"/stories/{bad}")
        assert response.status_code == 400, bad
        assert error_of(response)["code"] == "invalid_story_id"
    response = client.get("/stories/brief_0123456789abcdef")
    assert response.status_code == 404
    assert error_of(response)["code"] == "story_not_found"


def test_unknown_endpoint_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    assert error_of(client.get("/elsewhere"))["code"] == "not_found"
    response = client.get("/stories")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.delete("/me/usage").status_code == 405


# Usage and quota


def test_usage_reports_the_plan_period_and_minutes_consumed_by_ready_stories(
    client: httpx.Client, clock: FakeClock
) -> None:
    assert client.get("/me/usage").json() == {
        "plan": "pro",
        "period_start": "2026-01-01T00:00:00Z",
        "period_end": "2026-02-01T00:00:00Z",
        "minutes_included": 120.0,
        "minutes_used": 0.0,
        "minutes_remaining": 120.0,
    }
    story_id = client.post("/stories", json=brief()).json()["id"]
    assert client.get("/me/usage").json()["minutes_used"] == 0.0  # generating costs nothing
    clock.advance(90)
    duration = client.get(f"/stories/{story_id}").json()["duration_seconds"]
    usage = client.get("/me/usage").json()
    assert usage["minutes_used"] == pytest.approx(duration / 60)
    assert usage["minutes_remaining"] == pytest.approx(120 - duration / 60)


def test_new_brief_without_minutes_left_is_402_with_the_numbers(
    client: httpx.Client, server: PullStoryServer
) -> None:
    server.set_minutes_remaining(0)
    response = client.post("/stories", json=brief())
    assert response.status_code == 402
    error = error_of(response)
    assert error["code"] == "insufficient_minutes"
    assert error["minutes_remaining"] == 0
    assert error["minutes_required"] > 0
    assert error["upgrade_url"].startswith("https://pullstory.com/")
    assert server.stories == {}


def test_new_brief_longer_than_the_minutes_left_is_402(
    client: httpx.Client, server: PullStoryServer
) -> None:
    server.set_minutes_remaining(0.4)  # every story lasts at least 30 s
    error = error_of(client.post("/stories", json=brief()))
    assert error["code"] == "insufficient_minutes"
    assert error["minutes_remaining"] == pytest.approx(0.4)
    assert error["minutes_required"] > 0.4


def test_known_briefs_still_answer_when_minutes_are_spent(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    ready_id = client.post("/stories", json=brief()).json()["id"]
    clock.advance(90)
    client.post("/stories", json=brief(title="Still generating"))
    server.set_minutes_remaining(0)
    assert client.get(f"/stories/{ready_id}").status_code == 200
    assert client.post("/stories", json=brief()).json()["cached"] is True
    generating = client.post("/stories", json=brief(title="Still generating")).json()
    assert generating["message"] == ALREADY_GENERATING


def test_minutes_come_back_when_the_period_ends(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    server.set_minutes_remaining(0)
    assert client.post("/stories", json=brief()).status_code == 402
    clock.advance(17 * 86400)  # 2026-02-01T00:00:00Z
    usage = client.get("/me/usage").json()
    assert usage["period_start"] == "2026-02-01T00:00:00Z"
    assert usage["minutes_remaining"] == 120.0
    assert client.post("/stories", json=brief()).status_code == 202


# Rate limits


Call = Callable[[httpx.Client], httpx.Response]
ENDPOINT_LIMITS: list[tuple[str, int, Call]] = [
    ("post-stories", 10, lambda c: c.post("/stories", json=brief())),
    ("get-story", 120, lambda c: c.get("/stories/brief_0123456789abcdef")),
    ("usage", 60, lambda c: c.get("/me/usage")),
]


@pytest.mark.parametrize(
    ("limit", "call"),
    [pytest.param(limit, call, id=name) for name, limit, call in ENDPOINT_LIMITS],
)
def test_each_endpoint_is_429_past_its_limit_until_the_window_ends(
    client: httpx.Client, clock: FakeClock, limit: int, call: Call
) -> None:
    assert all(call(client).status_code != 429 for _ in range(limit))
    refused = call(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    error = error_of(refused)
    assert error["code"] == "rate_limit_exceeded"
    assert error["retry_after"] == 60
    clock.advance(45)
    assert call(client).headers["retry-after"] == "15"
    clock.advance(15)
    assert call(client).status_code != 429


def test_one_endpoint_at_its_limit_leaves_the_others_open(client: httpx.Client) -> None:
    for _ in range(11):
        client.post("/stories", json=brief())
    assert client.post("/stories", json=brief()).status_code == 429
    assert client.get("/me/usage").status_code == 200
    assert client.get("/stories/brief_0123456789abcdef").status_code == 404


def test_limits_are_configurable_and_none_means_unlimited(clock: FakeClock) -> None:
    with (
        PullStoryServer(
            token=TOKEN, clock=clock, post_limit_per_minute=None, other_limit_per_minute=2
        ) as server,
        api_client(server) as client,
    ):
        assert all(client.post("/stories", json=brief()).status_code < 300 for _ in range(30))
        assert [client.get("/me/usage").status_code for _ in range(3)] == [200, 200, 429]


# Authentication, request log, faults


@pytest.mark.parametrize("token", [None, "ps_live_wrong"])
def test_missing_or_wrong_token_is_401_and_logged(
    server: PullStoryServer, token: str | None
) -> None:
    with api_client(server, token=token) as stranger:
        response = stranger.post("/stories", json=brief())
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert server.stories == {}
    (record,) = server.requests
    assert (record.status, record.authorized) == (401, False)


def test_unauthenticated_requests_do_not_spend_the_rate_limit(server: PullStoryServer) -> None:
    with api_client(server, token=None) as stranger:
        for _ in range(15):
            stranger.post("/stories", json=brief())
    with api_client(server) as client:
        assert client.post("/stories", json=brief()).status_code == 202


def test_request_log_records_method_path_status_time_and_json_body(
    client: httpx.Client, clock: FakeClock, server: PullStoryServer
) -> None:
    payload = brief()
    story_id = client.post("/stories", json=payload).json()["id"]
    clock.advance(5)
    client.get(f"/stories/{story_id}")
    first, second = server.requests
    assert isinstance(first, PullStoryRecord)
    assert (first.method, first.path, first.status, first.at) == (
        "POST",
        "/api/v1/stories",
        202,
        START,
    )
    assert first.body == payload
    assert (second.method, second.path, second.status, second.at, second.body) == (
        "GET",
        f"/api/v1/stories/{story_id}",
        200,
        START + 5,
        None,
    )
    server.clear_requests()
    assert server.requests == []


def test_wait_for_requests_wakes_on_a_request_and_times_out_without_one(
    client: httpx.Client, server: PullStoryServer
) -> None:
    def is_usage(records: list[PullStoryRecord]) -> bool:
        return any(record.path == "/api/v1/me/usage" for record in records)

    assert server.wait_for_requests(is_usage, timeout=0.01) is False
    caller = threading.Thread(target=client.get, args=("/me/usage",))
    caller.start()
    assert server.wait_for_requests(is_usage, timeout=5) is True
    caller.join()


def test_injected_status_fault_uses_the_pullstory_error_shape(
    client: httpx.Client, server: PullStoryServer
) -> None:
    server.inject(Fault("status", path=r"/stories$", method="POST", status=503))
    response = client.post("/stories", json=brief())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "code" in error_of(response)
    assert server.stories == {}
    assert client.post("/stories", json=brief()).status_code == 202


def test_reset_fault_drops_the_connection_before_the_story_exists(
    client: httpx.Client, server: PullStoryServer
) -> None:
    server.inject(Fault("reset", path=r"/stories$"))
    with pytest.raises(httpx.TransportError):
        client.post("/stories", json=brief())
    assert server.stories == {}
    assert server.requests[-1].status == 0


def test_truncated_post_still_creates_the_story(
    client: httpx.Client, server: PullStoryServer
) -> None:
    server.inject(Fault("truncate", path=r"/stories$"))
    with pytest.raises(httpx.TransportError):
        client.post("/stories", json=brief())
    assert list(server.stories) == [expected_id(brief())]
    assert client.post("/stories", json=brief()).json()["message"] == ALREADY_GENERATING


def test_url_includes_the_api_prefix(server: PullStoryServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", server.url)
