"""The search syntax as PostgreSQL tsquery text: FTS5's precedence, columns as weights,
and nothing the user types reaching to_tsquery's own syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.errors import SearchQueryError
from syncd.index.pg_query import normalized, tsquery
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
        ("project:app tags:auth models:gpt body:x", "(app:B & auth:C & gpt:C & x:D)"),
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
