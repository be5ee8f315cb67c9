"""Turn a SpecStory session's Markdown into a PullStory brief, or say why it cannot be one.

Pure: no I/O, no clock. `build_brief` never raises on any text and never returns a brief
that `validate` rejects:

    result = build_brief(markdown, name="Fix the sync bug")
    if isinstance(result, NoBrief):
        print(result.reason)
    else:
        body, key = result.to_json(), result.content_hash()

The title comes from the session name, the summary from the first user request, the
files from what the conversation changed, then what it read or showed as context (ranked,
with excerpts and line ranges), the flow from the user's successive requests ending with
the outcome, and the highlights from notable outcomes (files changed, test results, tasks
done). A brief tells a change: a session that changes no file has none, and its NoBrief
says whether it named files at all (see `scan` and `prose` for what counts).
"""

from __future__ import annotations

import re

from syncd.brief.files import rank_files
from syncd.brief.model import LIMITS, Brief, BriefFile, NoBrief, validate
from syncd.brief.outcomes import make_highlights
from syncd.brief.scan import scan
from syncd.brief.story import make_flow, make_summary, make_title
from syncd.brief.tools import CREATED, EDITED
from syncd.brief.transcript import (
    USER,
    Turn,
    clean_input,
    read_transcript,
    request_text,
)

__all__ = [
    "EMPTY",
    "NO_ANSWER",
    "NO_CHANGE",
    "NO_FILES",
    "NO_REQUEST",
    "NO_TURNS",
    "build_brief",
]

CHANGE_ROLES = (EDITED, CREATED)

EMPTY = "the session is empty: there is no conversation to tell"
NO_TURNS = (
    "the session has no conversation turns: it is an empty export or a note SpecStory did not write"
)
NO_REQUEST = (
    "the conversation has no user request to tell: its user turns are empty or only "
    "slash commands and command output"
)
NO_ANSWER = (
    "the agent never answered: its replies are empty (or lost to an export bug), so the "
    "session changed nothing to tell"
)
NO_FILES = (
    "the conversation touches no file: nothing in it creates, edits or reads one, and a "
    "brief needs at least one changed file"
)
NO_CHANGE = "the conversation changes no file"
_NAMED_IN_REASON = 3
_EMPTY_REPLY = re.compile(r"^\s*(?:\[object Object\]|---)?\s*$")


def build_brief(markdown: str, *, name: str, repo: dict[str, str] | None = None) -> Brief | NoBrief:
    """The brief for one session's Markdown, or a NoBrief whose reason says what is
    missing. `name` is the session's name (its title); `repo` is passed through."""
    text = clean_input(markdown or "")
    if not text.strip():
        return NoBrief(EMPTY)
    transcript = read_transcript(text)
    if not transcript.turns:
        return NoBrief(NO_TURNS)
    requests = user_requests(transcript.turns)
    if not requests:
        return NoBrief(NO_REQUEST)
    if not _answered(transcript.turns):
        return NoBrief(NO_ANSWER)
    findings = scan(transcript.turns)
    files = rank_files(findings.events)
    if not files:
        return NoBrief(NO_FILES)
    if not any(item.role in CHANGE_ROLES for item in files):
        return NoBrief(no_change(files))
    title = make_title(clean_input(name or ""), transcript.heading, requests)
    brief = Brief(
        title=title,
        summary=make_summary(requests, title),
        files=tuple(files[: LIMITS.files_items[1]]),
        flow=make_flow(requests, findings.chunks, files, title),
        highlights=make_highlights(files, findings),
        repo=_repo(repo),
    )
    problems = validate(brief)
    if problems:
        return NoBrief(f"syncd built a brief PullStory would refuse ({'; '.join(problems)})")
    return brief


def user_requests(turns: tuple[Turn, ...]) -> list[str]:
    """The user's requests in order: consecutive user turns merged into one, meta turns
    (slash commands, command output, interruptions) and subagent prompts left out."""
    requests: list[str] = []
    current: list[str] = []
    for turn in turns:
        if turn.speaker != USER or turn.sidechain:
            if current:
                requests.append("\n\n".join(current))
                current = []
            continue
        text = request_text(turn.lines)
        if text:
            current.append(text)
    if current:
        requests.append("\n\n".join(current))
    return requests


def no_change(files: list[BriefFile]) -> str:
    """The reason for a session whose files were only read, shown or mentioned."""
    names = ", ".join(item.path for item in files[:_NAMED_IN_REASON])
    more = f" and {len(files) - _NAMED_IN_REASON} more" if len(files) > _NAMED_IN_REASON else ""
    count = f"{len(files)} file" + ("" if len(files) == 1 else "s")
    return (
        f"{NO_CHANGE}: it only reads, shows or mentions {count} ({names}{more}), and a brief "
        "needs at least one changed file"
    )


def _answered(turns: tuple[Turn, ...]) -> bool:
    """Whether any agent turn says anything (`[object Object]` is a lost reply)."""
    return any(
        turn.speaker != USER and not all(_EMPTY_REPLY.match(line) for line in turn.lines)
        for turn in turns
    )


def _repo(repo: dict[str, str] | None) -> dict[str, str] | None:
    if repo is None:
        return None
    return {clean_input(str(key)): clean_input(str(value)) for key, value in repo.items()}
