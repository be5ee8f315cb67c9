"""PullStory briefs: strict validation, the story id, and what a story derives from its brief.

Pure: no I/O, no clock. Every limit of the API note is enforced, and anything the note does
not allow is refused (unknown fields, nulls for optional fields, wrong JSON types), so a
client that passes here passes a more lenient real server too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

TITLE_CHARS = (3, 140)
SUMMARY_CHARS = (10, 2000)
FILES_ITEMS = (1, 20)
FLOW_ITEMS = (3, 7)
FLOW_CHARS = (3, 500)
HIGHLIGHTS_MAX = 8
HIGHLIGHT_CHARS = (3, 200)
ESTIMATE_SECONDS = (60, 180)
DURATION_SECONDS = (30, 150)

BRIEF_FIELDS = ("title", "summary", "files", "repo", "flow", "highlights")
FILE_TEXT_FIELDS = ("role", "language", "excerpt")
FILE_LINE_FIELDS = ("startLine", "endLine")
FILE_FIELDS = ("path", *FILE_TEXT_FIELDS, *FILE_LINE_FIELDS)


class InvalidBriefError(ValueError):
    """A brief the API refuses (422); the message names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class BriefFacts:
    """What the server derives from a valid brief; the same brief always gives the same facts."""

    story_id: str
    title: str
    estimated_seconds: int
    duration_seconds: int
    scenes: int
    size: int = 0  # characters of the canonical JSON: what "a smaller brief" makes smaller


def validate_brief(payload: object) -> dict[str, object]:
    """The brief itself when it is valid; raises InvalidBriefError at the first problem.

    Fields are checked in a fixed order (unknown fields, then title, summary, files, repo,
    flow, highlights), so the same invalid brief always gets the same message.
    """
    if not isinstance(payload, dict):
        raise InvalidBriefError("brief", f"must be a JSON object, got {json_type(payload)}")
    _refuse_unknown("brief", payload, BRIEF_FIELDS)
    _text(_required(payload, "title"), "title", TITLE_CHARS)
    _text(_required(payload, "summary"), "summary", SUMMARY_CHARS)
    _files(_required(payload, "files"))
    if "repo" in payload and not isinstance(payload["repo"], dict):
        raise InvalidBriefError("repo", f"must be an object, got {json_type(payload['repo'])}")
    _text_list(_required(payload, "flow"), "flow", FLOW_ITEMS, FLOW_CHARS)
    if "highlights" in payload:
        _text_list(payload["highlights"], "highlights", (0, HIGHLIGHTS_MAX), HIGHLIGHT_CHARS)
    return payload


def canonical_json(brief: Mapping[str, object]) -> str:
    """The brief as `json.dumps(sort_keys=True, separators=(",", ":"))` (ASCII-escaped)."""
    return json.dumps(brief, sort_keys=True, separators=(",", ":"))


def story_id(brief: Mapping[str, object]) -> str:
    """`brief_` + the first 16 hex digits of the SHA-256 of the canonical JSON."""
    return "brief_" + _digest(brief)[:16]


def brief_facts(brief: Mapping[str, object]) -> BriefFacts:
    """Id, title, generation estimate (60-180 s, grows with size), video length (30-150 s)
    and scene count (one per flow step plus an opening and a closing scene)."""
    canonical = canonical_json(brief)
    digest = _digest(brief)
    low, high = ESTIMATE_SECONDS
    shortest, longest = DURATION_SECONDS
    flow = brief.get("flow")
    return BriefFacts(
        story_id="brief_" + digest[:16],
        title=str(brief.get("title", "")),
        estimated_seconds=min(high, low + len(canonical) // 40),
        duration_seconds=shortest + int(digest[16:24], 16) % (longest - shortest + 1),
        scenes=(len(flow) if isinstance(flow, list) else 0) + 2,
        size=len(canonical),
    )


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _digest(brief: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical_json(brief).encode("utf-8")).hexdigest()


def _refuse_unknown(where: str, payload: Mapping[str, object], known: tuple[str, ...]) -> None:
    unknown = sorted(key for key in payload if key not in known)
    if unknown:
        allowed = ", ".join(known)
        raise InvalidBriefError(where, f"has unknown field {unknown[0]!r}; allowed: {allowed}")


def _required(payload: Mapping[str, object], field: str) -> object:
    if field not in payload:
        raise InvalidBriefError(field, "is required")
    return payload[field]


def _text(value: object, field: str, chars: tuple[int, int]) -> str:
    low, high = chars
    if not isinstance(value, str):
        raise InvalidBriefError(field, f"must be a string, got {json_type(value)}")
    if not low <= len(value) <= high:
        raise InvalidBriefError(field, f"must be {low}-{high} characters, got {len(value)}")
    return value


def _items(value: object, field: str, kind: str, items: tuple[int, int]) -> list[object]:
    low, high = items
    if not isinstance(value, list):
        raise InvalidBriefError(field, f"must be an array of {kind}, got {json_type(value)}")
    if not low <= len(value) <= high:
        raise InvalidBriefError(field, f"must hold {low}-{high} items, got {len(value)}")
    return value


def _text_list(value: object, field: str, items: tuple[int, int], chars: tuple[int, int]) -> None:
    for index, item in enumerate(_items(value, field, "strings", items)):
        _text(item, f"{field}[{index}]", chars)


def _files(value: object) -> None:
    for index, item in enumerate(_items(value, "files", "objects", FILES_ITEMS)):
        _file(item, f"files[{index}]")


def _file(item: object, where: str) -> None:
    if not isinstance(item, dict):
        raise InvalidBriefError(where, f"must be an object, got {json_type(item)}")
    _refuse_unknown(where, item, FILE_FIELDS)
    path = _required_in(item, where, "path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidBriefError(f"{where}.path", f"must be a non-empty string, got {path!r}")
    for field in FILE_TEXT_FIELDS:
        if field in item and not isinstance(item[field], str):
            got = json_type(item[field])
            raise InvalidBriefError(f"{where}.{field}", f"must be a string, got {got}")
    lines = [_line(item, where, field) for field in FILE_LINE_FIELDS]
    start, end = lines
    if start is not None and end is not None and start > end:
        raise InvalidBriefError(f"{where}.startLine", f"({start}) must not exceed endLine ({end})")


def _required_in(item: Mapping[str, object], where: str, field: str) -> object:
    if field not in item:
        raise InvalidBriefError(f"{where}.{field}", "is required")
    return item[field]


def _line(item: Mapping[str, object], where: str, field: str) -> int | None:
    if field not in item:
        return None
    value = item[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidBriefError(f"{where}.{field}", f"must be a positive integer, got {value!r}")
    return value
