"""The search query language (search_syntax's, FTS5's) as PostgreSQL tsquery text.

`syncd search` promises one syntax on every backend: words, "quoted phrases", prefix*,
AND / OR / NOT, parentheses and column filters (`name:login`). websearch_to_tsquery reads
phrases, `or` and `-word` but has no prefixes, parentheses or columns, so the query is
parsed here (FTS5's precedence: NOT, then AND, then OR) and written for
to_tsquery('simple', ...), every word reduced to letters and digits, lower case and
without accents, as the documents are (`normalized`): nothing the user types reaches
to_tsquery's own syntax.

Columns are tsvector weights: name A, project B, tags and models C (one weight for both:
PostgreSQL has four), body D.

No I/O and no third-party import.
"""

from __future__ import annotations

import re

from syncd.errors import SearchQueryError
from syncd.index import search_syntax, snippets

WEIGHTS = {"name": "A", "project": "B", "tags": "C", "models": "C", "body": "D"}
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


def tsquery(fts: str, *, only: str | None = None) -> str:
    """`fts` (as search_syntax.fts_query writes it) as to_tsquery text; with `only` (a
    weight letter), every word restricted to that weight."""
    parser = _Parser(fts, only)
    text = parser.parse()
    if text is None:
        raise SearchQueryError(fts, "it has no words, only punctuation")
    return text


def term(term_text: str, column: str | None = None, *, only: str | None = None) -> str | None:
    """One word, `prefix*` or "phrase" as tsquery text (None when it holds no word)."""
    star = term_text.endswith("*")
    words = normalized(" ".join(search_syntax.words_of(term_text))).split()
    if not words:
        return None
    weight = only or (WEIGHTS[column] if column else "")
    labels = [weight] * len(words)
    if star:
        labels[-1] += "*"
    parts = [
        f"{word}:{label}" if label else word for word, label in zip(words, labels, strict=True)
    ]
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def loose(term_text: str, weight: str) -> str | None:
    """Every word of one term, ANDed, restricted to `weight`: for the short fields, whose
    tsvector ranking reads as FTS5's fields table without positions."""
    star = term_text.endswith("*")
    words = normalized(" ".join(search_syntax.words_of(term_text))).split()
    if not words:
        return None
    last = len(words) - 1
    parts = [f"{w}:{weight}" + ("*" if star and i == last else "") for i, w in enumerate(words)]
    return " & ".join(parts)


class _Parser:
    """Recursive descent over the tokens: or := and (OR and)*; and := not ([AND] not)*;
    not := primary (NOT primary)*; primary := ( or ) | term."""

    def __init__(self, fts: str, only: str | None) -> None:
        self._query = fts
        self._only = only
        self._tokens = [m.group().strip() for m in _TOKEN.finditer(fts) if m.group().strip()]
        self._at = 0

    def parse(self) -> str | None:
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

    def _or(self) -> str | None:
        parts = [self._and()]
        while self._peek() == "OR":
            self._take()
            parts.append(self._and())
        return _joined(parts, " | ")

    def _and(self) -> str | None:
        parts = [self._not()]
        while (token := self._peek()) is not None and token not in ("OR", ")"):
            if token == "AND":
                self._take()
            parts.append(self._not())
        return _joined(parts, " & ")

    def _not(self) -> str | None:
        result = self._primary()
        while self._peek() == "NOT":
            self._take()
            excluded = self._primary()
            if excluded is not None:
                result = f"({result} & !{excluded})" if result else None
        return result

    def _primary(self) -> str | None:
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
        if token.endswith(":") and token[:-1] in WEIGHTS and self._peek() is not None:
            token += self._take()  # `name:"two words"`: the filter, then its phrase
        column = _COLUMN.fullmatch(token)
        if column is not None:
            return term(column["term"], column["column"], only=self._only)
        return term(token, only=self._only)

    def _fail(self, problem: str) -> None:
        raise SearchQueryError(self._query, f"syntax error: {problem}")


def _joined(parts: list[str | None], operator: str) -> str | None:
    kept = [part for part in parts if part is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + operator.join(kept) + ")"
