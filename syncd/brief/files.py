"""From every mention of a file to the brief's ranked file list.

Mentions of one path are grouped (case-sensitively); a shorter relative path joins the one
longer path that ends with it (`main.go` -> `/src/app/main.go`) when there is exactly one,
and a bare name the prose uses (`README`) joins the one path whose name it starts
(`/src/app/README.md`).
Files are ranked edited/created > read > shown > mentioned, then by how many tool calls or
messages named them, then by first appearance. A merged file shows its longest spelling.
"""

from __future__ import annotations

import re

from syncd.brief.calls import ROLE_RANK, FileEvent
from syncd.brief.model import BriefFile
from syncd.brief.paths import Excerpt, language_for
from syncd.brief.tools import CREATED, EDITED


def rank_files(events: list[FileEvent]) -> list[BriefFile]:
    """All files the events name, most relevant first, one entry per file."""
    groups = _merge_suffixes(_group(events))
    ranked = sorted(groups.values(), key=_relevance)
    return [_brief_file(group) for group in ranked]


def _group(events: list[FileEvent]) -> dict[str, list[FileEvent]]:
    groups: dict[str, list[FileEvent]] = {}
    for event in events:
        groups.setdefault(event.path, []).append(event)
    return groups


def _merge_suffixes(groups: dict[str, list[FileEvent]]) -> dict[str, list[FileEvent]]:
    kept: dict[str, list[FileEvent]] = {}
    for path in sorted(groups, key=len, reverse=True):
        if not path.startswith(("/", "~")) and ":" not in path[:3]:
            homes = [k for k in kept if k.endswith(("/" + path, "\\" + path))]
            if not homes and "." not in path and "/" not in path:  # `README` -> `README.md`
                homes = [k for k in kept if _stem(k) == path]
                changed = [k for k in homes if _role(kept[k]) in (EDITED, CREATED)]
                homes = changed if len(homes) > 1 else homes
            if len(homes) == 1:
                kept[homes[0]].extend(groups[path])
                continue
        kept[path] = list(groups[path])
    return kept


def _stem(path: str) -> str:
    return re.split(r"[/\\]", path)[-1].split(".")[0]


def _role(group: list[FileEvent]) -> str:
    best = max(ROLE_RANK.get(event.role, 0) for event in group)
    roles = [event.role for event in group if ROLE_RANK.get(event.role, 0) == best]
    if best == ROLE_RANK[EDITED]:
        return CREATED if CREATED in roles else EDITED
    return roles[0]


def _relevance(group: list[FileEvent]) -> tuple[int, int, int]:
    rank = ROLE_RANK.get(_role(group), 0)
    calls = len({event.context for event in group})
    return (-rank, -calls, min(event.order for event in group))


def _brief_file(group: list[FileEvent]) -> BriefFile:
    group = sorted(group, key=lambda event: event.order)
    role = _role(group)
    matching = [event for event in group if event.role == role or {event.role, role} == {
        CREATED, EDITED}]  # fmt: skip
    path = max((event.path for event in matching or group), key=len)
    excerpt = _first_excerpt(matching) or _first_excerpt(group)
    start = end = None
    if excerpt is not None and excerpt.start is not None:
        start, end = excerpt.start, excerpt.end
    elif excerpt is None:
        ranged = [event for event in matching if event.start is not None]
        if ranged:
            start, end = ranged[0].start, ranged[0].end
    language = language_for(path, excerpt.language if excerpt else None)
    return BriefFile(
        path=path,
        role=role,
        language=language,
        excerpt=excerpt.text if excerpt else None,
        start_line=start,
        end_line=end,
    )


def _first_excerpt(events: list[FileEvent]) -> Excerpt | None:
    return next((event.excerpt for event in events if event.excerpt is not None), None)
