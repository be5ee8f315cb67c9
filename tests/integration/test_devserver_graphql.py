"""The devserver answers GraphQL `searchSessions` at POST /api/v1/graphql over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from syncd.devserver import DevServer, Fault
from tests.integration.conftest import FakeClock

API_KEY = "test-key"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
GRAPHQL = "/api/v1/graphql"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")

# Exactly as the official Python SDK sends it.
SDK_QUERY = """
  query SearchSessions($query: String!, $filters: SessionFilters, $limit: Int) {
    searchSessions(query: $query, filters: $filters, limit: $limit) {
      total
      results { id name projectId rank metadata { clientName tags } }
    }
  }
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[DevServer]:
    with DevServer(api_key=API_KEY, clock=clock, rate_limit=None) as running:
        yield running


def api_client(server: DevServer, key: str | None = API_KEY) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


@pytest.fixture
def client(server: DevServer) -> Iterator[httpx.Client]:
    with api_client(server) as http:
        yield http


def search(
    http: httpx.Client,
    query: str,
    *,
    filters: dict[str, object] | None = None,
    limit: int | None = None,
) -> httpx.Response:
    variables: dict[str, object] = {"query": query}
    if filters is not None:
        variables["filters"] = filters
    if limit is not None:
        variables["limit"] = limit
    return http.post(GRAPHQL, json={"query": SDK_QUERY, "variables": variables})


def hits(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result = body["data"]["searchSessions"]
    assert isinstance(result, dict)
    return result


def ids(result: dict[str, object]) -> list[str]:
    results = result["results"]
    assert isinstance(results, list)
    return [hit["id"] for hit in results]


def only_error(response: httpx.Response) -> str:
    """The message of a GraphQL error answer, which must be 200 with data null."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    message = error["message"]
    assert isinstance(message, str)
    return message


@pytest.fixture
def library(server: DevServer) -> dict[str, str]:
    """Sessions in two projects; the name of each key says what it holds."""
    alpha = server.add_project("alpha", project_id="proj_alpha")
    beta = server.add_project("beta", project_id="proj_beta")
    return {
        "title": server.put_session(
            alpha,
            session_id="s-title",
            name="Fix the Parser crash",
            markdown="# Fix\n\nThe tokenizer fails on empty input.\n",
            metadata={"clientName": "cursor", "tags": ["bug", "urgent"]},
        ),
        "body": server.put_session(
            alpha,
            session_id="s-body",
            name="Weekly notes",
            markdown="We looked at the parser. The PARSER crash is rare; parser tests pass.\n",
            metadata={"clientName": "claude-code", "tags": ["bug"]},
        ),
        "other": server.put_session(
            beta,
            session_id="s-other",
            name="Parser crash in beta",
            markdown="A café parser crash, reported by a user.\n",
            metadata={"tags": ["urgent"]},
        ),
        "unrelated": server.put_session(
            beta, session_id="s-unrelated", name="Release checklist", markdown="Ship it.\n"
        ),
    }


# The SDK's query


def test_sdk_query_answers_every_field_ranked_name_matches_first(
    client: httpx.Client, library: dict[str, str]
) -> None:
    response = search(client, "parser crash")
    result = hits(response)
    assert result["total"] == 3
    # Both words in the name and the body, in the name only, in the body only.
    assert ids(result) == ["s-other", "s-title", "s-body"]
    results = result["results"]
    assert isinstance(results, list)
    first, _, body_only = results
    assert set(first) == {"id", "name", "projectId", "rank", "metadata"}
    assert first["name"] == "Parser crash in beta"
    assert first["projectId"] == "proj_beta"
    assert first["metadata"] == {"clientName": None, "tags": ["urgent"]}
    assert body_only["metadata"] == {"clientName": "claude-code", "tags": ["bug"]}
    ranks = [hit["rank"] for hit in results]
    assert all(isinstance(rank, float) for rank in ranks)
    assert ranks[0] > ranks[1] > ranks[2] > 0
    assert response.headers["content-type"].startswith("application/json")


def test_search_is_case_insensitive_and_needs_every_word(
    client: httpx.Client, library: dict[str, str]
) -> None:
    assert ids(hits(search(client, "PARSER Crash"))) == ["s-other", "s-title", "s-body"]
    assert ids(hits(search(client, "parser tokenizer"))) == ["s-title"]
    assert ids(hits(search(client, "Café"))) == ["s-other"]
    assert hits(search(client, "parser nowhere")) == {"total": 0, "results": []}


def test_whitespace_field_order_subsets_and_operation_names_are_all_graphql(
    client: httpx.Client, library: dict[str, str]
) -> None:
    queries = [
        'query Other { x: searchSessions(query: "crash") { total } }\n'
        "query Compact($q:String!){searchSessions(limit:1,query:$q){results{projectId id}total}}",
        "query   Compact ( $q : String! )\n{\n searchSessions ( query : $q , limit : 1 )"
        " { results { id projectId } total } }\n"
        'query Other { x: searchSessions(query: "crash") { total } }',
    ]
    for text in queries:
        response = client.post(
            GRAPHQL,
            json={"query": text, "variables": {"q": "crash"}, "operationName": "Compact"},
        )
        assert response.status_code == 200
        assert response.json() == {
            "data": {
                "searchSessions": {
                    "results": [{"projectId": "proj_beta", "id": "s-other"}],
                    "total": 3,
                }
            }
        }


# Filters, limit and total


def test_project_filter_keeps_one_project(client: httpx.Client, library: dict[str, str]) -> None:
    result = hits(search(client, "crash", filters={"projectId": "proj_alpha"}))
    assert ids(result) == ["s-title", "s-body"]
    assert result["total"] == 2
    assert hits(search(client, "crash", filters={"projectId": "proj_none"}))["total"] == 0


def test_tag_filter_needs_every_given_tag(client: httpx.Client, library: dict[str, str]) -> None:
    assert ids(hits(search(client, "crash", filters={"tags": ["bug"]}))) == ["s-title", "s-body"]
    both = {"tags": ["bug", "urgent"]}
    assert ids(hits(search(client, "crash", filters=both))) == ["s-title"]
    with_project = {"tags": ["urgent"], "projectId": "proj_beta"}
    assert ids(hits(search(client, "crash", filters=with_project))) == ["s-other"]
    assert hits(search(client, "crash", filters={"tags": ["absent"]}))["total"] == 0


def test_limit_defaults_to_20_and_total_counts_every_match(
    client: httpx.Client, server: DevServer
) -> None:
    project = server.add_project("many")
    for index in range(25):
        server.put_session(
            project, session_id=f"s-{index:02}", name="notes", markdown="migration " * (index + 1)
        )
    default = hits(search(client, "migration"))
    assert default["total"] == 25
    assert ids(default) == [f"s-{index:02}" for index in range(24, 4, -1)]  # most mentions first
    three = hits(search(client, "migration", limit=3))
    assert three["total"] == 25
    assert ids(three) == ["s-24", "s-23", "s-22"]
    assert len(ids(hits(search(client, "migration", limit=200)))) == 25


def test_equal_ranks_come_in_id_order(client: httpx.Client, server: DevServer) -> None:
    project = server.add_project("same")
    for session_id in ("s-c", "s-a", "s-b"):
        server.put_session(project, session_id=session_id, name="same", markdown="same words")
    assert ids(hits(search(client, "words"))) == ["s-a", "s-b", "s-c"]


@pytest.mark.parametrize("limit", [201, 0])
def test_limit_outside_1_to_200_is_a_graphql_error(
    client: httpx.Client, library: dict[str, str], limit: int
) -> None:
    assert only_error(search(client, "crash", limit=limit)) == (
        f"limit must be from 1 to 200, got {limit}"
    )


# Errors


def test_unknown_field_is_a_validation_error_with_data_null(client: httpx.Client) -> None:
    text = '{ searchSessions(query: "x") { total nope } }'
    message = only_error(client.post(GRAPHQL, json={"query": text}))
    assert message == "Cannot query field 'nope' on type 'SearchResult'."


def test_syntax_error_is_a_graphql_error(client: httpx.Client) -> None:
    message = only_error(client.post(GRAPHQL, json={"query": "{ searchSessions(query: "}))
    assert message.startswith("Syntax Error")


def test_missing_variable_is_a_graphql_error(client: httpx.Client) -> None:
    message = only_error(client.post(GRAPHQL, json={"query": SDK_QUERY, "variables": {}}))
    assert "$query" in message


def test_query_without_words_is_a_graphql_error(client: httpx.Client) -> None:
    assert only_error(search(client, " -- ")) == "query must contain at least one word"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "Request body is not valid JSON"),
        (b'{"variables": {}}', "Field 'query' is required"),
        (b'{"query": 1}', "Field 'query' is required"),
        (b'["query"]', "Request body must be a JSON object"),
        (b'{"query": "{ x }", "variables": [1]}', "Field 'variables' must be a JSON object"),
    ],
)
def test_a_body_that_is_no_graphql_request_is_400_wrapped(
    client: httpx.Client, body: bytes, message: str
) -> None:
    response = client.post(GRAPHQL, content=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"].startswith(message)


def test_missing_key_is_401(server: DevServer, library: dict[str, str]) -> None:
    with api_client(server, key=None) as anonymous:
        response = search(anonymous, "crash")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Invalid or missing authentication token"}


def test_only_post_is_allowed(client: httpx.Client) -> None:
    response = client.get(GRAPHQL)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


# Rate budgets


def test_answers_carry_the_graphql_budget_of_500_per_hour(
    client: httpx.Client, library: dict[str, str]
) -> None:
    first, second = search(client, "crash"), search(client, "crash")
    rest = client.get("/api/v1/projects")
    assert [first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]] == [
        "499",
        "498",
    ]
    for response in (first, second):
        assert all(name in response.headers for name in RATE_HEADERS)
        assert response.headers["x-ratelimit-limit"] == "500"
        assert response.headers["x-ratelimit-reset"] == str(int(START) + 3600)
    assert rest.headers["x-ratelimit-limit"] == "1000000"  # REST unlimited here, and untouched
    assert rest.headers["x-ratelimit-remaining"] == str(1_000_000 - 1)


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[DevServer]:
    with DevServer(
        api_key=API_KEY, clock=clock, rate_limit=3, graphql_rate_limit=2, window_seconds=3600
    ) as running:
        yield running


def test_exhausted_graphql_is_429_while_rest_still_answers(
    limited: DevServer, clock: FakeClock
) -> None:
    limited.add_project("p")
    with api_client(limited) as http:
        assert [search(http, "x").status_code for _ in range(2)] == [200, 200]
        clock.advance(600)
        refused = search(http, "x")
        rest = http.get("/api/v1/projects")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3000"
    assert refused.headers["x-ratelimit-limit"] == "2"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.json()["success"] is False
    assert rest.status_code == 200
    assert rest.headers["x-ratelimit-limit"] == "3"
    assert rest.headers["x-ratelimit-remaining"] == "2"


def test_exhausted_rest_never_blocks_graphql(limited: DevServer) -> None:
    with api_client(limited) as http:
        rest = [http.get("/api/v1/projects").status_code for _ in range(4)]
        query = search(http, "x")
    assert rest == [200, 200, 200, 429]
    assert query.status_code == 200
    assert query.headers["x-ratelimit-remaining"] == "1"


def test_graphql_budget_refills_when_its_window_ends(limited: DevServer, clock: FakeClock) -> None:
    with api_client(limited) as http:
        for _ in range(3):
            search(http, "x")
        clock.advance(3600)
        again = search(http, "x")
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining"] == "1"


def test_a_request_the_server_cannot_parse_spends_the_budget_of_its_path(
    limited: DevServer,
) -> None:
    host, port = limited.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"BREW /api/v1/graphql HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    head = reply.partition(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 501")
    assert "X-RateLimit-Limit: 2\r\n" in head
    assert "X-RateLimit-Remaining: 1\r\n" in head


def test_unlimited_graphql_never_refuses(clock: FakeClock) -> None:
    with (
        DevServer(api_key=API_KEY, clock=clock, graphql_rate_limit=None) as running,
        api_client(running) as http,
    ):
        answers = [search(http, "x") for _ in range(5)]
    assert {answer.status_code for answer in answers} == {200}
    assert answers[-1].headers["x-ratelimit-limit"] == "1000000"


# Faults, the request log and deletions


def test_injected_fault_hits_graphql_then_recovers(
    client: httpx.Client, server: DevServer, library: dict[str, str]
) -> None:
    server.inject(Fault("status", path=r"/graphql$", status=503, times=1))
    rest = client.get("/api/v1/projects")
    failed, recovered = search(client, "crash"), search(client, "crash")
    assert rest.status_code == 200  # the fault's path does not match REST
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "1"
    assert failed.json() == {"success": False, "error": "Injected fault: 503"}
    assert hits(recovered)["total"] == 3


def test_reset_fault_drops_a_graphql_request(client: httpx.Client, server: DevServer) -> None:
    server.inject(Fault("reset", path=r"/graphql$"))
    with pytest.raises(httpx.TransportError):
        search(client, "crash")
    assert server.requests[-1].path == GRAPHQL
    assert server.requests[-1].status == 0


def test_request_log_tells_graphql_from_rest(
    client: httpx.Client, server: DevServer, library: dict[str, str]
) -> None:
    server.clear_requests()
    search(client, "crash")
    client.get("/api/v1/projects")
    search(client, "parser")
    assert server.wait_for_requests(lambda records: len(records) == 3, timeout=5)
    paths = [record.path for record in server.requests]
    assert paths == [GRAPHQL, "/api/v1/projects", GRAPHQL]
    assert [record.method for record in server.requests] == ["POST", "GET", "POST"]


def test_deleted_sessions_and_projects_never_appear(
    client: httpx.Client, server: DevServer, library: dict[str, str]
) -> None:
    assert hits(search(client, "crash"))["total"] == 3
    server.delete_session("proj_alpha", library["title"])
    assert client.delete("/api/v1/projects/proj_alpha/sessions/s-body").status_code == 200
    assert ids(hits(search(client, "crash"))) == ["s-other"]
    assert client.delete("/api/v1/projects/proj_beta").status_code == 200
    assert hits(search(client, "crash")) == {"total": 0, "results": []}


def test_replaced_content_is_searched_as_it_is_now(
    client: httpx.Client, server: DevServer, library: dict[str, str]
) -> None:
    assert ids(hits(search(client, "tokenizer"))) == ["s-title"]
    server.put_session(
        "proj_alpha", session_id="s-title", name="Fix the Parser crash", markdown="lexer only"
    )
    assert hits(search(client, "tokenizer"))["total"] == 0
    assert ids(hits(search(client, "lexer"))) == ["s-title"]


def test_a_huge_session_is_searched_without_trouble(
    client: httpx.Client, server: DevServer
) -> None:
    project = server.add_project("big")
    session_id = server.add_large_session(project, 50 * 1024 * 1024, name="huge dump")
    result = hits(search(client, "huge dump"))
    assert ids(result) == [session_id]
    assert hits(search(client, "huge zzzznotthere"))["total"] == 0
