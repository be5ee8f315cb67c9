"""The GraphQL searchSessions call: what it sends, and every kind of bad answer said as
one clear error (never a traceback), over an in-memory transport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.cloud.graphql import (
    SEARCH_QUERY,
    GraphQLBudgetError,
    GraphQLClient,
    GraphQLError,
)
from syncd.errors import EXIT_UNAVAILABLE, BadResponseError, CloudError

NOW = 1_800_000_000.0
RESET = int(NOW) + 1800
HIT = {
    "id": "s1",
    "name": "Fix the login",
    "projectId": "p1",
    "rank": 0.75,
    "metadata": {"clientName": "cursor", "tags": ["auth"]},
}


def _rate(remaining: int, limit: int = 500) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(RESET),
    }


def _client(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None
) -> tuple[GraphQLClient, RateBudget, RateBudget]:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    rest = RateBudget(interactive=True, clock=lambda: NOW)
    cloud = CloudClient(
        "http://cloud.invalid", "key-123", transport=httpx.MockTransport(handler), budget=rest
    )
    budget = RateBudget(interactive=True, clock=lambda: NOW)
    return GraphQLClient(cloud, budget), budget, rest


def _json(payload: object, remaining: int = 499) -> Callable[..., httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=payload, headers=_rate(remaining))

    return answer


def test_sends_the_sdk_query_with_filters_and_reads_the_hits() -> None:
    seen: list[httpx.Request] = []
    data = {"data": {"searchSessions": {"total": 3, "results": [HIT]}}}
    graphql, budget, rest = _client(_json(data, remaining=497), seen)

    found = graphql.search_sessions("login", project_id="p1", tags=("auth", "ui"), limit=50)

    assert found.total == 3
    assert [(h.id, h.name, h.project_id, h.rank, h.tags) for h in found.hits] == [
        ("s1", "Fix the login", "p1", 0.75, ("auth",))
    ]
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/api/v1/graphql"
    assert request.headers["authorization"] == "Bearer key-123"
    assert request.headers["user-agent"].startswith("syncd/")
    body = json.loads(request.content)
    assert body["query"] == SEARCH_QUERY
    assert body["variables"] == {
        "query": "login",
        "filters": {"projectId": "p1", "tags": ["auth", "ui"]},
        "limit": 50,
    }
    # The GraphQL budget learnt the answer's figures; the REST budget heard nothing.
    assert (budget.limit, budget.remaining) == (500, 497)
    assert rest.limit is None


def test_no_filters_are_sent_as_null() -> None:
    seen: list[httpx.Request] = []
    graphql, _, _ = _client(_json({"data": {"searchSessions": {"total": 0, "results": []}}}), seen)
    assert graphql.search_sessions("x").hits == []
    assert json.loads(seen[0].content)["variables"]["filters"] is None


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"errors": [{"message": "Cannot query field 'bogus'"}], "data": None}, "bogus"),
        ({"errors": [{}], "data": None}, "an error without a message"),
    ],
)
def test_an_errors_array_is_said_with_its_message(payload: object, said: str) -> None:
    graphql, _, _ = _client(_json(payload))
    with pytest.raises(GraphQLError) as caught:
        graphql.search_sessions("x")
    assert said in caught.value.message
    assert caught.value.exit_code == EXIT_UNAVAILABLE


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"data": None}, "no data"),
        ([1, 2], "not an object"),
        ({"data": {"searchSessions": None}}, "'searchSessions' is not an object"),
        ({"data": {"searchSessions": {"total": 1, "results": {}}}}, "results' is not a list"),
        ({"data": {"searchSessions": {"results": [{"name": "x"}]}}}, "result 1 has no id"),
        ({"data": {"searchSessions": {"results": [HIT, "s2"]}}}, "result 2 is not an object"),
    ],
)
def test_wrong_shapes_are_bad_responses(payload: object, said: str) -> None:
    graphql, _, _ = _client(_json(payload))
    with pytest.raises(BadResponseError) as caught:
        graphql.search_sessions("x")
    assert said in caught.value.message


def test_a_body_that_is_not_json_is_a_bad_response() -> None:
    graphql, _, _ = _client(lambda _: httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(BadResponseError, match="not JSON"):
        graphql.search_sessions("x")


def test_a_429_blocks_graphql_only_and_is_said() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "120", **_rate(0)}, json={})

    graphql, budget, rest = _client(answer)
    with pytest.raises(GraphQLBudgetError) as caught:
        graphql.search_sessions("x")
    assert "GraphQL budget spent" in caught.value.message
    assert caught.value.exit_code == EXIT_UNAVAILABLE
    assert budget.delay() >= 120
    assert rest.delay() == 0  # REST requests may still go
    # The next query is refused here, without a request.
    with pytest.raises(GraphQLBudgetError):
        graphql.search_sessions("x")
    assert graphql.queries == 1


def test_a_spent_budget_sends_nothing() -> None:
    seen: list[httpx.Request] = []
    graphql, budget, _ = _client(_json({}), seen)
    budget.observe(500, 0, RESET)
    with pytest.raises(GraphQLBudgetError):
        graphql.search_sessions("x")
    assert seen == []


def test_limit_out_of_range_is_refused() -> None:
    graphql, _, _ = _client(_json({}))
    for limit in (0, 201):
        with pytest.raises(ValueError, match="limit"):
            graphql.search_sessions("x", limit=limit)


def test_an_unreachable_server_is_a_cloud_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    graphql, _, _ = _client(answer)
    with pytest.raises(CloudError, match="unavailable"):
        graphql.search_sessions("x")


def test_an_answer_beyond_the_json_limit_is_refused_unread() -> None:
    big = {"data": {"searchSessions": {"total": 1, "results": [HIT] * 50}}}
    cloud = CloudClient(
        "http://cloud.invalid",
        "key-123",
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=big)),
        max_json_bytes=1000,
    )
    graphql = GraphQLClient(cloud, RateBudget(interactive=True, clock=lambda: NOW))
    with pytest.raises(BadResponseError, match="more than 1000 allowed"):
        graphql.search_sessions("x")
