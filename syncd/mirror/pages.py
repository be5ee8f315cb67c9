"""The generated pages of the mirror: the root README.md and each project's INDEX.md.

Pure: entries in, Markdown text out. The pages hold no clock times, so they
change only when the mirror does (no git churn), and the same entries in any
order give the same text. Links are relative and percent-encoded, so they work
on GitHub, GitLab and in Obsidian.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from syncd.mirror.names import GENERATED_MARK, PROJECT_INDEX
from syncd.mirror.paths import parse_time

README_TITLE = "SpecStory sessions"
UNTITLED = "(untitled)"
NO_DATE = "—"
# ASCII punctuation that could start Markdown markup, break a table cell or a link.
# CommonMark lets any ASCII punctuation be backslash-escaped, so escaping is always safe.
_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>|~#&")


@dataclass(frozen=True)
class SessionEntry:
    """One row of a project's INDEX.md."""

    filename: str
    name: str
    started: str | None
    models: tuple[str, ...]
    tags: tuple[str, ...]
    deleted_in_cloud: bool = False  # kept after its deletion (deletion.mode = keep)


@dataclass(frozen=True)
class ProjectEntry:
    """One row of the root README.md."""

    dirname: str
    name: str
    sessions: int
    last_activity: str | None


def render_project_index(project_name: str, sessions: Sequence[SessionEntry]) -> str:
    """Return a project's INDEX.md: title, session count, and a table newest first.

    Rows are ordered by start time (newest first, undated last), then by file
    name. Each session name links to its file in the same folder.
    """
    lines = [f"# {_inline(project_name)}", "", f"{_count(len(sessions), 'session')}."]
    if sessions:
        lines += ["", "| Date | Session | Models | Tags |", "|---|---|---|---|"]
        lines += [_session_row(entry) for entry in _newest_first(sessions)]
    lines += ["", GENERATED_MARK]
    return "\n".join(lines) + "\n"


def render_root_readme(projects: Sequence[ProjectEntry]) -> str:
    """Return the root README.md: totals and a table of projects linking to their INDEX.md.

    Rows are ordered by project name (case-insensitively), then by folder name.
    """
    total = sum(project.sessions for project in projects)
    summary = (
        f"{_count(total, 'session')} in {_count(len(projects), 'project')}, mirrored by syncd."
    )
    lines = [f"# {README_TITLE}", "", summary]
    if projects:
        lines += ["", "| Project | Sessions | Last activity |", "|---|---|---|"]
        ordered = sorted(projects, key=_project_order)
        lines += [_project_row(project) for project in ordered]
    return "\n".join(lines) + "\n"


def _session_row(entry: SessionEntry) -> str:
    link = f"[{_inline(entry.name)}]({_url_path(entry.filename)})"
    if entry.deleted_in_cloud:
        link += " (deleted in the cloud)"
    return f"| {_show_time(entry.started)} | {link} | {_list(entry.models)} | {_list(entry.tags)} |"


def _list(items: tuple[str, ...]) -> str:
    return ", ".join(text for text in (_inline(item, blank="") for item in items) if text)


def _project_row(project: ProjectEntry) -> str:
    target = f"{_url_path(project.dirname)}/{PROJECT_INDEX}"
    link = f"[{_inline(project.name)}]({target})"
    return f"| {link} | {project.sessions} | {_show_time(project.last_activity)} |"


def _url_path(name: str) -> str:
    """Percent-encode one path segment; a name read from a non-UTF-8 folder keeps its bytes."""
    try:
        return quote(name, safe="", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(name, safe="", errors="replace")


def _project_order(project: ProjectEntry) -> tuple[object, ...]:
    # Fields past name and folder only break ties, so that input order never shows.
    last = project.last_activity
    return (
        project.name.casefold(),
        project.dirname,
        project.name,
        project.sessions,
        _text_key(last),
    )


def _newest_first(sessions: Sequence[SessionEntry]) -> list[SessionEntry]:
    by_name = sorted(sessions, key=_file_order)
    # A stable sort, reversed, keeps equal start times in file-name order.
    return sorted(by_name, key=_start_key, reverse=True)


def _file_order(entry: SessionEntry) -> tuple[object, ...]:
    # Fields past the file name only break ties, so that input order never shows.
    return (entry.filename, entry.name, _text_key(entry.started), entry.models, entry.tags)


def _text_key(text: str | None) -> tuple[bool, str]:
    return (text is not None, text or "")


def _start_key(entry: SessionEntry) -> tuple[bool, datetime]:
    when = parse_time(entry.started)
    return (when is not None, when or datetime.min.replace(tzinfo=UTC))


def _show_time(iso: str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in UTC; text that is not ISO 8601 is shown as it is."""
    when = parse_time(iso)
    if when is not None:
        return f"{when.year:04d}-{when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d}"
    return _inline(iso, blank=NO_DATE) if iso is not None else NO_DATE


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _inline(text: str, blank: str = UNTITLED) -> str:
    """Make untrusted text safe inside a heading, a table cell or link text.

    Line breaks and control characters become spaces, whitespace runs collapse,
    characters that cannot be written as UTF-8 become U+FFFD, and Markdown
    punctuation is backslash-escaped. Blank text reads ``blank``.
    """
    cleaned = "".join(_clean_char(ch) for ch in text)
    words = cleaned.split()
    if not words:
        return blank
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in " ".join(words))


def _clean_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cs":
        return "\ufffd"
    if category in ("Cc", "Zl", "Zp"):
        return " "
    return ch
