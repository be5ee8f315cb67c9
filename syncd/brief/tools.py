"""The shapes in which tools name files, one recogniser per shape (corpus FORMAT.md, 6-7).

Each recogniser takes one line (or one fence's lines) and returns what it names; none of
them keeps state. The scanner in `scan` decides which apply where.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from syncd.brief.paths import (
    Excerpt,
    diff_excerpt,
    looks_like_file,
    numbered_excerpt,
    plain_excerpt,
)

CREATED = "created"
EDITED = "edited"
READ = "read"
SHOWN = "shown"
MENTIONED = "mentioned"

TOOL_ATTRS = re.compile(r'data-tool-(type|name)="([^"]*)"')
TOOL_LINE = re.compile(r"^\s*Tool use: \*\*([^*]+)\*\*\s*(.*)$")
SUMMARY = re.compile(r"<summary>\s*(.*?)\s*(?:</summary>|$)")
FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`]*?)\s*$")
CITATION = re.compile(r"^(\d{1,9}):(\d{1,9}):(.+)$")
LANG_PATH = re.compile(r"^[A-Za-z][\w+#-]*:([^\s:]*[/.][^\s:]*)$")

_READ_FILE = re.compile(r"^(?:Read file|Reading file|View file):\s*(.+?)\s*$")
_EDIT_FILE = re.compile(r"^(?:Edit file|Edit|Write file|Create file):\s*(.+?)\s*$")
_RUN_COMMAND = re.compile(r"^Run command:\s*(.+?)\s*$")
BACKTICKED = re.compile(r"^`([^`]+)`$")
_CODEX_CHANGE = re.compile(r"^\*\*(Add|Update|Delete|Edit|Move): `([^`]+)`\*\*\s*$")
_COPILOT_HEADING = re.compile(r"^#{2,4} \[[^\]]*\]\(((?:file:|/)[^)]+)\)\s*$")
_EDIT_LINE = re.compile(
    r"^(?:Edit file|Write file|Create file|Edited file|Created file|Updated file|Modified file"
    r"|Wrote file|Delete file|Deleted file):\s*`?(.+?)`?\s*$"
)
_EDIT_SUMMARY = re.compile(
    r"^(Edited|Created|Updated|Modified|Wrote|Deleted) (`[^`]+`|[^\s`]+)(?: \(\d+ edits?\))?"
    r"\s*$"
)
_FIELD_BULLET = re.compile(
    r"^\s*[-*]\s*\**(?:filePath|file_path|path|target_file|targetFile|filename|file_name|file"
    r"|absolute_path|notebook_path)\**:\s*(?:`([^`]+)`|([^\s`].*?))\s*$"
)
# Fields of a tool call rendered as a list that carry new content: the call changes its file.
CHANGE_FIELD = re.compile(
    r"^\s*[-*]\s*\**(?:newString|new_string|new_str|oldString|old_string|old_str|content"
    r"|contents|file_text|edits|patch|insertText|insert_text|code|replacement)\**:"
)
_FILEPATH_COMMENT = re.compile(
    r"^\s*(?://|#|<!--|--|/\*|;)\s*(?:filepath|file path|file|path):\s*`?([^`*]+?)`?\s*"
    r"(?:-->|\*/)?\s*$",
    re.I,
)
_DIFF_NEW = re.compile(r"^\+\+\+ (?:[bw]/)?(\S.*?)(?:\t.*)?\s*$")
_DIFF_OLD = re.compile(r"^--- (?:[aw]/)?(\S.*?)(?:\t.*)?\s*$")
_JSON_FENCED = re.compile(r'"content"\s*:\s*"`{3,}([^`"\\]+?)\\n')
_LINKED = re.compile(
    r"\b(Creat(?:ed|ing)|Edit(?:ed|ing)|Updat(?:ed|ing)|Read(?:ing)?)\s+"
    r"\[[^\]]*\]\((file:[^)\s]+)\)(?:,\s*lines?\s+(\d{1,9})\s+to\s+(\d{1,9}))?"
)
_READ_NAMED = re.compile(r"\bRead(?:ing)?\s+`([^`]+)`")
_JSON_PATH = re.compile(
    r'"(?:file_path|filePath|target_file|targetFile|notebook_path)"\s*:\s*"((?:[^"\\]|\\.)+)"'
)
_UPDATED = re.compile(r"^\s*The file (.+?) has been (?:updated|created|written)\b")
_CREATED = re.compile(r"^\s*File created successfully at:?\s*(.+?)\s*$")
_APPLIED = re.compile(r"^\s*Applied \d+ edits? to (.+?):?\s*$")
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File:\s*(.+?)\s*$")
_MENTION = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=\())@([\w./\\-]*\w\.[A-Za-z][A-Za-z0-9]{0,9})\b")
_ENTITY = re.compile(r"&(#96|#x60|#39|#x27|quot|amp|lt|gt|apos);")
_ENTITIES = {"#96": "`", "#x60": "`", "#39": "'", "#x27": "'", "quot": '"', "amp": "&",
             "lt": "<", "gt": ">", "apos": "'"}  # fmt: skip
_SHELL_NAMES = frozenset(
    {"bash", "shell", "command", "run_terminal_cmd", "exec_command", "run_in_terminal",
     "run_command", "execute_command", "run_shell_command", "terminal"}
)  # fmt: skip
# Tools whose names contain "write"/"update"/"read" but that touch no file of the project.
_NOT_FILE_TOOLS = ("todo", "plan", "task", "think", "fetch", "web", "grep", "glob", "list",
                   "question", "mcp", "search")  # fmt: skip
_LISTING_TOOLS = frozenset({"ls", "find", "tree", "dir", "codebase_search", "file_search"})
_SHELL_INFOS = frozenset({"", "bash", "sh", "shell", "zsh", "console", "powershell", "cmd"})
_CHANGE_ROLES = {"Add": CREATED, "Update": EDITED, "Delete": EDITED, "Edit": EDITED,
                 "Move": EDITED}  # fmt: skip


@dataclass(frozen=True)
class Named:
    """A raw path a line or block names, the role it plays there, and what it shows."""

    raw: str
    role: str
    excerpt: Excerpt | None = None
    start: int | None = None
    end: int | None = None
    awaits_code: bool = False
    whole_file: bool = False


def unescape(text: str) -> str:
    """HTML entities SpecStory writes inside tool blocks (`&#96;`, `&quot;`...) decoded."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


@cache
def tool_role(name: str, kind: str) -> str | None:
    """The role of the files a tool names, from its name, else its `data-tool-type`."""
    name = name.lower()
    if any(word in name for word in _NOT_FILE_TOOLS):
        return None
    if "create" in name or name in ("write", "write_file", "writefile"):
        return CREATED
    if any(word in name for word in ("edit", "replace", "patch", "write", "insert", "update")):
        return EDITED
    if any(word in name for word in ("read", "view", "open")):
        return READ
    return {"write": EDITED, "read": READ}.get(kind)


def lists_files(name: str, kind: str) -> bool:
    """Whether a tool only finds or lists files (grep, glob, ls, search): the paths it is
    given are places to look, never files it read or changed."""
    lowered = name.lower()
    return (
        kind == "search"
        or lowered in _LISTING_TOOLS
        or any(word in lowered for word in ("grep", "glob", "list", "search"))
    )


def is_shell(name: str, kind: str) -> bool:
    """Whether a tool runs shell commands."""
    return kind in ("shell", "bash") or name.lower() in _SHELL_NAMES


def is_shell_info(info: str) -> bool:
    """Whether a fence info string is a shell language (a command block)."""
    return info.lower() in _SHELL_INFOS


def summary_detail(detail: str, role: str | None) -> tuple[Named | None, str | None]:
    """What a `<summary>`'s detail (after `Tool use: **X** •`) names: a file, or a command."""
    detail = detail.strip()
    if match := _READ_FILE.match(detail):
        return Named(match.group(1), READ), None
    if match := _EDIT_FILE.match(detail):
        return Named(match.group(1), EDITED, awaits_code=True), None
    if match := _RUN_COMMAND.match(detail):
        return None, match.group(1)
    if match := BACKTICKED.match(detail):
        return (None, match.group(1)) if role is None else (Named(match.group(1), role), None)
    linked = _linked(detail)
    return (linked[0] if linked else None), None


def line_names(line: str, role: str | None, *, in_tool: bool, fields: bool = True) -> list[Named]:
    """The files one line outside a code block names (agent turns). `fields` is False in a
    tool that only lists or searches: its `path:` field is where it looked."""
    stripped = line.strip()
    found: list[Named] = []
    head = stripped[:1]
    match: re.Match[str] | None = None
    if head in "RV" and (match := _READ_FILE.match(stripped)):
        found.append(Named(match.group(1), READ))
    elif head == "*" and (match := _CODEX_CHANGE.match(stripped)):
        kind = match.group(1)
        found.append(
            Named(match.group(2), _CHANGE_ROLES[kind], awaits_code=True, whole_file=kind == "Add")
        )
    elif (head == "#" and (match := _COPILOT_HEADING.match(stripped))) or (
        head in "ECUWMD" and (match := _EDIT_LINE.match(stripped))
    ):
        found.append(Named(match.group(1), EDITED, awaits_code=True))
    elif head in "ECUWMD" and (match := _EDIT_SUMMARY.match(stripped)):
        found.extend(_summary_edit(match.group(1), match.group(2)))
    elif in_tool and fields and head in "-*" and (match := _FIELD_BULLET.match(stripped)):
        found.append(Named(match.group(1) or match.group(2), role or READ))
    elif in_tool and role is not None and head == "`" and (match := BACKTICKED.match(stripped)):
        found.append(Named(match.group(1), role))
    if in_tool:
        found.extend(_linked(stripped))
        if "Read" in stripped:
            found.extend(Named(m.group(1), READ) for m in _READ_NAMED.finditer(stripped))
        found.extend(result_names([stripped]))
    return found


def declared_names(lines: list[str], info: str) -> list[Named]:
    """The files a code block in the agent's prose declares itself: a first-line comment
    (`// filepath: src/a.ts`), or the `---`/`+++` headers of a git-style diff."""
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return []
    comment = _FILEPATH_COMMENT.match(lines[first])
    if comment and looks_like_file(comment.group(1)):
        rest = lines[first + 1 :]
        return [Named(comment.group(1), EDITED, plain_excerpt(rest, info))]
    found: list[Named] = []
    for index, line in enumerate(lines):
        new = _DIFF_NEW.match(line) if line.startswith("+++ ") else None
        if new is None or new.group(1) == "/dev/null" or index == 0:
            continue
        old = _DIFF_OLD.match(lines[index - 1])
        if old is None:
            continue
        role = CREATED if old.group(1) == "/dev/null" else EDITED
        stop = next(
            (i for i in range(index + 1, len(lines)) if lines[i].startswith("diff --git")),
            len(lines),
        )
        excerpt = diff_excerpt(lines[index + 1 : stop], whole_file=role == CREATED)
        found.append(Named(new.group(1), role, excerpt))
    return found


def block_names(lines: list[str], role: str | None) -> list[Named]:
    """The files a code block inside a tool names: result sentences with their `cat -n`
    snippet, apply_patch file headers with their hunk, and JSON path fields."""
    found = result_names(lines)
    found.extend(_patch_names(lines))
    if role is not None:
        for line in lines:
            if '"' in line and ("ath" in line or "file" in line):
                found.extend(Named(raw, role) for raw in _json_paths(line))
            if "](file:" in line:
                found.extend(_linked(line))
            fenced = _JSON_FENCED.search(line) if '"content"' in line else None
            if fenced and re.search(r"[/\\]", fenced.group(1)):  # a path, not a language
                found.append(Named(fenced.group(1), role))
    return found


def result_names(lines: list[str]) -> list[Named]:
    """`The file P has been updated`, `File created successfully at: P`, `Applied N edits
    to P:` in the first lines of a tool result, with the numbered snippet that follows."""
    for index, line in enumerate(lines[:3]):
        if "ile " not in line and "Applied" not in line:
            continue
        for pattern, role in ((_UPDATED, EDITED), (_CREATED, CREATED), (_APPLIED, EDITED)):
            match = pattern.match(line)
            if match:
                excerpt = numbered_excerpt(lines[index + 1 :])
                return [Named(match.group(1), role, excerpt)]
    return []


def json_code(lines: list[str]) -> list[str] | None:
    """The code a Copilot JSON result carries in `"textEditContent"`, as lines."""
    for line in lines:
        stripped = line.strip().rstrip(",")
        if stripped.startswith('"textEditContent": "'):
            try:
                value = json.loads("{" + stripped + "}").get("textEditContent")
            except ValueError:
                return None
            return value.split("\n") if isinstance(value, str) and value.strip() else None
    return None


def mentions(line: str) -> list[Named]:
    """`@path.ext` attachments in a user request."""
    if "@" not in line:
        return []
    return [Named(match.group(1), MENTIONED) for match in _MENTION.finditer(line)]


def _summary_edit(verb: str, raw: str) -> list[Named]:
    """`Edited `a.ex` (1 edit)`, `Created src/b.py`: a bare word counts only as a path."""
    quoted = raw.startswith("`")
    path = raw.strip("`")
    if not quoted and not (looks_like_file(path) or "/" in path):
        return []
    return [Named(path, CREATED if verb == "Created" else EDITED)]


def _linked(line: str) -> list[Named]:
    if "](file:" not in line:
        return []
    found = []
    for match in _LINKED.finditer(line):
        verb, uri, first, last = match.groups()
        role = CREATED if verb.startswith("Creat") else READ if verb.startswith("Read") else EDITED
        start = int(first) if first else None
        end = int(last) if last else None
        found.append(Named(uri, role, start=start, end=end))
    return found


def _patch_names(lines: list[str]) -> list[Named]:
    found: list[Named] = []
    heads = [i for i, line in enumerate(lines) if line.startswith("*** ")]
    for position, index in enumerate(heads):
        match = _PATCH_FILE.match(lines[index])
        if match is None:
            continue
        stop = heads[position + 1] if position + 1 < len(heads) else len(lines)
        kind = match.group(1)
        role = CREATED if kind == "Add" else EDITED
        excerpt = diff_excerpt(lines[index + 1 : stop], whole_file=kind == "Add")
        found.append(Named(match.group(2), role, excerpt))
    return found


def _json_paths(line: str) -> list[str]:
    paths = []
    for match in _JSON_PATH.finditer(line):
        try:
            value = json.loads(f'"{match.group(1)}"')
        except ValueError:
            continue
        if isinstance(value, str):
            paths.append(value)
    return paths
