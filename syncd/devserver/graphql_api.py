"""POST /api/v1/graphql: `searchSessions`, parsed, validated and executed by graphql-core.

graphql-core gives the real language (any whitespace, field order, subsets of fields,
operation names, variables) and the real validation messages, so a client is held to what
a GraphQL server would accept, not to one spelling of the query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphql import GraphQLError, build_schema, graphql_sync

from syncd.devserver.responses import Response, error_response, json_response
from syncd.devserver.search import SearchFilters, SearchHit, SessionSearch, session_tags, words
from syncd.devserver.state import Store

LIMIT_DEFAULT = 20
LIMIT_MAX = 200

SCHEMA = build_schema(
    """
    type Query {
      searchSessions(query: String!, filters: SessionFilters, limit: Int): SearchResult
    }

    input SessionFilters {
      projectId: String
      tags: [String!]
    }

    type SearchResult {
      total: Int!
      results: [SearchHit!]!
    }

    type SearchHit {
      id: ID!
      name: String
      projectId: String!
      rank: Float!
      metadata: SessionMetadata
    }

    type SessionMetadata {
      clientName: String
      tags: [String!]
    }
    """
)


class BadGraphQLRequestError(ValueError):
    """The HTTP body is not a GraphQL request at all (answered 400, not a GraphQL error)."""


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, object] | None
    operation_name: str | None


class GraphQLEndpoint:
    """Answers GraphQL requests against the store; keeps the search's word counts."""

    def __init__(self) -> None:
        self._search = SessionSearch()

    def answer(self, body: bytes, store: Store) -> Response:
        try:
            request = parse_request(body)
        except BadGraphQLRequestError as exc:
            return error_response(400, str(exc))
        result = graphql_sync(
            SCHEMA,
            request.query,
            root_value=_Query(store, self._search),
            variable_values=request.variables,
            operation_name=request.operation_name,
        )
        if result.errors:
            # The cloud's documented shape: any error leaves no partial data behind.
            errors = [error.formatted for error in result.errors]
            return json_response(200, {"errors": errors, "data": None})
        return json_response(200, {"data": result.data})


def parse_request(body: bytes) -> GraphQLRequest:
    """`{"query": ..., "variables": {...}, "operationName": ...}` from a JSON body."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadGraphQLRequestError(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadGraphQLRequestError("Request body must be a JSON object")
    query = payload.get("query")
    if not isinstance(query, str):
        raise BadGraphQLRequestError("Field 'query' is required and must be a string")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadGraphQLRequestError("Field 'variables' must be a JSON object")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadGraphQLRequestError("Field 'operationName' must be a string")
    return GraphQLRequest(query, variables, operation_name)


@dataclass(frozen=True)
class _Query:
    """The root value: graphql-core's default resolver calls the method named like the field."""

    store: Store
    search: SessionSearch

    def searchSessions(  # the GraphQL field's name
        self,
        info: object,  # graphql-core passes its GraphQLResolveInfo; unused
        query: str,
        filters: dict[str, object] | None = None,
        limit: int | None = None,
    ) -> dict[str, object]:
        limit = LIMIT_DEFAULT if limit is None else limit
        if not 1 <= limit <= LIMIT_MAX:
            raise GraphQLError(f"limit must be from 1 to {LIMIT_MAX}, got {limit}")
        if not words(query):
            raise GraphQLError("query must contain at least one word")
        hits = self.search.search(self.store.all_sessions(), query, _filters(filters))
        return {"total": len(hits), "results": [_hit_json(hit) for hit in hits[:limit]]}


def _filters(raw: dict[str, object] | None) -> SearchFilters:
    """SessionFilters as graphql-core coerced it: absent keys are absent, null is None."""
    if raw is None:
        return SearchFilters()
    project_id = raw.get("projectId")
    tags = raw.get("tags")
    return SearchFilters(
        project_id=project_id if isinstance(project_id, str) else None,
        tags=tuple(tag for tag in tags if isinstance(tag, str)) if isinstance(tags, list) else (),
    )


def _hit_json(hit: SearchHit) -> dict[str, object]:
    session = hit.session
    client_name = session.metadata.get("clientName")
    return {
        "id": session.id,
        "name": session.name,
        "projectId": session.project_id,
        "rank": hit.rank,
        "metadata": {
            "clientName": client_name if isinstance(client_name, str) else None,
            "tags": session_tags(session),
        },
    }
