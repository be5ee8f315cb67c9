"""Ranking search hits by the fields that hold the words, from the index alone.

bm25() reads the positions of every word searched for in every matching session: on a
word most sessions have, that is most of the cost of a search, and it grows with the
matches. This score is bm25's without term frequency: for each word searched for (not
those after NOT), its inverse document frequency times the weight of each field that
holds it, a hit in the name counting most and the body least. Which sessions hold a word
at all is one lookup in `session_search`; which hold it in a short field (name, project,
tags, models), one in `session_search_fields`, which keeps no positions and is tiny. Ties
go to the session indexed last (the most recently changed).
"""

from __future__ import annotations

import math
import sqlite3

from syncd.index import search_syntax, snippets

SEARCH_TABLE = "session_search"
FIELDS_TABLE = "session_search_fields"
# Weights per column: a hit in the name counts most, the body least.
FIELD_WEIGHTS = {"name": 10.0, "project": 4.0, "tags": 3.0, "models": 3.0}
BODY_WEIGHT = 1.0


def rank(connection: sqlite3.Connection, fts: str) -> list[tuple[int, float]]:
    """(rowid, score) of every session matching `fts`, best first."""
    matching = rowids(connection, SEARCH_TABLE, fts)
    if not matching:
        return []
    scores = dict.fromkeys(matching, 0.0)
    total = _row_count(connection)
    for column, term in snippets.positive_terms(fts):
        if not search_syntax.words_of(term):
            continue
        alone = f"{column} : {term}" if column else term
        # A query of one word is its own lookup: not made twice.
        anywhere = matching if alone == fts else rowids(connection, SEARCH_TABLE, alone)
        weight = _idf(total, len(anywhere))
        if column in (None, "body"):  # held anywhere: counted as the body's (the usual case)
            for row_id in anywhere & matching:
                scores[row_id] += weight * BODY_WEIGHT
        # Positions are not kept for the short fields: a phrase counts where all its words are.
        loose = search_syntax.loose(term)
        for field, field_weight in FIELD_WEIGHTS.items():
            if column in (None, field):
                for row_id in rowids(connection, FIELDS_TABLE, f"{field} : ({loose})") & matching:
                    scores[row_id] += weight * field_weight
    # Best score first, ties to the higher rowid: a stable sort by score over rowids in
    # descending order (both sorts in C, no Python key per session).
    order = sorted(scores, reverse=True)
    order.sort(key=scores.__getitem__, reverse=True)
    return [(row_id, scores[row_id]) for row_id in order]


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
