"""The PullStory brief as data: its fields, its limits, its JSON body and its hash.

`validate` is the single statement of the API's limits (shared/api/pullstory.md); the
builder never returns a brief it rejects. Lengths are checked in UTF-16 code units for
maxima and in characters for minima, so a brief passes whichever way a server counts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from syncd.brief.text import units


@dataclass(frozen=True)
class Limits:
    """The POST /stories limits, as (low, high) pairs: characters or items."""

    title_chars: tuple[int, int] = (3, 140)
    summary_chars: tuple[int, int] = (10, 2000)
    files_items: tuple[int, int] = (1, 20)
    flow_items: tuple[int, int] = (3, 7)
    flow_chars: tuple[int, int] = (3, 500)
    highlights_items: tuple[int, int] = (0, 8)
    highlight_chars: tuple[int, int] = (3, 200)
    path_chars: tuple[int, int] = (1, 500)
    role_chars: tuple[int, int] = (1, 40)
    language_chars: tuple[int, int] = (1, 40)
    excerpt_chars: tuple[int, int] = (1, 400)


LIMITS = Limits()


@dataclass(frozen=True)
class BriefFile:
    """One file of the brief. `start_line`/`end_line` are the file lines the excerpt shows
    (or, without an excerpt, the lines the conversation looked at), when known."""

    path: str
    role: str
    language: str | None = None
    excerpt: str | None = None
    start_line: int | None = None
    end_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The file as the API spells it: camelCase line fields, None fields left out."""
        body: dict[str, Any] = {"path": self.path, "role": self.role}
        optional = {
            "language": self.language,
            "excerpt": self.excerpt,
            "startLine": self.start_line,
            "endLine": self.end_line,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


@dataclass(frozen=True)
class Brief:
    """A brief that passes `validate`: the exact POST /stories body via `to_json`."""

    title: str
    summary: str
    files: tuple[BriefFile, ...]
    flow: tuple[str, ...]
    highlights: tuple[str, ...] = ()
    repo: dict[str, str] | None = field(default=None, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The POST /stories body; `repo` only when there is one."""
        body: dict[str, Any] = {
            "title": self.title,
            "summary": self.summary,
            "files": [item.to_json() for item in self.files],
            "flow": list(self.flow),
            "highlights": list(self.highlights),
        }
        if self.repo is not None:
            body["repo"] = dict(self.repo)
        return body

    def content_hash(self) -> str:
        """SHA-256 hex of the canonical JSON body: equal briefs, equal hashes."""
        canonical = json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NoBrief:
    """Why a session cannot make a valid brief, as a sentence for the user."""

    reason: str


def validate(brief: Brief) -> list[str]:
    """Every way `brief` breaks the API's limits; empty when PullStory would accept it."""
    problems = _text("title", brief.title, LIMITS.title_chars)
    problems += _text("summary", brief.summary, LIMITS.summary_chars)
    problems += _count("files", brief.files, LIMITS.files_items)
    for index, item in enumerate(brief.files):
        problems += _file(f"files[{index}]", item)
    paths = [item.path for item in brief.files]
    if len(set(paths)) != len(paths):
        problems.append("files repeat a path")
    problems += _count("flow", brief.flow, LIMITS.flow_items)
    for index, step in enumerate(brief.flow):
        problems += _text(f"flow[{index}]", step, LIMITS.flow_chars)
    problems += _count("highlights", brief.highlights, LIMITS.highlights_items)
    for index, highlight in enumerate(brief.highlights):
        problems += _text(f"highlights[{index}]", highlight, LIMITS.highlight_chars)
    if brief.repo is not None and not (
        isinstance(brief.repo, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in brief.repo.items())
    ):
        problems.append("repo must map strings to strings")
    return problems


def _text(name: str, value: object, limits: tuple[int, int]) -> list[str]:
    low, high = limits
    if not isinstance(value, str):
        return [f"{name} must be a string"]
    if len(value.strip()) < low or units(value) > high:
        return [f"{name} must be {low}-{high} characters, got {len(value)}"]
    return []


def _count(name: str, items: tuple[object, ...], limits: tuple[int, int]) -> list[str]:
    low, high = limits
    if not low <= len(items) <= high:
        return [f"{name} must hold {low}-{high} items, got {len(items)}"]
    return []


def _file(name: str, item: BriefFile) -> list[str]:
    problems = _text(f"{name}.path", item.path, LIMITS.path_chars)
    problems += _text(f"{name}.role", item.role, LIMITS.role_chars)
    if item.language is not None:
        problems += _text(f"{name}.language", item.language, LIMITS.language_chars)
    if item.excerpt is not None:
        problems += _text(f"{name}.excerpt", item.excerpt, LIMITS.excerpt_chars)
    lines = (item.start_line, item.end_line)
    if lines != (None, None):
        start, end = lines
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lines):
            problems.append(f"{name} line numbers must be positive integers, given together")
        elif start is not None and end is not None and start > end:
            problems.append(f"{name}.startLine must not exceed endLine")
    return problems
