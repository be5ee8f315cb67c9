"""Fitting free text into a brief's length limits, cutting at a sentence, else a word.

Lengths are counted the way JavaScript counts them (UTF-16 code units), which is never
less than Python's `len`: a text that fits here fits a server that counts either way.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# Full stops that end a sentence: CJK ones anywhere, Latin ones before a space or the end.
_SENTENCE_END = re.compile("[\u3002\uff01\uff1f]|[.!?\u2026](?=[\\s\"'\u201d\u2019)\\]*_]|$)")
_WHITESPACE = re.compile(r"\s+")
_FENCE_LINE = re.compile(r"^\s{0,3}(?:`{3,}|~{3,}).*$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def units(text: str) -> int:
    """The length of `text` in UTF-16 code units (astral characters count twice)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def fits(text: str, low: int, high: int) -> bool:
    """Whether `text` is at least `low` characters and at most `high` UTF-16 units."""
    return len(text) >= low and units(text) <= high


def fit(text: str, limit: int) -> str:
    """`text` stripped and, when longer than `limit`, cut at the last sentence end that keeps
    at least half of it, else at a word boundary with an ellipsis. Never longer than `limit`."""
    text = text.strip()
    if units(text) <= limit:
        return text
    end = _prefix(text, limit)
    sentence = _last_sentence_end(text, end)
    if sentence >= end // 2:
        return text[:sentence].rstrip()
    end = _prefix(text, limit - 1)
    cut = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))
    head = text[:cut] if cut >= end // 2 else text[:end]
    return head.rstrip() + ELLIPSIS


def cut(text: str, limit: int) -> str:
    """`text` cut hard to `limit` units, with an ellipsis when anything was removed."""
    if units(text) <= limit:
        return text
    return text[: _prefix(text, limit - 1)] + ELLIPSIS


def first_sentences(text: str, *, enough: int, limit: int) -> str:
    """The leading sentences of `text` (flattened to one line) until there are at least
    `enough` characters, fitted to `limit`."""
    flat = flatten(text)
    taken = 0
    for match in _SENTENCE_END.finditer(flat):
        taken = match.end()
        if taken >= enough:
            break
    else:
        taken = len(flat)
    return fit(flat[:taken] if taken else flat, limit)


def flatten(text: str) -> str:
    """One line of plain text: fence lines, heading marks, bold marks and control characters
    dropped, every run of whitespace turned into one space."""
    text = _FENCE_LINE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _CONTROL.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


def tidy_block(text: str) -> str:
    """Multi-line text with fence lines and control characters dropped, trailing spaces
    removed and blank-line runs collapsed to one blank line."""
    text = _FENCE_LINE.sub("", text.replace("\r", "\n"))
    text = _CONTROL.sub(" ", text)
    lines = [line.rstrip() for line in text.split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def _prefix(text: str, limit: int) -> int:
    """How many leading characters of `text` fit in `limit` UTF-16 units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _last_sentence_end(text: str, end: int) -> int:
    last = 0
    for match in _SENTENCE_END.finditer(text, 0, min(len(text), end + 1)):
        if match.end() <= end:
            last = match.end()
    return last
