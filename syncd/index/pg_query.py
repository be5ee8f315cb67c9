"""The search query language (search_syntax's, FTS5's) for PostgreSQL.

`syncd search` promises one syntax on every backend: words, "quoted phrases", prefix*,
AND / OR / NOT, parentheses and column filters (`name:login`). websearch_to_tsquery reads
phrases, `or` and `-word` but has no prefixes, parentheses or columns, so the query is
parsed here (FTS5's precedence: NOT, then AND, then OR). Each term becomes to_tsquery
text for the 'simple' configuration, every word reduced to letters and digits, lower case
and without accents, as the documents are (`normalized`): nothing the user types reaches
to_tsquery's own syntax. The operators between terms are applied to sets of sessions
(`evaluate`): a session's body is indexed in parts (see pg_search), so a query's words
may be in different parts, or in the name and the body.

The short fields are tsvector weights: name A, project B, tags and models C (one weight
for both: PostgreSQL has four).

No I/O and no third-party import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from syncd.errors import SearchQueryError
from syncd.index import search_syntax, snippets

WEIGHTS = {"name": "A", "project": "B", "tags": "C", "models": "C"}
COLUMNS = (*WEIGHTS, "body")
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"(?:[^"]|"")*"\*?)|(?P<paren>[()])|(?P<word>[^\s"()]+))')
_COLUMN = re.compile(r"(?P<column>name|project|tags|models|body):(?P<term>.+)")


def normalized(text: str) -> str:
    """`text` as the index and the queries see it: words of letters and digits (FTS5's
    unicode61 split: punctuation and underscores separate), lower case, no accents.

    ASCII punctuation becomes a space here, so PostgreSQL's parser makes no compound
    token (`readme.md`, `src/app.py`, `auth-migration`) of what FTS5 splits; it splits on
    the other non-letters itself and its 'simple' dictionary lowers the rest. Done on bytes
    and on the few accented letters alone: a regex over every character cost more than
    PostgreSQL's own indexing.
    """
    ascii_done = text.encode("utf-8", "ignore").translate(_ASCII_WORDS).decode("utf-8")
    return _LATIN_LETTER.sub(_unaccented, ascii_done)


def _ascii_words_table() -> bytes:
    """A bytes.translate table: ASCII letters and digits lower-cased, other ASCII bytes a
    space, every byte of a non-ASCII character kept."""
    table = bytearray(range(256))
    for byte in range(128):
        character = chr(byte)
        table[byte] = ord(character.lower()) if character.isalnum() else ord(" ")
    return bytes(table)


_ASCII_WORDS = _ascii_words_table()
# The Latin letters snippets.fold strips accents from (and their capitals).
_LATIN_LETTER = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")


def _unaccented(match: re.Match[str]) -> str:
    return snippets.fold(match.group())


def tsquery(fts: str) -> str:
    """`fts` (as search_syntax.fts_query writes it) as one to_tsquery text, column filters
    as weights (`body:` as no filter): how the query reads, for messages and tests."""
    parsed = _Parser(fts, _Text()).parse()
    if parsed is None:
        raise SearchQueryError(fts, "it has no words, only punctuation")
    return parsed


def evaluate(fts: str, holding: Callable[[str | None, str], set[int]]) -> set[int]:
    """The sessions matching `fts`: `holding(column, term)` gives those holding one term
    (in that column, or anywhere when None); AND, OR and NOT combine the sets."""
    found = _Parser(fts, _Sets(holding)).parse()
    if found is None:
        raise SearchQueryError(fts, "it has no words, only punctuation")
    return found


def term(term_text: str, column: str | None = None) -> str | None:
    """One word, `prefix*` or "phrase" as tsquery text (None when it holds no word); a
    short field's column restricts it to that field's weight."""
    star = term_text.endswith("*")
    words = normalized(" ".join(search_syntax.words_of(term_text))).split()
    if not words:
        return None
    weight = WEIGHTS.get(column or "", "")
    labels = [weight] * len(words)
    if star:
        labels[-1] += "*"
    pairs = zip(words, labels, strict=True)
    parts = [f"{word}:{label}" if label else word for word, label in pairs]
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def loose(term_text: str, weight: str) -> str | None:
    """Every word of one term, ANDed, restricted to `weight`: for the short fields, as
    ranking reads FTS5's fields table (without positions)."""
    star = term_text.endswith("*")
    words = normalized(" ".join(search_syntax.words_of(term_text))).split()
    if not words:
        return None
    last = len(words) - 1
    parts = [f"{w}:{weight}" + ("*" if star and i == last else "") for i, w in enumerate(words)]
    return " & ".join(parts)


T = TypeVar("T")


class _Builder(Protocol[T]):
    """What the parser makes of terms and operators."""

    def term(self, column: str | None, term_text: str) -> T | None: ...
    def both(self, parts: list[T]) -> T: ...
    def either(self, parts: list[T]) -> T: ...
    def without(self, kept: T, excluded: T) -> T: ...


class _Text:
    """Builds one tsquery text."""

    def term(self, column: str | None, term_text: str) -> str | None:
        return term(term_text, column)

    def both(self, parts: list[str]) -> str:
        return "(" + " & ".join(parts) + ")"

    def either(self, parts: list[str]) -> str:
        return "(" + " | ".join(parts) + ")"

    def without(self, kept: str, excluded: str) -> str:
        return f"({kept} & !{excluded})"


class _Sets:
    """Builds the set of sessions matching."""

    def __init__(self, holding: Callable[[str | None, str], set[int]]) -> None:
        self._holding = holding

    def term(self, column: str | None, term_text: str) -> set[int] | None:
        if not search_syntax.words_of(term_text):
            return None
        return self._holding(column, term_text)

    def both(self, parts: list[set[int]]) -> set[int]:
        return set.intersection(*parts)

    def either(self, parts: list[set[int]]) -> set[int]:
        return set.union(*parts)

    def without(self, kept: set[int], excluded: set[int]) -> set[int]:
        return kept - excluded


class _Parser(Generic[T]):
    """Recursive descent over the tokens: or := and (OR and)*; and := not ([AND] not)*;
    not := primary (NOT primary)*; primary := ( or ) | term. A term with no word (only
    punctuation) drops out."""

    def __init__(self, fts: str, build: _Builder[T]) -> None:
        self._query = fts
        self._build = build
        self._tokens = [m.group().strip() for m in _TOKEN.finditer(fts) if m.group().strip()]
        self._at = 0

    def parse(self) -> T | None:
        result = self._or()
        if self._at < len(self._tokens):
            self._fail(f"{self._tokens[self._at]!r} is not expected there")
        return result

    def _peek(self) -> str | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self) -> str:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _or(self) -> T | None:
        parts = [self._and()]
        while self._peek() == "OR":
            self._take()
            parts.append(self._and())
        kept = [part for part in parts if part is not None]
        if len(kept) <= 1:
            return kept[0] if kept else None
        return self._build.either(kept)

    def _and(self) -> T | None:
        parts = [self._not()]
        while (token := self._peek()) is not None and token not in ("OR", ")"):
            if token == "AND":
                self._take()
            parts.append(self._not())
        kept = [part for part in parts if part is not None]
        if len(kept) <= 1:
            return kept[0] if kept else None
        return self._build.both(kept)

    def _not(self) -> T | None:
        result = self._primary()
        while self._peek() == "NOT":
            self._take()
            excluded = self._primary()
            if excluded is not None and result is not None:
                result = self._build.without(result, excluded)
        return result

    def _primary(self) -> T | None:
        token = self._peek()
        if token is None or token in ("OR", "AND", "NOT", ")"):
            self._fail(f"{token or 'the end'} needs a word before it")
        token = self._take()
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                self._fail("a parenthesis is not closed")
            self._take()
            return inner
        if token.endswith(":") and token[:-1] in COLUMNS and self._peek() is not None:
            token += self._take()  # `name:"two words"`: the filter, then its phrase
        column = _COLUMN.fullmatch(token)
        if column is not None:
            return self._build.term(column["column"], column["term"])
        return self._build.term(None, token)

    def _fail(self, problem: str) -> None:
        raise SearchQueryError(self._query, f"syntax error: {problem}")
