"""Ranking search hits by the fields that hold the words, from the index alone.

bm25() reads the positions of every word searched for in every matching session: on a
word most sessions have, that is most of the cost of a search, and it grows with the
matches. This score is bm25's without term frequency: for each word searched for (not
those after NOT), its inverse document frequency times the weight of each field that
holds it, a hit in the name counting most and the body least. Which sessions hold a word
at all is one lookup in `session_search`; which hold it in a short field (name, project,
tags, models), one in `session_search_fields`, which keeps no positions and is tiny. Ties
go to the session indexed last (the most recently changed).

The lookups are a backend's (`Lookups`): SQLite's FTS5 tables here (`Fts5Lookups`),
PostgreSQL's GIN indexes in pg_search; the scoring is the same on both.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from syncd.index import search_syntax, snippets

SEARCH_TABLE = "session_search"
FIELDS_TABLE = "session_search_fields"
# Weights per column: a hit in the name counts most, the body least.
FIELD_WEIGHTS = {"name": 10.0, "project": 4.0, "tags": 3.0, "models": 3.0}
BODY_WEIGHT = 1.0
_MOST_GROUPED_WORDS = 5  # 2^5 groups at most


@dataclass(frozen=True)
class Ranked:
    row_id: int
    score: float
    in_field: bool  # a word searched for is in a short field (maybe not in the body)


class Lookups(Protocol):
    """Which sessions hold what, from a backend's index (sets of row ids)."""

    def matching(self, fts: str) -> set[int]:
        """The sessions matching a whole query."""
        ...

    def holding(self, column: str | None, term: str) -> set[int]:
        """The sessions holding one term (a word, `prefix*` or phrase), in `column` or
        anywhere."""
        ...

    def in_field(self, field: str, term: str) -> set[int]:
        """The sessions whose short field (name, project, tags, models) holds every word
        of `term` (a phrase counts where all its words are: no positions are kept)."""
        ...

    def total(self) -> int:
        """How many sessions are indexed (at least 1)."""
        ...


class Fts5Lookups:
    """Lookups in SQLite's FTS5 tables."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def matching(self, fts: str) -> set[int]:
        return rowids(self._connection, SEARCH_TABLE, fts)

    def holding(self, column: str | None, term: str) -> set[int]:
        return self.matching(f"{column} : {term}" if column else term)

    def in_field(self, field: str, term: str) -> set[int]:
        loose = search_syntax.loose(term)
        return rowids(self._connection, FIELDS_TABLE, f"{field} : ({loose})")

    def total(self) -> int:
        return _row_count(self._connection)


def rank(connection: sqlite3.Connection, fts: str) -> Iterator[Ranked]:
    """Every session matching `fts` in SQLite's FTS5 tables, best first."""
    return rank_with(Fts5Lookups(connection), fts)


def rank_with(lookups: Lookups, fts: str) -> Iterator[Ranked]:
    """Every session matching `fts`, best first (ties: the higher rowid first).

    Bounded: the few sessions holding a word in a short field are scored one by one; the
    others score by which words they hold, so they fall into at most 2^words groups made
    with set operations, each ordered by rowid in C. Nothing is computed per matching
    session in Python, and the merge stops when the caller has enough.
    """
    matching = lookups.matching(fts)
    if not matching:
        return iter(())
    total = lookups.total()
    held: list[tuple[float, set[int]]] = []  # (weight, sessions holding the word anywhere)
    in_fields: dict[int, float] = {}
    for column, term in snippets.positive_terms(fts):
        if not search_syntax.words_of(term):
            continue
        alone = f"{column} : {term}" if column else term
        # A query of one word is its own lookup: not made twice.
        anywhere = matching if alone == fts else lookups.holding(column, term) & matching
        weight = _idf(total, len(anywhere))
        if column in (None, "body"):  # held anywhere: counted as the body's (the usual case)
            held.append((weight * BODY_WEIGHT, anywhere))
        # Positions are not kept for the short fields: a phrase counts where all its words are.
        for field, field_weight in FIELD_WEIGHTS.items():
            if column in (None, field):
                for row_id in lookups.in_field(field, term) & matching:
                    in_fields[row_id] = in_fields.get(row_id, 0.0) + weight * field_weight
    if len(held) > _MOST_GROUPED_WORDS:  # too many groups: score each session instead
        in_fields = {row_id: in_fields.get(row_id, 0.0) for row_id in matching}
    scored = [
        Ranked(row_id, bonus + sum(w for w, having in held if row_id in having), True)
        for row_id, bonus in in_fields.items()
    ]
    scored.sort(key=lambda r: (-r.score, -r.row_id))
    rest = matching.difference(in_fields)
    groups = [_group(score, members) for score, members in _by_words_held(held, rest)]
    return heapq.merge(iter(scored), *groups, key=lambda r: (-r.score, -r.row_id))


def _by_words_held(
    held: list[tuple[float, set[int]]], sessions: set[int]
) -> Iterator[tuple[float, set[int]]]:
    """(score, sessions) for each combination of the words held (with set operations)."""
    for chosen in itertools.product((True, False), repeat=len(held)):
        members = set(sessions)
        score = 0.0
        for (weight, having), has in zip(held, chosen, strict=True):
            if has:
                members &= having
                score += weight
            else:
                members -= having
        if members:
            yield score, members


def _group(score: float, members: set[int]) -> Iterator[Ranked]:
    for row_id in sorted(members, reverse=True):
        yield Ranked(row_id, score, False)


def rowids(connection: sqlite3.Connection, table: str, fts: str) -> set[int]:
    """The rowids of `table` matching `fts`, joined into one string by SQLite: thousands
    of rows cost one Python object instead of thousands."""
    (joined,) = connection.execute(
        f"SELECT group_concat(rowid) FROM {table} WHERE {table} MATCH ?", (fts,)
    ).fetchone()
    return set(map(int, joined.split(","))) if joined else set()


def _row_count(connection: sqlite3.Connection) -> int:
    row = connection.execute(f"SELECT count(*) FROM {SEARCH_TABLE}_docsize").fetchone()
    return max(1, int(row[0]))


def _idf(total: int, having: int) -> float:
    # bm25's, kept positive for words most sessions have (as Lucene does).
    return math.log(1.0 + (total - having + 0.5) / (having + 0.5))
