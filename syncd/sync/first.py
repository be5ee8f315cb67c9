"""sync.first (`syncd sync --first QUERY`): the sessions the cloud's own search finds for
a query are downloaded before the rest of a backlog.

One GraphQL searchSessions query (its own budget, never REST's) names them; the plan then
only orders its steps, so the executor, crash safety and settling are those of any cycle.
A query that fails (budget spent, refused, server down) costs a warning: the cycle goes on
in the usual order.
"""

from __future__ import annotations

import logging

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.cloud.graphql import MAX_SEARCH_LIMIT, GraphQLClient
from syncd.errors import SyncdError
from syncd.index.store import Store
from syncd.sync import graphql_budget

logger = logging.getLogger(__name__)


def sessions_first(client: CloudClient, store: Store, query: str) -> frozenset[str]:
    """The ids the cloud's search finds for `query` (at most MAX_SEARCH_LIMIT); none when
    the query fails. The GraphQL budget follows the REST budget's reserve and patience
    (an interactive run may spend the reserve, the daemon not) and is kept in the index."""
    rest = client.budget
    budget = RateBudget(reserve=rest.reserve, interactive=rest.interactive, clock=rest.now)
    graphql_budget.restore(store, budget)
    try:
        found = GraphQLClient(client, budget).search_sessions(query, limit=MAX_SEARCH_LIMIT)
    except SyncdError as exc:
        logger.warning("sync.first not applied, the usual order instead: %s", exc.message)
        return frozenset()
    finally:
        try:
            graphql_budget.save(store, budget)
        except SyncdError as exc:
            logger.warning("the GraphQL budget was not saved: %s", exc.message)
    logger.info(
        "the cloud's search finds %d session%s for %r (sync.first): new or changed, they go first",
        len(found.hits),
        "" if len(found.hits) == 1 else "s",
        query,
    )
    return frozenset(hit.id for hit in found.hits)
