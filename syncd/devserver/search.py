"""Full-text search over the stored sessions, as the GraphQL `searchSessions` answers it.

Every word of the query must appear (as a whole word, any case) in the session's name or
Markdown. A hit's rank adds, for each query word, a heavy weight per occurrence in the name
and a damped count of its occurrences in the Markdown, so a title match beats a passing
mention. Word counts of a body are computed once per content fingerprint and reused.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from syncd.devserver.body import MarkdownBody, RepeatedBody
from syncd.devserver.state import Session

NAME_WEIGHT = 5.0
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the hits: one project, and tags a session must all carry."""

    project_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    session: Session
    rank: float


def words(text: str) -> list[str]:
    """The case-folded words of `text`, in order."""
    return _WORD.findall(text.casefold())


def session_tags(session: Session) -> list[str]:
    """The string tags in the session's metadata (anything else there is ignored)."""
    tags = session.metadata.get("tags")
    if not isinstance(tags, list):
        return []
    return [tag for tag in tags if isinstance(tag, str)]


class SessionSearch:
    """Ranks sessions against a query; keeps each body's word counts between queries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def search(
        self, sessions: Iterable[Session], query: str, filters: SearchFilters
    ) -> list[SearchHit]:
        """Every matching session, best rank first, then by id (a stable order)."""
        wanted = sorted(set(words(query)))
        stored = list(sessions)
        candidates = [s for s in stored if _passes(s, filters)]
        hits: list[SearchHit] = []
        with self._lock:
            live = {s.body.fingerprint for s in stored}
            for session in candidates:
                rank = _rank(wanted, Counter(words(session.name)), self._body_counts(session.body))
                if rank is not None:
                    hits.append(SearchHit(session, rank))
            # Bodies replaced or deleted since the last query are forgotten.
            for fingerprint in set(self._counts) - live:
                del self._counts[fingerprint]
        return sorted(hits, key=lambda hit: (-hit.rank, hit.session.id))

    def _body_counts(self, body: MarkdownBody) -> Counter[str]:
        counts = self._counts.get(body.fingerprint)
        if counts is None:
            counts = _count_words(body)
            self._counts[body.fingerprint] = counts
        return counts


def _passes(session: Session, filters: SearchFilters) -> bool:
    if filters.project_id is not None and session.project_id != filters.project_id:
        return False
    return set(filters.tags) <= set(session_tags(session))


def _rank(wanted: Sequence[str], in_name: Counter[str], in_body: Counter[str]) -> float | None:
    """The rank of a session holding every wanted word, or None when one is missing."""
    if not wanted:
        return None
    rank = 0.0
    for word in wanted:
        name_hits, body_hits = in_name[word], in_body[word]
        if not name_hits and not body_hits:
            return None
        rank += NAME_WEIGHT * name_hits + math.log1p(body_hits)
    return round(rank, 6)


def _count_words(body: MarkdownBody) -> Counter[str]:
    """Word counts of a body; a huge repeated body is counted block by block, not read whole."""
    if isinstance(body, RepeatedBody):
        counts = _decoded_counts(body.head) + _decoded_counts(body.tail)
        for word, count in _decoded_counts(body.block).items():
            counts[word] += count * body.count
        return counts
    counts = Counter[str]()
    for piece in body.pieces():
        counts += _decoded_counts(piece)
    return counts


def _decoded_counts(piece: bytes) -> Counter[str]:
    return Counter(words(piece.decode("utf-8", errors="replace")))
