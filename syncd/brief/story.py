"""The brief's words: its title, its summary and its flow of steps, fitted to the limits."""

from __future__ import annotations

import re
from collections.abc import Iterable

from syncd.brief.model import LIMITS, BriefFile
from syncd.brief.text import first_sentences, fit, flatten, tidy_block
from syncd.brief.tools import CREATED, EDITED, READ
from syncd.brief.transcript import title_text

UNTITLED = "Untitled session"
PAD = "Session: "
STEP_CHARS = 300
OUTCOME_CHARS = 300
_INFORMATIVE = 12
_TAG = re.compile(r"^\s*\[[A-Z][A-Z0-9 :_-]*\]\s*$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_VERBS = {CREATED: "Created", EDITED: "Edited", READ: "Read"}


def make_title(name: str, heading: str | None, requests: list[str]) -> str:
    """The session name, else the title heading, else the first request's opening words,
    else "Untitled session"; timestamps alone do not count as titles."""
    opening = first_sentences(requests[0], enough=1, limit=80) if requests else ""
    for candidate in (name, heading or "", opening):
        title = title_text(flatten(candidate))
        if title:
            break
    else:
        title = UNTITLED
    low, high = LIMITS.title_chars
    if len(title) < low:
        title = PAD + title
    return fit(title, high)


def make_summary(requests: list[str], title: str) -> str:
    """The first request, extended by the next ones (then the title) while it is too short."""
    low, high = LIMITS.summary_chars
    parts: list[str] = []
    for request in requests:
        block = tidy_block(request)
        if block:
            parts.append(block)
        if len(flatten("\n".join(parts))) >= low:
            break
    text = "\n\n".join(parts)
    if len(text) < low:
        text = f"{text}\n\n{title}".strip()
    if len(text) < low:
        text = PAD + text
    return fit(text, high)


def make_flow(
    requests: list[str], chunks: list[str], files: list[BriefFile], title: str
) -> tuple[str, ...]:
    """The user's successive requests (sampled when there are many), ending with the
    outcome; topped up from the agent's messages, then the files, to at least three."""
    low, high = LIMITS.flow_items
    outcome, rest = _outcome(chunks)
    room = high - (1 if outcome else 0)
    steps = _sample(_informative(_unique(_step(r) for r in requests)), room)
    needed = low - len(steps) - (1 if outcome else 0)
    if needed > 0:
        points = _unique(first_sentences(chunk, enough=40, limit=STEP_CHARS) for chunk in rest)
        fresh = [p for p in points if len(p) >= LIMITS.flow_chars[0] and p not in steps]
        steps += _sample([p for p in fresh if p != outcome], needed)
    for extra in [*_file_steps(files), PAD + title, "The conversation ends here."]:
        if len(steps) + (1 if outcome else 0) >= low:
            break
        if extra not in steps:
            steps.append(fit(extra, STEP_CHARS))
    return (*steps, outcome) if outcome else tuple(steps)


def _step(request: str) -> str:
    step = first_sentences(request, enough=60, limit=STEP_CHARS)
    return step if len(step) >= LIMITS.flow_chars[0] else ""


def _outcome(chunks: list[str]) -> tuple[str | None, list[str]]:
    """The last agent message's first sentence or so, and the messages before it."""
    for index in range(len(chunks) - 1, -1, -1):
        text = _opening(chunks[index])
        if len(text) >= LIMITS.flow_chars[0]:
            return text, chunks[:index]
    return None, []


def _opening(chunk: str) -> str:
    """A message's first sentence or so; a lead-in ending with a colon takes the list
    that follows it ("Created X with: a; b; c")."""
    paragraphs = [p.strip() for p in chunk.split("\n\n") if p.strip() and not _TAG.match(p)]
    if not paragraphs:
        return ""
    head = paragraphs[0]
    if head.endswith(":"):
        lines = "\n".join(paragraphs[1:2]).split("\n")
        items = [_LIST_MARK.sub("", line).strip().rstrip(".;") for line in lines]
        items = [item for item in items if item]
        head = f"{head} {'; '.join(items)}" if items else head.rstrip(":").rstrip() + "."
    return first_sentences(head, enough=40, limit=OUTCOME_CHARS)


def _unique(texts: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for text in texts:
        if text and text not in seen:
            seen.append(text)
    return seen


def _informative(steps: list[str]) -> list[str]:
    """Requests long enough to say something ("yes", "go on" are dropped when there are
    enough others)."""
    rich = [step for step in steps if len(step) >= _INFORMATIVE]
    return rich if len(rich) >= min(3, len(steps)) else steps


def _sample(items: list[str], count: int) -> list[str]:
    """`count` items spread evenly from first to last, in order."""
    if count <= 0:
        return []
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    picks = sorted({round(i * (len(items) - 1) / (count - 1)) for i in range(count)})
    return [items[i] for i in picks]


def _file_steps(files: list[BriefFile]) -> list[str]:
    return [f"{_VERBS.get(item.role, 'Looked at')} {item.path}" for item in files[:3]]
