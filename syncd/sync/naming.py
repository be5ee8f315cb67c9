"""Words to name a session's file by when its name says nothing. Pure: no I/O.

A session named only by a timestamp (the CLI names every session by its start time), or
by nothing that slugs (empty, punctuation), would get a file name that repeats its date
or says `untitled`. Such a file is named instead from the first words of the session's
first user message, as SpecStory's own file names are (`…-fix-the-login-form.md`).
"""

from __future__ import annotations

import re

from syncd.brief.transcript import USER, clean_input, read_transcript, request_text
from syncd.mirror.paths import UNTITLED, slugify

#: Words of the first user message a file is named by (SpecStory's CLI takes four).
FIRST_WORDS = 4
#: How much of a body is read for them: a first message starts near the top.
HEAD_BYTES = 64 * 1024

# A stamp and nothing else, as session names and titles spell them: "2025-01-14 10:22:03Z",
# "2025-01-14_10-22-03Z", "2025-01-14T10:22:03.123+02:00", "(2025-01-14 10:22Z)".
_STAMP = re.compile(
    r"\(?\s*\d{4}-\d\d-\d\d(?:[ T_]\d\d[:-]\d\d(?:[:-]\d\d(?:\.\d+)?)?)?"
    r"\s*(?:Z|UTC|[+-]\d\d:?\d\d)?\s*\)?",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w[\w'\u2019.-]*")


def named_by_body(name: str) -> bool:
    """Whether a session called `name` is better named from its first user message: the
    name is empty, only a timestamp, or nothing a file name could show."""
    return _STAMP.fullmatch(name.strip()) is not None or slugify(name) == UNTITLED


def first_request_words(head: bytes, count: int = FIRST_WORDS) -> str:
    """The first `count` words of the first user message in the start of a SpecStory
    Markdown body (`head`, cut anywhere); empty when it holds none. Turns are split as the
    brief splits them; sidechain and synthetic turns, slash-command tags and other meta
    blocks are not words the user wrote."""
    transcript = read_transcript(clean_input(head.decode("utf-8", errors="ignore")))
    for turn in transcript.turns:
        if turn.speaker != USER or turn.sidechain or turn.synthetic:
            continue
        if asked := request_text(turn.lines):
            return " ".join(_WORD.findall(asked)[:count])
    return ""
