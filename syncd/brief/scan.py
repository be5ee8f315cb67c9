"""What a conversation did, read turn by turn: the files it touched, what the agent said,
what its tools printed, and which tasks it ticked off.

One pass over the lines of each turn. Fences are tracked only inside a turn (a marker
always ends a turn, fence or not); a closing fence must sit at its opener's indent, so an
indented fence inside a diff or a numbered result does not end the block early, and an
opener with an info string inside a block nests (FORMAT.md, section 8).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from syncd.brief.calls import (
    ROLE_RANK,
    Fence,
    FileEvent,
    ToolCall,
    code_excerpt,
    tool_excerpt,
)
from syncd.brief.paths import clean_path, plain_excerpt, read_targets, write_targets
from syncd.brief.prose import ProseReader, without_placeholders
from syncd.brief.tools import (
    BACKTICKED,
    CHANGE_FIELD,
    CITATION,
    CREATED,
    EDITED,
    FENCE_OPEN,
    LANG_PATH,
    READ,
    SHOWN,
    SUMMARY,
    TOOL_ATTRS,
    TOOL_LINE,
    Named,
    block_names,
    declared_names,
    is_shell_info,
    line_names,
    mentions,
    summary_detail,
    tool_role,
    unescape,
)
from syncd.brief.transcript import USER, Turn

_CHECKED = re.compile(r"^\s*[-*]\s+\[[xX\u2713\u2714]\]\s+(.+?)\s*$")
_NOT_PROSE = re.compile(
    r"^(?:\||#|\*\*[^*]+\*\*:?$|Result:|Output:|Status:|Tool use:|Cancelled|Read file:|"
    r"(?:Edit|Write|Create|Delete) file:|"
    r"\[object Object\]|Resumed from .* via SpecStory|No response requested|Lines added)"
)
_TOOL_LABELS = ("Result", "Output", "Status", "Additional data", "Parameters", "Read file",
                "Edit file", "Lines added", "Cancelled", "Tool use", "Exit code",
                "Chunk")  # fmt: skip


@dataclass
class Findings:
    """Everything the builder needs from the turns, in conversation order."""

    events: list[FileEvent] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    commands: int = 0
    done: list[str] = field(default_factory=list)


def scan(turns: Iterable[Turn]) -> Findings:
    """Read every turn; never raises on odd Markdown."""
    return _Scanner().run(turns)


class _Scanner:
    def __init__(self) -> None:
        self.found = Findings()
        self.counter = 0
        self.fence: Fence | None = None
        self.tool: ToolCall | None = None
        self.pending: tuple[FileEvent, bool] | None = None
        self.think = False
        self.details = 0
        self.label = ""
        self.chunk: list[str] = []
        self.speaks = True
        self.synthetic = False
        self.prose = ProseReader()

    def run(self, turns: Iterable[Turn]) -> Findings:
        for turn in turns:
            if turn.speaker == USER:
                self.prose.reset()
                if not turn.sidechain:
                    self._user(turn.lines)
                continue
            self.speaks = not (turn.sidechain or turn.synthetic)
            self.synthetic = turn.synthetic
            for line in turn.lines:
                self._line(line)
            self._end_turn()
        return self.found

    # -- lines -------------------------------------------------------------------------

    def _line(self, line: str) -> None:
        if self.fence is not None:
            self._fence_line(line)
            return
        stripped = line.strip()
        if self.think:
            self.think = "</think>" not in stripped
        elif "<think>" in stripped:
            self._end_chunk()
            self.think = "</think>" not in stripped.split("<think>", 1)[1]
        elif stripped.startswith("<tool-use"):
            self._open_tool(stripped)
        elif stripped.endswith("</tool-use>"):
            self._end_tool()
        elif (match := TOOL_LINE.match(stripped)) and not (self.tool and self.tool.wrapper):
            self._end_tool()
            self._start_tool(match.group(1), "", wrapper=False)
            self._detail(match.group(2), self.tool.role if self.tool else None)
        elif stripped == "---":
            self._end_chunk()
            self.pending = None
            if self.tool and not self.tool.wrapper:
                self._end_tool()
        elif stripped.startswith("<"):
            self._tag_line(stripped)
        elif match := FENCE_OPEN.match(line):
            self._open_fence(line[: len(line) - len(line.lstrip(" "))], match)
        else:
            self._text_line(line, stripped)
        if stripped:
            self.label = stripped

    def _text_line(self, line: str, stripped: str) -> None:
        tool = self.tool
        if tool and not tool.wrapper and tool.fence_closed and _is_prose(stripped):
            self._end_tool()
            tool = None
        text = unescape(line) if tool or self.details else line
        if tool and tool.shell and (match := BACKTICKED.match(stripped)):
            self._command(match.group(1))
            return
        fields = tool is not None and not tool.lists
        role = tool.role if tool else None
        named = line_names(text, role, in_tool=tool is not None, fields=fields)
        for item in named:
            self._add(item)
        if fields and tool and tool.events and CHANGE_FIELD.match(text):
            self._add(Named(tool.events[-1].path, role or EDITED))  # new content: an edit
        if done := _CHECKED.match(text):
            self.found.done.append(done.group(1))
        elif not tool and not self.details:
            if not named and not self.synthetic:
                for item in self.prose.line(stripped):
                    self._add(item)
            self._prose(stripped)

    def _tag_line(self, stripped: str) -> None:
        if "<summary>" in stripped:
            self._summary(stripped)
        if self.tool is None:
            self.details += stripped.count("<details")
            self.details = max(0, self.details - stripped.count("</details>"))
        if "</details>" in stripped:
            self.pending = None

    def _summary(self, stripped: str) -> None:
        match = SUMMARY.search(stripped)
        if match is None:
            return
        content = unescape(match.group(1))
        tool_line = TOOL_LINE.match(content)
        if tool_line is None:
            self._detail(content, self.tool.role if self.tool else None)
            return
        name = tool_line.group(1)
        if self.tool is not None and not self.tool.name:
            self.tool.name = name
        role = tool_role(name, self.tool.kind if self.tool else "")
        self._detail(tool_line.group(2).lstrip("\u2022").strip(), role)

    def _detail(self, detail: str, role: str | None) -> None:
        named, command = summary_detail(detail, role)
        if named is not None:
            self._add(named)
        if command is not None:
            self._command(command)

    def _command(self, command: str) -> None:
        if self.tool is not None:
            self.tool.commands.append(command)
        for ref in read_targets(command):
            self._add(Named(ref.path, READ, start=ref.start, end=ref.end))
        for ref in write_targets(command):
            self._add(Named(ref.path, EDITED))

    def _prose(self, stripped: str) -> None:
        if not self.speaks:
            return
        if not stripped:
            self.chunk.append("")
        elif not _NOT_PROSE.match(stripped):
            self.chunk.append(stripped)

    def _end_chunk(self) -> None:
        text = "\n".join(self.chunk).strip()
        if text:
            self.found.chunks.append(text)
        self.chunk = []

    # -- fences ------------------------------------------------------------------------

    def _open_fence(self, indent: str, match: re.Match[str]) -> None:
        marker, info = match.group(1), match.group(2)
        fence = Fence(indent, marker, info, self.label)
        if citation := CITATION.match(info):
            start, end = int(citation.group(1)), int(citation.group(2))
            fence.citation = self._add(Named(citation.group(3), SHOWN, start=start, end=end))
        elif named := LANG_PATH.match(info):
            fence.citation = self._add(Named(named.group(1), SHOWN))
        self.fence = fence

    def _fence_line(self, line: str) -> None:
        fence = self.fence
        if fence is None:
            return
        if self.tool and self.tool.wrapper and line.strip().endswith("</tool-use>"):
            self._close_fence()
            self._end_tool()
            return
        if line.startswith(fence.indent + fence.marker):
            rest = line[len(fence.indent) + len(fence.marker) :]
            if not rest.strip():
                if fence.depth == 0:
                    self._close_fence()
                    return
                fence.depth -= 1
            elif not rest.startswith(fence.marker[0]) and "`" not in rest:
                fence.depth += 1
        fence.lines.append(unescape(line) if self.tool or self.details else line)

    def _close_fence(self) -> None:
        fence, self.fence = self.fence, None
        if fence is None:
            return
        if fence.citation is not None:
            if fence.citation.excerpt is None:
                fence.citation.excerpt = plain_excerpt(fence.lines, None, fence.citation.start)
            return
        tool = self.tool
        named = block_names(fence.lines, tool.role if tool else None)
        for item in named:
            self._add(item)
        if self.pending is not None:
            event, whole_file = self.pending
            self.pending = None
            event.excerpt = event.excerpt or code_excerpt(fence, whole_file=whole_file)
        elif not named and not tool and not self.details and not self.synthetic:
            self._prose_code(fence)
        if tool is not None:
            self._tool_fence(tool, fence)

    def _prose_code(self, fence: Fence) -> None:
        """A code block in the agent's prose: a file it declares (`// filepath:`, diff
        headers), else the file the prose just announced (see prose)."""
        declared = declared_names(fence.lines, fence.info)
        for item in declared:
            self._add(item)
        if declared:
            return
        code = without_placeholders(fence.lines)
        for index, target in enumerate(self.prose.code(fence.info, fence.lines)):
            event = self._add(target)
            if event is not None and event.excerpt is None and index == 0 and code:
                event.excerpt = code_excerpt(fence, whole_file=target.role == CREATED, lines=code)

    def _tool_fence(self, tool: ToolCall, fence: Fence) -> None:
        if tool.shell and not tool.commands and is_shell_info(fence.info):
            fence.command = True
            self._command("\n".join(fence.lines))
        else:
            self.found.outputs.append("\n".join(fence.lines))
        tool.fences.append(fence)
        tool.fence_closed = True

    # -- tools -------------------------------------------------------------------------

    def _open_tool(self, stripped: str) -> None:
        attrs = dict(TOOL_ATTRS.findall(stripped))
        self._end_tool()
        self._start_tool(attrs.get("name", ""), attrs.get("type", ""), wrapper=True)
        if "<summary>" in stripped:
            self._summary(stripped)
        if stripped.endswith("</tool-use>"):
            self._end_tool()

    def _start_tool(self, name: str, kind: str, *, wrapper: bool) -> None:
        self._end_chunk()
        self.prose.reset()
        self.counter += 1
        self.tool = ToolCall(self.counter, name, kind, wrapper)

    def _end_tool(self) -> None:
        tool, self.tool = self.tool, None
        if tool is None:
            return
        self.pending = None
        if tool.shell and tool.commands:
            self.found.commands += 1
        lacking = [event for event in tool.events if event.excerpt is None]
        if len(tool.events) == 1 and lacking:
            lacking[0].excerpt = tool_excerpt(tool, lacking[0])

    def _end_turn(self) -> None:
        self._close_fence()
        self._end_tool()
        self._end_chunk()
        self.pending = None
        self.think = False
        self.details = 0

    # -- files -------------------------------------------------------------------------

    def _add(self, named: Named) -> FileEvent | None:
        ref = clean_path(named.raw)
        if ref is None:
            return None
        start, end = named.start or ref.start, named.end or ref.end
        if start is None or end is None or not 1 <= start <= end:
            start = end = None
        event = self._same_call(ref.path, named)
        if event is None:
            self.counter += 1
            context = self.tool.ident if self.tool else self.counter
            event = FileEvent(ref.path, named.role, self.counter, context, named.excerpt)
            self.found.events.append(event)
            if self.tool is not None:
                self.tool.events.append(event)
        if event.start is None and start is not None:
            event.start, event.end = start, end
        if named.awaits_code:
            self.pending = (event, named.whole_file)
        return event

    def _same_call(self, path: str, named: Named) -> FileEvent | None:
        for event in self.tool.events if self.tool else ():
            if event.path == path:
                if ROLE_RANK.get(named.role, 0) > ROLE_RANK.get(event.role, 0) or (
                    named.role == CREATED and event.role == EDITED
                ):
                    event.role = named.role
                event.excerpt = event.excerpt or named.excerpt
                return event
        return None

    def _user(self, lines: tuple[str, ...]) -> None:
        fence: Fence | None = None
        for line in lines:
            if fence is not None:
                if line.startswith(fence.indent + fence.marker) and not line.strip(" `~"):
                    if fence.citation is not None and fence.citation.excerpt is None:
                        excerpt = plain_excerpt(fence.lines, None, fence.citation.start)
                        fence.citation.excerpt = excerpt
                    fence = None
                else:
                    fence.lines.append(line)
            elif match := FENCE_OPEN.match(line):
                fence = Fence(line[: len(line) - len(line.lstrip(" "))], match.group(1), "", "")
                if citation := CITATION.match(match.group(2)):
                    start, end = int(citation.group(1)), int(citation.group(2))
                    fence.citation = self._add(
                        Named(citation.group(3), SHOWN, start=start, end=end)
                    )
            else:
                for item in mentions(line):
                    self._add(item)


def _is_prose(stripped: str) -> bool:
    return bool(stripped) and stripped[0].isalpha() and not stripped.startswith(_TOOL_LABELS)
