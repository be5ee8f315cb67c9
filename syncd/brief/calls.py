"""A tool call and the code blocks inside it: which block shows which file.

A call that names one file and shows code (Write's content, Read's numbered result, the
output of `cat`) lends that code to the file as its excerpt; JSON envelopes, command lines
and bare result sentences are never excerpts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.brief.paths import (
    Excerpt,
    diff_excerpt,
    numbered_excerpt,
    output_lines,
    plain_excerpt,
)
from syncd.brief.tools import (
    CREATED,
    EDITED,
    READ,
    SHOWN,
    is_shell,
    json_code,
    lists_files,
    result_names,
    tool_role,
)

ROLE_RANK = {CREATED: 3, EDITED: 3, READ: 2, SHOWN: 1}

_FROM_TOP = frozenset({"cat", "head", "bat", "less", "more"})
_SKIPPED_LABELS = ("Additional data:", "Parameters:")
_NOT_EXCERPTS = ("Chunk ID", "EISDIR", "Error", "<tool_use_error>", "No files found")


@dataclass
class FileEvent:
    """One mention of a file. `context` groups mentions from one tool call, so a call that
    names a file three times counts once; `order` is the position in the conversation."""

    path: str
    role: str
    order: int
    context: int
    excerpt: Excerpt | None = None
    start: int | None = None
    end: int | None = None


@dataclass
class Fence:
    """A code block: its opener (indent, backticks, info string) and the line before it."""

    indent: str
    marker: str
    info: str
    label: str
    lines: list[str] = field(default_factory=list)
    depth: int = 0
    citation: FileEvent | None = None
    command: bool = False


@dataclass
class ToolCall:
    """One tool call: its name and type, the files it named, its code blocks, its commands."""

    ident: int
    name: str
    kind: str
    wrapper: bool
    events: list[FileEvent] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    fence_closed: bool = False

    @property
    def role(self) -> str | None:
        return tool_role(self.name, self.kind)

    @property
    def shell(self) -> bool:
        return is_shell(self.name, self.kind)

    @property
    def lists(self) -> bool:
        return lists_files(self.name, self.kind)


def code_excerpt(
    fence: Fence, *, whole_file: bool, lines: list[str] | None = None
) -> Excerpt | None:
    """A code block (or `lines` of it) as an excerpt: a diff's first hunk, else its first
    lines; `whole_file` when it holds a whole new file, so it starts at line 1."""
    lines = fence.lines if lines is None else lines
    first = next((line for line in lines if line.strip()), "")
    if fence.info.lower() in ("diff", "patch") or first.startswith("@@"):
        return diff_excerpt(lines, whole_file=whole_file)
    return plain_excerpt(lines, fence.info, 1 if whole_file else None)


def tool_excerpt(tool: ToolCall, event: FileEvent) -> Excerpt | None:
    """The code a single-file tool call shows: Write's content, Read's numbered result, or
    the output of `cat`/`sed -n`; never a JSON envelope or a bare result sentence."""
    for fence in tool.fences:
        if fence.command or fence.label in _SKIPPED_LABELS:
            continue
        if fence.info.lower() == "json":
            code = json_code(fence.lines)
            if code is not None:
                return plain_excerpt(code, None, 1 if event.role == CREATED else None)
            if not event.path.lower().endswith(".json"):
                continue
        lines = output_lines(fence.lines) if tool.shell else fence.lines
        first = next((line.strip() for line in lines if line.strip()), "")
        if not first or first.startswith(_NOT_EXCERPTS) or result_names(lines):
            continue
        if tool.shell and (event.start is not None or not numbered_excerpt(lines)):
            return plain_excerpt(lines, None, event.start or _first_line(tool))
        created = event.role == CREATED
        excerpt = numbered_excerpt(lines) or code_excerpt(fence, whole_file=created, lines=lines)
        if excerpt is not None:
            return excerpt
    return None


def _first_line(tool: ToolCall) -> int | None:
    """1 when the tool's command prints a file from its top (`cat f`, `head f`)."""
    words = tool.commands[0].split() if tool.commands else []
    return 1 if words and words[0] in _FROM_TOP else None
