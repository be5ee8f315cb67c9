"""A SpecStory Markdown file as a title and a list of turns (see corpus FORMAT.md, section 4).

Turns are split only on full-line markers (`_**User…**_`, `_**Agent…**_`,
`_**Assistant…**_`, `_****_`), whatever the fence state: fences are often unbalanced, and
a fence-aware splitter loses real turns. Everything between markers is kept verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

USER = "user"
AGENT = "agent"

_MARKER = re.compile(r"^_\*\*(User|Assistant|Agent)( - sidechain)?(?: \((.*)\))?\*\*_\s*$")
_CONTINUATION = re.compile(r"^_\*\*\*\*_\s*$")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t]*$")
_BANNER = "## SpecStory"
_TRAILING_TIME = re.compile(r"\s*\(([^()]*\d[^()]*)\)\s*$")
_DATE = re.compile(r"\d{1,4}[-/_.]\d{1,2}[-/_.]\d{1,4}")
_ONLY_TIME = re.compile(
    r"^\d{4}-\d\d-\d\d(?:[ T_]\d\d[:-]\d\d(?:[:-]\d\d(?:\.\d+)?)?)?\s*(?:Z|[+-]\d{4}|UTC)?$"
)
_SURROGATES = re.compile("[\ud800-\udfff]")
_META_TAGS = (
    "command-name|command-message|command-args|command-contents|local-command-stdout|"
    "local-command-stderr|local-command-caveat|bash-input|bash-stdout|bash-stderr|"
    "task-notification|system-reminder|user-prompt-submit-hook|environment_context|"
    "user_instructions|instructions|persisted-output"
)
_META_BLOCK = re.compile(rf"<({_META_TAGS})\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_META_OPEN = re.compile(rf"<({_META_TAGS})\b[^>]*>", re.IGNORECASE)
_NOISE_LINE = re.compile(
    r"^\s*(?:\[Request interrupted by user[^\]]*\]|User provided an image[^\n]*"
    r"|\[object Object\]|---)\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Turn:
    """One marker's worth of Markdown: who spoke and the body lines (without line ends)."""

    speaker: str
    lines: tuple[str, ...]
    sidechain: bool = False
    synthetic: bool = False


@dataclass(frozen=True)
class Transcript:
    """The title heading (None when absent or only a timestamp) and the turns in order."""

    heading: str | None
    turns: tuple[Turn, ...]


def clean_input(text: str) -> str:
    """`text` with lone surrogates replaced, so every later string encodes as UTF-8."""
    return _SURROGATES.sub("\ufffd", text)


def read_transcript(markdown: str) -> Transcript:
    """Split `markdown` into its title heading and its turns (CRLF and LF alike)."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    heading: str | None = None
    turns: list[Turn] = []
    speaker: str | None = None
    sidechain = synthetic = False
    body: list[str] = []
    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("_**"):
            marker = _parse_marker(line, speaker, sidechain)
            if marker is not None:
                if speaker is not None:
                    turns.append(Turn(speaker, tuple(body), sidechain, synthetic))
                speaker, sidechain, synthetic = marker
                body = []
                continue
        if speaker is not None:
            body.append(line)
        elif heading is None and line.startswith("#") and line.strip() != _BANNER:
            heading = _heading_text(line)
    if speaker is not None:
        turns.append(Turn(speaker, tuple(body), sidechain, synthetic))
    return Transcript(heading=title_text(heading or ""), turns=tuple(turns))


def title_text(text: str) -> str | None:
    """A human title from a heading or a session name: whitespace collapsed, a trailing
    `(timestamp)` removed; None when nothing but a timestamp (or nothing) is left."""
    text = " ".join(text.split())
    match = _TRAILING_TIME.search(text)
    if match and _DATE.search(match.group(1)):
        text = text[: match.start()].rstrip()
    if not text or _ONLY_TIME.match(text):
        return None
    return text


def request_text(lines: tuple[str, ...]) -> str:
    """What the user actually asked in a user turn: slash-command and local-command tags,
    task notifications, interruptions and separators removed. Empty for meta turns."""
    text = _META_BLOCK.sub("", "\n".join(lines))
    unclosed = _META_OPEN.search(text)
    if unclosed:
        text = text[: unclosed.start()]
    return _NOISE_LINE.sub("", text).strip()


def _parse_marker(line: str, speaker: str | None, sidechain: bool) -> tuple[str, bool, bool] | None:
    if _CONTINUATION.match(line):
        return (speaker or AGENT, sidechain, False)
    match = _MARKER.match(line)
    if match is None:
        return None
    label, side, inner = match.groups()
    inner = inner or ""
    who = USER if label == "User" else AGENT
    return (who, bool(side) or inner == "sidechain", "<synthetic>" in inner)


def _heading_text(line: str) -> str:
    match = _HEADING.match(line)
    return match.group(1) if match else ""
