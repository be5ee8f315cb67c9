"""Highlighted snippets for search hits, cut from the compressed bodies without FTS5.

FTS5's snippet() tokenises a document's whole text, so a page of hits on sessions of
several megabytes took seconds. Here the body is inflated as a stream and scanned only up
to the first match of the query's words, and the few lines around it are marked up.

Words are matched the way the index tokenises them (`unicode61 remove_diacritics 2`):
case and accents do not matter (each letter of a query word matches its accented forms),
letters and digits make words and everything else, underscores included, separates them.
Words that only appear after NOT are not marked.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"
BEFORE, AFTER = 60, 140  # characters of context kept around the first match
_CHUNK = 16 * 1024  # compressed bytes read at a time
_TEXT_PIECE = 32 * 1024  # most bytes of text inflated at a time
_OVERLAP = 512  # characters kept between chunks, so a phrase split by a chunk is found
_WIDEN = 24  # at most this many characters added to finish a word at a snippet's edge
_WORD = r"[^\W_]"  # a letter or digit: what a token is made of
# Bytes searched as text for a snippet when the fast byte search found nothing.
FALLBACK_BYTES = 4 * 1024 * 1024
_AROUND = 4096  # bytes a literal hit is checked on (its edges, a phrase's separators)
_WORD_BYTE = rb"[a-z0-9\x80-\xff]"
_NOT_WORD_BYTE = rb"[^a-z0-9\x80-\xff]"
_TOKEN = re.compile(r'"(?:[^"]|"")*"\*?|[()]|[^\s"()]+')


def _accented_variants() -> dict[str, str]:
    """Base letter -> the accented Latin letters that reduce to it (lower case)."""
    variants: dict[str, str] = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        letter = chr(code).lower()
        base = unicodedata.normalize("NFD", letter)[0]
        if base != letter and base.isalpha() and len(letter) == 1:
            variants[base] = variants.get(base, "") + letter
    return variants


_VARIANTS = _accented_variants()
_FOLD = {ord(letter): base for base, letters in _VARIANTS.items() for letter in letters}


def fold(text: str) -> str:
    """`text` in lower case without accents on Latin letters (for query words only)."""
    return text.lower().translate(_FOLD)


class Highlighter:
    """Finds and marks the words an FTS5 query (as `search.fts_query` writes it) looks for."""

    def __init__(self, fts_query: str, column: str | None = None) -> None:
        """Marks for text of `column` (name, body...): a word filtered to another column
        (`name:login` when marking the body) is not marked."""
        terms = positive_terms(fts_query)
        patterns = [pattern(term) for only, term in terms if only in (None, column)]
        alternatives = "|".join(p for p in patterns if p)
        self._regex = re.compile(alternatives, re.IGNORECASE) if alternatives else None
        self._bytes_search = _BytesSearch.of([t for only, t in terms if only in (None, column)])
        self.text_scanned = 0  # bytes snippet_of_bytes searched as text (the slow way)

    def mark(self, text: str) -> str:
        """`text` with every match between « and »."""
        if self._regex is None:
            return text
        out: list[str] = []
        position = 0
        for match in self._regex.finditer(text):
            out += [text[position : match.start()], OPEN, text[match.start() : match.end()], CLOSE]
            position = match.end()
        return "".join(out) + text[position:]

    def snippet(self, chunks: Iterable[str]) -> str:
        """One line around the first match in the text `chunks` make up, else its opening.

        A match is only taken once the text after it has arrived (so `test` does not match
        the start of a `testing` split between pieces); when text is dropped, one character
        more is kept so the start of a word is still recognised.
        """
        opening = ""
        held = ""
        first = 0  # where searching starts in `held` (1 once text before it was dropped)
        pieces = iter(chunks)
        while True:
            piece = next(pieces, None)
            ended = piece is None
            held += piece or ""
            if first == 0:
                opening = held[: BEFORE + AFTER + 1]
            if self._regex is None:
                if ended or len(held) > BEFORE + AFTER:
                    return self._cut(opening, 0, BEFORE + AFTER, floor=0, clipped=False)
                continue
            match = self._regex.search(held, first)
            if match is not None and (ended or match.end() + AFTER < len(held)):
                start = max(first, match.start() - BEFORE)
                return self._cut(held, start, match.end() + AFTER, floor=first, clipped=first > 0)
            if ended:
                # The words matched elsewhere (the name, a tag): show how the session begins.
                return self._cut(opening, 0, BEFORE + AFTER, floor=0, clipped=False)
            if match is None and len(held) > _OVERLAP:
                held = held[-(_OVERLAP + 1) :]
                first = 1

    def snippet_of_bytes(self, chunks: Iterable[bytes], text_limit: int = FALLBACK_BYTES) -> str:
        """snippet() for UTF-8 `chunks`, fast: a match is looked for in the raw bytes
        (ASCII query words only), as written in lower case first, at the speed of a byte
        search, then in any case; only the lines around it are decoded. When the bytes
        hold no such match (the words only with accents, or between non-ASCII marks), the
        first `text_limit` bytes are searched as text, as snippet() does (ten times
        slower); `text_scanned` adds up the bytes searched so."""
        if self._bytes_search is None:
            data = b"".join(_capped(chunks, text_limit))
            self.text_scanned += len(data)
            return self.snippet([data.decode("utf-8", errors="replace")])
        seen: list[bytes] = []
        held = b""
        pieces = iter(chunks)
        for chunk in pieces:
            seen.append(chunk)
            kept = len(held)
            held += chunk
            found = self._bytes_search.first(held, max(0, kept - _OVERLAP), lower_only=True)
            if found is not None:
                # The lines after the match too, as snippet() waits for them.
                wanted = found[1] + 4 * (AFTER + _WIDEN)
                while len(held) < wanted and (more := next(pieces, None)) is not None:
                    held += more
                return self._snippet_around(held, found)
            held = held[-_OVERLAP:]
        data = b"".join(seen)
        found = self._bytes_search.first(data, 0, lower_only=False)
        if found is not None:
            return self._snippet_around(data, found)
        self.text_scanned += min(len(data), text_limit)
        return self.snippet([data[:text_limit].decode("utf-8", errors="replace")])

    def _snippet_around(self, data: bytes, found: tuple[int, int]) -> str:
        start = max(0, found[0] - 4 * BEFORE)
        window = data[start : found[1] + 4 * AFTER + 4 * _WIDEN]
        snippet = self.snippet([window.decode("utf-8", errors="ignore")])
        return ELLIPSIS + snippet if start > 0 and not snippet.startswith(ELLIPSIS) else snippet

    def _cut(self, text: str, start: int, end: int, *, floor: int, clipped: bool) -> str:
        # Move the edges out of the middle of a word (a little way), then flatten to one line.
        widest = start - _WIDEN
        while start > max(floor, widest) and text[start - 1].isalnum():
            start -= 1
        end = min(end, len(text))
        widest = end + _WIDEN
        while end < min(len(text), widest) and text[end].isalnum():
            end += 1
        piece = " ".join(self.mark(text[start:end]).split())
        front = ELLIPSIS if clipped or start > 0 else ""
        back = ELLIPSIS if end < len(text) else ""
        return f"{front}{piece}{back}"


def inflated(read: Callable[[int], bytes]) -> Iterator[str]:
    """Text from a zlib stream, `read(size)` giving the compressed bytes, a piece at a time.

    Pieces are capped at _TEXT_PIECE characters' worth of bytes: repetitive text inflates
    a hundredfold, and the first match is usually near the start.
    """
    inflater = zlib.decompressobj()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = b""
    while True:
        if not pending:
            pending = read(_CHUNK)
            if not pending:
                break
        yield decoder.decode(inflater.decompress(pending, _TEXT_PIECE))
        pending = inflater.unconsumed_tail
    yield decoder.decode(inflater.flush(), final=True)


def positive_terms(fts_query: str) -> list[tuple[str | None, str]]:
    """(column filter or None, phrase or word) for each term searched for, not NOT's.

    FTS5 binds NOT tighter than AND and OR but looser than words side by side, so
    `a NOT b c` excludes `b c`: a NOT's reach ends at the next AND or OR, or where its
    parenthesis closes. A column filter (`name:login`, `name:"a b"`) holds for one term.
    """
    terms: list[tuple[str | None, str]] = []
    negated_at: int | None = None  # parenthesis depth of the NOT in force
    depth = 0
    column: str | None = None  # a `name:` waiting for its term
    for token in _TOKEN.findall(fts_query):
        if token == "(":
            depth += 1
        elif token == ")":
            if negated_at == depth:
                negated_at = None
            depth -= 1
        elif token in ("AND", "OR"):
            if negated_at == depth:
                negated_at = None
        elif token == "NOT":
            negated_at = depth if negated_at is None else negated_at
        elif token.endswith(":") and not token.startswith('"'):
            column = token[:-1]
            continue  # the next token is its term
        elif negated_at is None:
            if _is_column_filter(token):
                only, term = token.split(":", 1)
                terms.append((only, term))
            else:
                terms.append((column, token))
        column = None
    return terms


def _is_column_filter(token: str) -> bool:
    return not token.startswith('"') and ":" in token


def pattern(term: str) -> str:
    """A regex for one word, `prefix*` or `"quoted phrase"` as the index tokenises them."""
    prefix = term.endswith("*")
    text = term.removesuffix("*")
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1].replace('""', '"')
    words = re.findall(_WORD + "+", fold(text))
    if not words:
        return ""
    letters = [[_letter(c) for c in word] for word in words]
    # The word-start check comes after the first letter (a two-character lookbehind): at
    # the front it ran at every position of the text, ten times slower on long sessions.
    letters[0][0] += f"(?<!{_WORD}.)"
    body = r"[\W_]+".join("".join(word) for word in letters)
    tail = _WORD + "*" if prefix else f"(?!{_WORD})"
    return f"{body}{tail}"


class _BytesSearch:
    """Finds the first match of ASCII query terms in UTF-8 bytes. Each term as written in
    lower case, Capitalised or in CAPITALS (words one space apart) is found with
    bytes.find, far faster than a regex over the text, and its edges checked with a
    regex on a few bytes; failing that, a regex runs over the lower-cased bytes (mixed
    case, or a phrase whose words are apart by other spaces or marks)."""

    def __init__(self, lower: list[bytes], literals: list[bytes], regex: re.Pattern[bytes]) -> None:
        self._lower = lower
        self._literals = literals
        self._regex = regex

    @classmethod
    def of(cls, terms: list[str]) -> _BytesSearch | None:
        """None when a term has a non-ASCII letter (the text regex handles accents)."""
        literals: set[bytes] = set()
        lower: set[bytes] = set()
        alternatives = []
        for term in terms:
            prefix = term.endswith("*")
            text = term.removesuffix("*").strip('"').replace('""', '"')
            words = re.findall(_WORD + "+", text.lower())
            if not words or not all(word.isascii() for word in words):
                return None
            spaced = " ".join(words)
            lower.add(spaced.encode())
            literals |= {spaced.capitalize().encode(), spaced.upper().encode()}
            first = re.escape(words[0].encode())
            # The word-start check follows the first word: a literal first makes re fast.
            body = first + b"(?<!" + _WORD_BYTE + first + b")"
            for word in words[1:]:
                body += _NOT_WORD_BYTE + b"+" + re.escape(word.encode())
            alternatives.append(body + (b"" if prefix else b"(?!" + _WORD_BYTE + b")"))
        if not alternatives:
            return None
        regex = re.compile(b"|".join(alternatives))
        return cls(sorted(lower), sorted(literals - lower), regex)

    def first(self, data: bytes, start: int, *, lower_only: bool) -> tuple[int, int] | None:
        """(start, end) of a match at or after `start`, or None: with `lower_only`, of the
        terms as written in lower case (one space between words) only."""
        found = self._find(self._lower, data, start)
        if found is not None or lower_only:
            return found
        found = self._find(self._literals, data, start)
        if found is None:  # mixed case (agentCounts), or a phrase over other marks
            match = self._regex.search(data.lower(), start)
            found = None if match is None else (match.start(), match.end())
        return found

    def _find(self, literals: list[bytes], data: bytes, start: int) -> tuple[int, int] | None:
        position = start
        while True:
            found = [p for literal in literals if (p := data.find(literal, position)) != -1]
            if not found:
                break
            position = min(found)
            around = data[max(0, position - 1) : position + _AROUND].lower()
            match = self._regex.match(around, 1 if position else 0)
            if match is not None:
                offset = max(0, position - 1)
                return offset + match.start(), offset + match.end()
            position += 1
        return None


def _capped(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    taken = 0
    for chunk in chunks:
        if taken >= limit:
            return
        yield chunk[: limit - taken]
        taken += len(chunk)


def _decoded(chunks: Iterable[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def _letter(base: str) -> str:
    """A regex for a letter with or without an accent (the text is never rewritten)."""
    accented = _VARIANTS.get(base)
    return f"[{re.escape(base + accented)}]" if accented else re.escape(base)
