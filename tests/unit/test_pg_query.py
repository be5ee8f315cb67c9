"""The search syntax as PostgreSQL tsquery text: FTS5's precedence, columns as weights,
and nothing the user types reaching to_tsquery's own syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.errors import SearchQueryError
from syncd.index.pg_query import evaluate, normalized, tsquery
from syncd.index.pg_search import PART_OVERLAP, PART_WORDS, body_parts
from syncd.index.search_syntax import fts_query


def translated(query: str) -> str:
    return tsquery(fts_query(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("login bug", "(login & bug)"),
        ('"fix the bug"', "(fix <-> the <-> bug)"),
        ("migr*", "migr:*"),
        ("a OR b NOT c", "(a | (b & !c))"),  # NOT binds first, then AND, then OR
        ("(a OR b) c", "((a | b) & c)"),
        ("a AND b OR c", "((a & b) | c)"),
        ("name:login", "login:A"),
        ("project:app tags:auth models:gpt body:x", "(app:B & auth:C & gpt:C & x)"),
        ("auth-migration", "(auth <-> migration)"),
        ("src/app.py", "(src <-> app <-> py)"),
        ("name:auth-migration*", "(auth:A <-> migration:A*)"),
        ("Migração", "migracao"),
        ("snake_case", "(snake <-> case)"),
    ],
)
def test_queries_translate_with_fts5_meaning(query: str, expected: str) -> None:
    assert translated(query) == expected


@pytest.mark.parametrize("query", ["AND", "login AND", "(login", "login)", "a OR", "NOT a"])
def test_a_malformed_query_is_a_syntax_error(query: str) -> None:
    with pytest.raises(SearchQueryError, match="syntax error"):
        translated(query)


def test_documents_split_like_fts5_and_ignore_case_and_accents() -> None:
    words = normalized("Fix README.md: café_au-lait ÉTÉ src/app.py").split()
    assert words == ["fix", "readme", "md", "cafe", "au", "lait", "ete", "src", "app", "py"]


# Printable text, operators and tsquery syntax characters included.
_QUERIES = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@given(_QUERIES)
def test_no_user_text_reaches_tsquery_syntax(query: str) -> None:
    try:
        text = translated(query)
    except SearchQueryError:
        return
    # Only words, weights, prefixes and the operators syncd writes.
    leftover = text.replace("<->", " ").replace("&", " ").replace("|", " ").replace("!", " ")
    for token in leftover.replace("(", " ").replace(")", " ").split():
        word, _, label = token.partition(":")
        # No ASCII but letters and digits: to_tsquery's syntax is all ASCII.
        assert all(c.isalnum() for c in word if c.isascii()), token
        assert word
        assert set(label) <= set("ABCD*"), token


def test_operators_combine_the_sessions_each_term_is_held_by() -> None:
    held = {"a": {1, 2, 3}, "b": {2, 3, 4}, "c": {3}}

    def holding(column: str | None, term: str) -> set[int]:
        return held[term] if column is None else {9}

    assert evaluate(fts_query("a b"), holding) == {2, 3}
    assert evaluate(fts_query("a OR b"), holding) == {1, 2, 3, 4}
    assert evaluate(fts_query("a NOT c"), holding) == {1, 2}
    assert evaluate(fts_query("c OR a NOT b"), holding) == {1, 3}
    assert evaluate(fts_query("name:a"), holding) == {9}


def test_a_body_is_cut_into_parts_that_overlap() -> None:
    words = [f"w{n}" for n in range(PART_WORDS * 2)]
    parts = [part.split() for part in body_parts(" ".join(words))]
    assert all(len(part) <= PART_WORDS for part in parts)
    assert parts[1][:PART_OVERLAP] == parts[0][-PART_OVERLAP:]
    assert set().union(*parts) == set(words)
