"""`syncd search --cloud`: the cloud's own search (GraphQL searchSessions), each hit told
as mirrored (its file) or not mirrored yet.

One GraphQL query and no REST request: it spends only the GraphQL budget. Without a
mirror (never synced) it still answers; every hit is then "not mirrored yet".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.app.browsing import match_project, open_mirror, reading_index
from syncd.cloud.graphql import MAX_SEARCH_LIMIT, CloudHit, GraphQLClient, graphql_budget
from syncd.config import Settings
from syncd.errors import ConfigError, MirrorMissingError, SyncdError
from syncd.index.records import ProjectRecord
from syncd.model import SessionRecord

if TYPE_CHECKING:
    from syncd.index.store import Store

logger = logging.getLogger(__name__)

#: The most hits `search --cloud` may ask for (the API's cap on searchSessions).
MAX_CLOUD_LIMIT = MAX_SEARCH_LIMIT


@dataclass(frozen=True)
class CloudFound:
    """One hit of the cloud's search and what the mirror knows of it."""

    hit: CloudHit
    project: str  # the project's name when the index knows it, else its id
    path: Path | None  # the mirrored file; None when not mirrored yet


@dataclass(frozen=True)
class CloudResults:
    total: int
    found: list[CloudFound]


@dataclass(frozen=True)
class _Known:
    projects: dict[str, ProjectRecord]
    sessions: dict[str, SessionRecord]


def search_cloud(
    settings: Settings,
    query: str,
    *,
    project: str | None = None,
    tags: tuple[str, ...] = (),
    limit: int = 20,
) -> CloudResults:
    """The cloud's best `limit` sessions for `query` (GraphQL, one query)."""
    api_key = settings.resolve_api_key()
    if api_key is None:
        raise ConfigError("SYNCD_API_KEY", "search --cloud asks SpecStory Cloud: set the API key")
    known = _known(settings)
    project_id = None if project is None else _project_id(known, project)
    # Here: only a cloud search pays for the HTTP client and the index's writer.
    from syncd.daemon.runtime import build_client
    from syncd.sync import graphql_budget as saved_budget

    budget = graphql_budget(settings.budget.reserve, interactive=True)
    with (
        _store(settings) as store,
        build_client(settings, settings.base_url, api_key, interactive=True) as client,
    ):
        if store is not None:
            saved_budget.restore(store, budget)
        graphql = GraphQLClient(client, budget)
        try:
            results = graphql.search_sessions(query, project_id, tags, limit)
        finally:
            if store is not None:
                _save(store, graphql)
    return CloudResults(results.total, [_found(settings, known, hit) for hit in results.hits])


def _known(settings: Settings) -> _Known:
    """The mirror's projects and sessions; none when there is no mirror yet."""
    try:
        with reading_index(settings) as index:
            return _Known(index.projects(), index.sessions())
    except MirrorMissingError:
        return _Known({}, {})


def _project_id(known: _Known, wanted: str) -> str:
    """--project as the CLI matches it elsewhere; taken as an id when nothing is mirrored."""
    if not known.projects:
        return wanted
    return match_project(list(known.projects.values()), wanted).id


def _found(settings: Settings, known: _Known, hit: CloudHit) -> CloudFound:
    record = known.sessions.get(hit.id)
    project_id = hit.project_id or (record.project_id if record else None)
    project = known.projects.get(project_id) if project_id else None
    name = project.name if project else (project_id or "?")
    mirrored = record is not None and not record.cloud_deleted_at
    path = settings.mirror_root / record.path if record is not None and mirrored else None
    return CloudFound(hit, name, path)


@contextmanager
def _store(settings: Settings) -> Iterator[Store | None]:
    """The index to keep the GraphQL budget in; None without a mirror (nothing to keep)."""
    try:
        store, _ = open_mirror(settings)
    except MirrorMissingError:
        yield None
        return
    with store:
        yield store


def _save(store: Store, graphql: GraphQLClient) -> None:
    from syncd.sync import graphql_budget as saved_budget

    try:
        saved_budget.save(store, graphql.budget)
    except SyncdError as exc:  # a busy index must not hide the answer
        logger.warning("the GraphQL budget was not saved: %s", exc)
