"""Smaller briefs, for a story PullStory could not generate because its brief was too big.

Pure: no I/O, no clock. `shrink` returns a brief strictly smaller than the one it is given
and still valid (`brief_model.validate`), or None when nothing is left to cut. Cuts keep
what the builder ranked first: the first files (the changed ones come first), the first
steps of the flow and its last one (the outcome), the first highlights.

    smaller = shrink(brief)  # half the files, excerpts, flow and highlights
    describe_cut(brief, smaller)  # "3 files instead of 6, 1,210 bytes instead of 3,402"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from syncd.brief.model import LIMITS, Brief, BriefFile, validate

# Texts are cut to half their length, but not below these (in characters).
MIN_SUMMARY_CHARS = 120
MIN_STEP_CHARS = 60
MIN_HIGHLIGHT_CHARS = 40
# An excerpt already this short goes altogether (its line range stays).
MIN_EXCERPT_CHARS = 40
ELLIPSIS = "…"


def shrink(brief: Brief) -> Brief | None:
    """A smaller valid brief: half the files (at least one), excerpts half as long (or
    gone), a flow of fewer and shorter steps (at least the API's three), half the
    highlights, a shorter summary. None when the result would not be smaller or valid."""
    smaller = Brief(
        title=brief.title,
        summary=_cut(brief.summary, MIN_SUMMARY_CHARS),
        files=tuple(_shorter_file(item) for item in brief.files[: _half(len(brief.files), 1)]),
        flow=_fewer_steps(brief.flow),
        highlights=tuple(
            _cut(text, MIN_HIGHLIGHT_CHARS)
            for text in brief.highlights[: len(brief.highlights) // 2]
        ),
        repo=brief.repo,
    )
    if validate(smaller) or size_of(smaller) >= size_of(brief):
        return None
    return smaller


def brief_from_json(body: Mapping[str, Any]) -> Brief | None:
    """The Brief a stored POST body (`Brief.to_json`) stands for; None when it is not a
    valid brief (then it cannot be shrunk either)."""
    try:
        files = tuple(
            BriefFile(
                path=item["path"],
                role=item.get("role", "context"),
                language=item.get("language"),
                excerpt=item.get("excerpt"),
                start_line=item.get("startLine"),
                end_line=item.get("endLine"),
            )
            for item in body["files"]
        )
        repo = body.get("repo")
        brief = Brief(
            title=body["title"],
            summary=body["summary"],
            files=files,
            flow=tuple(body["flow"]),
            highlights=tuple(body.get("highlights") or ()),
            repo=dict(repo) if isinstance(repo, dict) else None,
        )
    except (KeyError, TypeError, AttributeError):
        return None
    return None if validate(brief) else brief


def size_of(brief: Brief) -> int:
    """The brief's JSON body in bytes, as it is posted."""
    return len(json.dumps(brief.to_json(), ensure_ascii=False).encode("utf-8"))


def describe_cut(before: Brief, after: Brief) -> str:
    """What a cut changed, for the log and `syncd push`: '3 files instead of 6, ...'."""
    parts = []
    if len(after.files) != len(before.files):
        parts.append(f"{_count(len(after.files), 'file')} instead of {len(before.files)}")
    if len(after.flow) != len(before.flow):
        parts.append(f"{_count(len(after.flow), 'flow step')} instead of {len(before.flow)}")
    parts.append(f"{size_of(after):,} bytes instead of {size_of(before):,}")
    return ", ".join(parts)


# --- the cuts --------------------------------------------------------------------------


def _half(count: int, least: int) -> int:
    return max(least, (count + 1) // 2) if count > least else count


def _shorter_file(item: BriefFile) -> BriefFile:
    excerpt = item.excerpt
    if excerpt is None:
        return item
    if len(excerpt) <= MIN_EXCERPT_CHARS:
        return replace(item, excerpt=None)
    lines = excerpt.split("\n")
    kept = "\n".join(lines[: _half(len(lines), 1)])
    shorter = _cut_to(kept, max(MIN_EXCERPT_CHARS, len(excerpt) // 2))
    start, end = item.start_line, item.end_line
    if start is not None and end is not None and end - start + 1 == len(lines):
        # The excerpt showed exactly these lines: the range follows what is left of it.
        end = start + shorter.count("\n")
    return replace(item, excerpt=shorter, end_line=end)


def _fewer_steps(flow: tuple[str, ...]) -> tuple[str, ...]:
    """The first steps and the last one (the outcome): at least the API's minimum."""
    low = LIMITS.flow_items[0]
    keep = _half(len(flow), low)
    steps = flow if keep >= len(flow) else (*flow[: keep - 1], flow[-1])
    return tuple(_cut(step, MIN_STEP_CHARS) for step in steps)


def _cut(text: str, least: int) -> str:
    """`text` at half its length (never below `least` characters), cut after a word, with
    an ellipsis; unchanged when it is that short already."""
    return _cut_to(text, max(least, len(text) // 2))


def _cut_to(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut after a word, with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= limit * 0.6:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
