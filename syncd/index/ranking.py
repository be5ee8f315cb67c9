"""Ranking search hits from an index that keeps no word counts.

SQLite's bm25() needs word positions (`detail=full`); the index keeps only which words
each session has in which column (`detail=column`, a tenth of the size), where bm25()
scores every session 0. So the score is bm25's without term frequency: for each word
searched for (not those after NOT), its inverse document frequency times the weight of
each column that holds it, a hit in the name counting most and the body least. Ties go
to the session indexed last (the most recently changed).

Which sessions hold a word in a column is one FTS5 lookup per word and column, answered
from the index with no text read.
"""

from __future__ import annotations

import math
import sqlite3

from syncd.index import search_syntax, snippets

SEARCH_TABLE = "session_search"
# Weights per column: a hit in the name counts most, the body least.
WEIGHTS = {"name": 10.0, "project": 4.0, "tags": 3.0, "models": 3.0, "body": 1.0}


def rank(connection: sqlite3.Connection, fts: str) -> list[tuple[int, float]]:
    """(rowid, score) of every FTS5 row matching `fts`, best first."""
    matching = _rowids(connection, fts)
    if not matching:
        return []
    scores = dict.fromkeys(matching, 0.0)
    total = _row_count(connection)
    for column, term in snippets.positive_terms(fts):
        query = _term_query(term)
        if query is None:
            continue
        holders = {
            name: _rowids(connection, f"{name} : ({query})")
            for name in WEIGHTS
            if column in (None, name)
        }
        having = set().union(*holders.values())
        weight = _idf(total, len(having))
        for name, rows in holders.items():
            for row_id in rows & matching:
                scores[row_id] += weight * WEIGHTS[name]
    return sorted(scores.items(), key=lambda item: (-item[1], -item[0]))


def _term_query(term: str) -> str | None:
    """`term` as an FTS5 query the index can answer (a phrase becomes its words ANDed)."""
    node = search_syntax.Term(None, term)
    if not node.words:
        return None
    return search_syntax.candidates(node)


def _rowids(connection: sqlite3.Connection, fts: str) -> set[int]:
    rows = connection.execute(
        f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ?", (fts,)
    )
    return {row[0] for row in rows}


def _row_count(connection: sqlite3.Connection) -> int:
    row = connection.execute(f"SELECT count(*) FROM {SEARCH_TABLE}_docsize").fetchone()
    return max(1, int(row[0]))


def _idf(total: int, having: int) -> float:
    # bm25's, kept positive for words most sessions have (as Lucene does).
    return math.log(1.0 + (total - having + 0.5) / (having + 0.5))
