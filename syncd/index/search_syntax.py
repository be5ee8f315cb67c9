"""The search query language: FTS5's, made forgiving for plain words.

Query syntax is FTS5's, made forgiving for plain words:
- `"quoted phrases"`, `prefix*`, `AND` / `OR` / `NOT` (upper case), parentheses and
  column filters (`name:login`) pass through to FTS5 unchanged;
- a bare word holding characters FTS5 reads as syntax (`auth-migration`, `README.md`,
  `src/app.py`) is quoted into a phrase, so it matches those words next to each other;
- anything FTS5 still cannot parse raises SearchQueryError (one line, no traceback).

No I/O and no third-party import: `syncd search` parses queries before SQLAlchemy loads.
"""

from __future__ import annotations

import re

from syncd.errors import SearchQueryError

_OPERATORS = frozenset({"AND", "OR", "NOT"})
# What FTS5 accepts unquoted: letters, digits, '_', and any non-ASCII character.
_BAREWORD = re.compile(r"[\w\x80-\U0010ffff]+")
_COLUMN_FILTER = re.compile(r"(?P<column>name|project|tags|models|body):(?P<rest>.*)")
# A double-quoted string (FTS5 escapes a quote inside it by doubling it), a parenthesis,
# or a run of anything else up to the next space, quote or parenthesis.
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"(?:[^"]|"")*"\*?)|(?P<paren>[()])|(?P<word>[^\s"()]+))')
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


def words_of(term: str) -> list[str]:
    """The words of one term (a word, `prefix*` or `"quoted phrase"`) as FTS5 splits them."""
    return _WORD_CHARS.findall(term.removesuffix("*"))


def loose(term: str) -> str:
    """`term` for an FTS5 table without positions: a phrase becomes its words ANDed."""
    words = words_of(term)
    if len(words) <= 1:
        return term
    star = term.endswith("*")
    last = len(words) - 1
    quoted = [f'"{w}"' + ("*" if star and i == last else "") for i, w in enumerate(words)]
    return " AND ".join(quoted)
