"""Snippets and highlights for search hits, matched the way the FTS5 index tokenises."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from io import BytesIO

import pytest

from syncd.index.search import fts_query
from syncd.index.snippets import Highlighter, inflated


def marked(query: str, text: str, column: str = "body") -> str:
    return Highlighter(fts_query(query), column).mark(text)


def snippet_of(query: str, text: str) -> str:
    stream = BytesIO(zlib.compress(text.encode("utf-8"), 1))
    return Highlighter(fts_query(query), "body").snippet(inflated(stream.read))


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("login", "Fix the Login form", "Fix the «Login» form"),
        ("login", "loginform and relogin stay", "loginform and relogin stay"),
        ("migrat*", "Migrating, migration; emigrate", "«Migrating», «migration»; emigrate"),
        ('"dark mode"', "dark\n  mode, dark themes", "«dark\n  mode», dark themes"),
        ("migracao", "a migração do banco", "a «migração» do banco"),
        ("crème", "CREME brûlée", "«CREME» brûlée"),
        ("inserted_at", "by inserted_at or inserted-at", "by «inserted_at» or «inserted-at»"),
        ("README.md", "see readme.md and README", "see «readme.md» and README"),
        ("login NOT password", "login with a password", "«login» with a password"),
        ("(keystroke OR secrets) NOT (focus OR caching)", "secrets, focus", "«secrets», focus"),
        ("name:login", "login", "login"),  # that word is only searched for in the name
        ("login NOT name:auth-flow", "login via auth-flow", "«login» via auth-flow"),
        ("a NOT b c", "a b c", "«a» b c"),
        ("a NOT b AND c", "a b c", "«a» b «c»"),
        ("(a NOT b) c", "a b c", "«a» b «c»"),
    ],
)
def test_words_are_marked_as_the_index_matches_them(query: str, text: str, expected: str) -> None:
    assert marked(query, text) == expected


@pytest.mark.parametrize(
    "query", ["name:login", "name:log*", "name:log-in", "body:form name:login"]
)
def test_a_word_filtered_to_a_column_is_marked_only_there(query: str) -> None:
    text = "log-in form" if "-" in query else "login form"
    assert marked(query, text, column="name").startswith("«log")
    assert "«log" not in marked(query, text, column="body")


def test_a_snippet_is_one_line_around_the_first_match() -> None:
    text = (
        "Opening line.\n\n" + "filler words here. " * 50 + "Now the keystroke bug.\n" + "x " * 200
    )
    snippet = snippet_of("keystroke", text)
    assert "«keystroke»" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "\n" not in snippet
    assert len(snippet) < 260


def test_a_match_deep_in_a_large_body_is_found() -> None:
    text = "".join(f"line {n} of routine output\n" for n in range(200_000)) + "the pelican\n"
    assert len(text) > 4_000_000
    snippet = snippet_of("pelican", text)
    assert snippet.endswith("the «pelican»")


def test_a_phrase_split_across_inflated_pieces_is_found() -> None:
    text = "z" * (32 * 1024 - 3) + " dark mode here"
    assert "«dark mode»" in snippet_of('"dark mode"', text)


def test_without_a_match_in_the_body_the_snippet_is_its_opening() -> None:
    text = "# Session title\n\nWe talked about other things. " + "more " * 20_000
    snippet = snippet_of("pelican", text)
    assert snippet.startswith("# Session title We talked about other things.")
    assert "«" not in snippet


def test_an_empty_body_gives_an_empty_snippet() -> None:
    assert snippet_of("pelican", "") == ""


def pieces_of(*parts: str) -> Iterator[str]:
    yield from parts


def test_a_word_cut_by_a_piece_boundary_is_not_a_false_match() -> None:
    highlighter = Highlighter(fts_query("test"))
    snippet = highlighter.snippet(pieces_of("we ran the test", "ing suite. " + "x " * 200))
    assert "«" not in snippet


def test_the_end_of_a_word_after_dropped_text_is_not_a_false_match() -> None:
    highlighter = Highlighter(fts_query("test"))
    first = "a" * 600 + " pro"
    snippet = highlighter.snippet(pieces_of(first, "test and more " + "y " * 100))
    assert "«" not in snippet


def test_a_match_at_the_end_of_a_piece_waits_for_its_context() -> None:
    highlighter = Highlighter(fts_query("pelican"))
    snippet = highlighter.snippet(pieces_of("lead " * 100 + "the pelican", " flies far " * 40))
    assert "the «pelican» flies far" in snippet
    assert snippet.endswith("…")


def test_a_snippet_stays_short_beside_a_long_run_of_letters() -> None:
    snippet = snippet_of("pelican", "pelican " + "a" * 100_000)
    assert "«pelican»" in snippet
    assert len(snippet) < 300


def bytes_snippet(query: str, text: str, piece: int = 7) -> str:
    """The snippet of `text` read as UTF-8 chunks of `piece` bytes."""
    data = text.encode()
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)]
    return Highlighter(fts_query(query), "body").snippet_of_bytes(chunks)


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ("error", "first line\nan error here", "«error»"),
        ("error", "no match in errors but one ERROR", "«ERROR»"),
        ("error", "only Error here", "«Error»"),
        ('"dark mode"', "we toggled Dark\n  mode on", "«Dark\n  mode»".replace("\n  ", " ")),
        ('"dark mode"', "darkmode, dark-mode", "«dark-mode»"),
        ("migrat*", "the MIGRATIONS ran", "«MIGRATIONS»"),
        ("migracao", "a migração do banco", "«migração»"),
        ("café", "the cafe and the café", "«cafe»"),
    ],
)
def test_a_snippet_from_bytes_marks_what_the_text_search_marks(
    query: str, text: str, marked: str
) -> None:
    assert marked in bytes_snippet(query, text)
    assert bytes_snippet(query, text) == bytes_snippet(query, text, piece=1 << 20)


def test_a_snippet_from_bytes_without_a_match_shows_the_opening() -> None:
    assert bytes_snippet("walrus", "just the opening words") == "just the opening words"


def test_a_snippet_from_bytes_never_splits_a_character() -> None:
    text = "é" * 400 + " the error " + "ü" * 400
    snippet = bytes_snippet("error", text, piece=3)
    assert "«error»" in snippet
    assert "\ufffd" not in snippet
