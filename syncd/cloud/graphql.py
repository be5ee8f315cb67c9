"""SpecStory Cloud's GraphQL endpoint: `searchSessions`, the cloud's own full-text search.

GraphQL has a budget of its own (500 queries an hour by default, apart from REST's 1,000):
every query goes through a second RateBudget fed by the X-RateLimit-* headers of GraphQL
answers, so a spent or refused GraphQL budget never holds a REST request back, nor the
other way round. One query is one attempt: a search is asked for by a person or once per
sync cycle, and a failure is said at once rather than retried into the budget.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RawAnswer
from syncd.cloud.headers import ServerHeaders
from syncd.cloud.transfer import parse_json
from syncd.errors import (
    EXIT_UNAVAILABLE,
    AuthError,
    BadResponseError,
    CloudError,
    CloudUnavailableError,
)

GRAPHQL_PATH = "/graphql"
#: The queries an hour the API allows by default (its own budget, apart from REST's).
DEFAULT_GRAPHQL_LIMIT = 500
#: The most results one searchSessions may ask for (the API's own cap).
MAX_SEARCH_LIMIT = 200
# An error message from the server is shown, but never a page of it.
_MAX_MESSAGE = 200

SEARCH_QUERY = """\
query SearchSessions($query: String!, $filters: SessionFilters, $limit: Int) {
  searchSessions(query: $query, filters: $filters, limit: $limit) {
    total
    results { id name projectId rank metadata { clientName tags } }
  }
}"""


class GraphQLError(CloudError):
    """The GraphQL answer carries an `errors` array (with status 200): its first message."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.graphql_message = message
        super().__init__(f"GraphQL query refused by {url}: {message}")


class GraphQLBudgetError(CloudError):
    """The GraphQL budget is spent or a 429 holds it: no query may go before `resume_at`
    (epoch seconds). REST requests are not affected."""

    exit_code = EXIT_UNAVAILABLE

    def __init__(self, resume_at: float, wait: float) -> None:
        self.resume_at = resume_at
        self.wait = wait
        super().__init__(
            f"GraphQL budget spent: the next query may go in {math.ceil(wait):.0f} s "
            "(REST requests are not affected)"
        )


@dataclass(frozen=True)
class CloudHit:
    """One session searchSessions found."""

    id: str
    name: str
    project_id: str | None
    rank: float | None
    client_name: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class CloudSearch:
    total: int
    hits: list[CloudHit]


def graphql_budget(reserve: float, *, interactive: bool) -> RateBudget:
    """A budget for GraphQL queries, the same rules as REST's with its own reserve."""
    return RateBudget(reserve=reserve, interactive=interactive)


class GraphQLClient:
    """GraphQL queries over a CloudClient's connection (same key, User-Agent, head deadline
    and size limits), spending `budget`, never the client's REST budget."""

    def __init__(self, client: CloudClient, budget: RateBudget) -> None:
        self.client = client
        self.budget = budget
        self._headers = ServerHeaders(budget)
        self.queries = 0  # sent, for the caller's accounting

    def search_sessions(
        self,
        query: str,
        project_id: str | None = None,
        tags: tuple[str, ...] = (),
        limit: int = 20,
    ) -> CloudSearch:
        """The sessions the cloud's search finds for `query`, best first, at most `limit`
        (1..MAX_SEARCH_LIMIT). Raises GraphQLBudgetError, GraphQLError, BadResponseError or
        another CloudError; never an httpx or JSON exception."""
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_SEARCH_LIMIT}")
        filters: dict[str, Any] = {}
        if project_id is not None:
            filters["projectId"] = project_id
        if tags:
            filters["tags"] = list(tags)
        variables = {"query": query, "filters": filters or None, "limit": limit}
        data, url = self._run(SEARCH_QUERY, variables)
        return parse_search(data, url)

    def _run(self, document: str, variables: dict[str, Any]) -> tuple[object, str]:
        """Send one query through the GraphQL budget; its `data` when there is no error."""
        wait = self.budget.delay()
        if wait > 0:  # spent, or held by a 429: say so rather than sit through an hour
            raise GraphQLBudgetError(self.budget.now() + wait, wait)
        self.budget.note_send()
        self.queries += 1
        payload = json.dumps({"query": document, "variables": variables}).encode()
        answer = self.client.post_json_once(GRAPHQL_PATH, payload)
        self._headers.observe(answer.headers)
        return self._data(answer)

    def _data(self, answer: RawAnswer) -> tuple[object, str]:
        if answer.status == 429:
            seconds = self._headers.retry_after(answer.headers)
            self.budget.block(seconds)
            raise GraphQLBudgetError(self.budget.blocked_until, seconds)
        if answer.status == 401:
            raise AuthError(self.client.base_url)
        if answer.status >= 500:
            raise CloudUnavailableError(answer.url, f"HTTP {answer.status}")
        if answer.status != 200:
            raise BadResponseError(answer.url, f"HTTP {answer.status}")
        self.budget.note_success()
        return answer_data(answer.body, answer.url), answer.url


def answer_data(body: bytes, url: str) -> object:
    """The `data` of a GraphQL answer's bytes; GraphQLError for an `errors` array,
    BadResponseError for anything that is not a GraphQL answer."""
    try:
        payload = parse_json(body, url)
    except ValueError:
        raise BadResponseError(url, "GraphQL answer is not JSON") from None
    if not isinstance(payload, dict):
        raise BadResponseError(url, "GraphQL answer is not an object")
    errors = payload.get("errors")
    if errors:
        raise GraphQLError(url, _first_message(errors))
    data = payload.get("data")
    if data is None:
        raise BadResponseError(url, "GraphQL answer has no data")
    return data


def parse_search(data: object, url: str) -> CloudSearch:
    """`data.searchSessions` read strictly: a wrong shape is a BadResponseError naming it."""
    found = data.get("searchSessions") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise BadResponseError(url, "'searchSessions' is not an object")
    results = found.get("results")
    if not isinstance(results, list):
        raise BadResponseError(url, "'searchSessions.results' is not a list")
    hits = [_hit(item, index, url) for index, item in enumerate(results)]
    total = found.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        total = len(hits)  # a count is a courtesy; the hits are what matter
    return CloudSearch(max(total, len(hits)), hits)


def _hit(item: object, index: int, url: str) -> CloudHit:
    if not isinstance(item, dict):
        raise BadResponseError(url, f"search result {index + 1} is not an object")
    hit_id = item.get("id")
    if not isinstance(hit_id, str) or not hit_id:
        raise BadResponseError(url, f"search result {index + 1} has no id")
    name = item.get("name")
    project = item.get("projectId")
    rank = item.get("rank")
    metadata = item.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    client_name = meta.get("clientName")
    tags = meta.get("tags")
    return CloudHit(
        id=hit_id,
        name=name if isinstance(name, str) else "",
        project_id=project if isinstance(project, str) and project else None,
        rank=float(rank)
        if isinstance(rank, int | float) and not isinstance(rank, bool) and math.isfinite(rank)
        else None,
        client_name=client_name if isinstance(client_name, str) else None,
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
    )


def _first_message(errors: object) -> str:
    """The first error's message, one line and bounded (the server's text, not ours)."""
    first = errors[0] if isinstance(errors, list) and errors else errors
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, str) or not message.strip():
        return "an error without a message"
    line = " ".join(message.split())
    return line[:_MAX_MESSAGE] + ("..." if len(line) > _MAX_MESSAGE else "")
