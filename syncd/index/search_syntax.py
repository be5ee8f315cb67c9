"""The search query language: FTS5's, made forgiving for plain words, and checked on text.

Query syntax is FTS5's, made forgiving for plain words:
- `"quoted phrases"`, `prefix*`, `AND` / `OR` / `NOT` (upper case), parentheses and
  column filters (`name:login`) pass through to FTS5 unchanged;
- a bare word holding characters FTS5 reads as syntax (`auth-migration`, `README.md`,
  `src/app.py`) is quoted into a phrase, so it matches those words next to each other;
- anything FTS5 still cannot parse raises SearchQueryError (one line, no traceback).

The index keeps no word positions (`detail=column`, a tenth of the size), so FTS5 cannot
match a phrase of several words. `candidates` rewrites such a query into one FTS5 can
answer and that finds at least every true match (a phrase becomes its words ANDed, a NOT
of a phrase is left out); `Matcher` then decides each candidate on its text. Queries
without such phrases go to FTS5 as they are and need no check.

No I/O and no third-party import: `syncd search` parses queries before SQLAlchemy loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from syncd.errors import SearchQueryError
from syncd.index import snippets

_OPERATORS = frozenset({"AND", "OR", "NOT"})
# What FTS5 accepts unquoted: letters, digits, '_', and any non-ASCII character.
_BAREWORD = re.compile(r"[\w\x80-\U0010ffff]+")
_COLUMN_FILTER = re.compile(r"(?P<column>name|project|tags|models|body):(?P<rest>.*)")
# A double-quoted string (FTS5 escapes a quote inside it by doubling it), a parenthesis,
# or a run of anything else up to the next space, quote or parenthesis.
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"(?:[^"]|"")*"\*?)|(?P<paren>[()])|(?P<word>[^\s"()]+))')
# The tokens of an FTS5 query as fts_query writes it.
_FTS_TOKEN = re.compile(r'[a-z]+:"(?:[^"]|"")*"\*?|"(?:[^"]|"")*"\*?|[()]|[^\s"()]+')
_WORD_CHARS = re.compile(r"[^\W_]+")


def fts_query(query: str) -> str:
    """`query` as FTS5 should read it: bare words with punctuation become quoted phrases."""
    if not query.strip():
        raise SearchQueryError(query, "there is nothing to search for")
    parts: list[str] = []
    position = 0
    stripped = query.rstrip()
    while position < len(stripped):
        token = _TOKEN.match(stripped, position)
        if token is None or token.end() == position:
            raise SearchQueryError(query, "a double quote is not closed")
        position = token.end()
        if token["word"] is not None:
            parts.extend(_word(query, token["word"]))
        else:
            parts.append(token["phrase"] or token["paren"])
    if not parts:
        raise SearchQueryError(query, "it has no words, only punctuation")
    return " ".join(parts)


def _word(query: str, word: str) -> list[str]:
    """One whitespace-separated bare word, as FTS5 tokens (empty when only punctuation)."""
    if word in _OPERATORS:
        return [word]
    column = _COLUMN_FILTER.fullmatch(word)
    if column is not None:
        rest = _word(query, column["rest"]) if column["rest"] else []
        if not rest or rest[0] in _OPERATORS:
            raise SearchQueryError(query, f"{column['column']}: needs a word after it")
        return [f"{column['column']}:{rest[0]}"]
    prefix = word.endswith("*")
    stem = word.removesuffix("*")
    if "*" in stem:
        raise SearchQueryError(query, f"{word!r} has a * that is not at the end of the word")
    if _BAREWORD.fullmatch(stem):
        return [word]
    if not _BAREWORD.search(stem):
        if prefix:
            raise SearchQueryError(query, f"{word!r} has a * with no word before it")
        return []
    quoted = '"' + stem.replace('"', '""') + '"'
    return [quoted + ("*" if prefix else "")]


# The parsed query, for deciding a candidate on its text. FTS5's precedence, loosest
# first: OR, AND, NOT, then words side by side (an implicit AND).
@dataclass(frozen=True)
class Term:
    column: str | None  # a column filter, or None for any column
    text: str  # a word, `prefix*` or `"quoted phrase"`, as FTS5 reads it

    @property
    def words(self) -> list[str]:
        return _WORD_CHARS.findall(self.text.removesuffix("*"))


@dataclass(frozen=True)
class Both:
    left: Node
    right: Node


@dataclass(frozen=True)
class Either:
    left: Node
    right: Node


@dataclass(frozen=True)
class Without:
    kept: Node
    dropped: Node


Node = Term | Both | Either | Without


def parse(fts: str) -> Node:
    """The tree of an FTS5 query as fts_query writes it; SearchQueryError when FTS5 would
    not parse it either."""
    parser = _Parser(_FTS_TOKEN.findall(fts), fts)
    node = parser.either()
    if parser.position != len(parser.tokens):
        raise SearchQueryError(fts, "fts5: syntax error")
    return node


def needs_check(node: Node) -> bool:
    """Whether FTS5 alone cannot answer the query: it has a phrase of several words."""
    if isinstance(node, Term):
        return len(node.words) > 1
    if isinstance(node, Without):
        return needs_check(node.kept) or needs_check(node.dropped)
    return needs_check(node.left) or needs_check(node.right)


def candidates(node: Node) -> str:
    """An FTS5 query without phrases of several words that finds every match of `node`."""
    if isinstance(node, Term):
        return _relaxed(node)
    if isinstance(node, Both):
        return f"({candidates(node.left)}) AND ({candidates(node.right)})"
    if isinstance(node, Either):
        return f"({candidates(node.left)}) OR ({candidates(node.right)})"
    if needs_check(node.dropped):
        return candidates(node.kept)  # fewer exclusions: still every match, and more
    return f"({candidates(node.kept)}) NOT ({_exact(node.dropped)})"


def _relaxed(term: Term) -> str:
    words = term.words
    if len(words) <= 1:
        return _with_column(term.column, term.text)
    last = len(words) - 1
    star = term.text.endswith("*")
    quoted = [f'"{w}"' + ("*" if star and i == last else "") for i, w in enumerate(words)]
    return "(" + " AND ".join(_with_column(term.column, q) for q in quoted) + ")"


def _exact(node: Node) -> str:
    if isinstance(node, Term):
        return _with_column(node.column, node.text)
    if isinstance(node, Both):
        return f"({_exact(node.left)}) AND ({_exact(node.right)})"
    if isinstance(node, Either):
        return f"({_exact(node.left)}) OR ({_exact(node.right)})"
    return f"({_exact(node.kept)}) NOT ({_exact(node.dropped)})"


def _with_column(column: str | None, text: str) -> str:
    return f"{column}:{text}" if column else text


class Matcher:
    """Decides a query on one session's text, column by column, as the index would."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._patterns: dict[str, re.Pattern[str]] = {}

    def matches(self, columns: Mapping[str, str]) -> bool:
        """Whether the session whose columns hold these texts matches the query."""
        return self._holds(self._node, columns)

    def _holds(self, node: Node, columns: Mapping[str, str]) -> bool:
        if isinstance(node, Both):
            return self._holds(node.left, columns) and self._holds(node.right, columns)
        if isinstance(node, Either):
            return self._holds(node.left, columns) or self._holds(node.right, columns)
        if isinstance(node, Without):
            return self._holds(node.kept, columns) and not self._holds(node.dropped, columns)
        pattern = self._pattern(node.text)
        texts = columns.values() if node.column is None else [columns.get(node.column, "")]
        return any(pattern.search(text) for text in texts)

    def _pattern(self, text: str) -> re.Pattern[str]:
        if text not in self._patterns:
            self._patterns[text] = re.compile(snippets.pattern(text) or "(?!)", re.IGNORECASE)
        return self._patterns[text]


class _Parser:
    def __init__(self, tokens: list[str], fts: str) -> None:
        self.tokens = tokens
        self.position = 0
        self._fts = fts

    def either(self) -> Node:
        node = self.both()
        while self._take("OR"):
            node = Either(node, self.both())
        return node

    def both(self) -> Node:
        node = self.without()
        while self._take("AND"):
            node = Both(node, self.without())
        return node

    def without(self) -> Node:
        node = self.sequence()
        while self._take("NOT"):
            node = Without(node, self.sequence())
        return node

    def sequence(self) -> Node:
        node = self.primary()
        while self._peek() not in (None, "AND", "OR", "NOT", ")"):
            node = Both(node, self.primary())
        return node

    def primary(self) -> Node:
        token = self._peek()
        if token is None or token in _OPERATORS or token == ")":
            raise SearchQueryError(self._fts, "fts5: syntax error")
        self.position += 1
        if token == "(":
            node = self.either()
            if not self._take(")"):
                raise SearchQueryError(self._fts, "fts5: syntax error")
            return node
        column = _COLUMN_FILTER.fullmatch(token)
        if column is not None and not token.startswith('"'):
            return Term(column["column"], column["rest"])
        return Term(None, token)

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, token: str) -> bool:
        if self._peek() == token:
            self.position += 1
            return True
        return False
