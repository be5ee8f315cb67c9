"""File paths, languages and code excerpts as they appear in SpecStory transcripts.

Paths are kept as the transcript gives them, except that `file://` URIs become plain
paths (percent-decoded, fragment dropped), a leading `./` is dropped, and things that are
not files (URLs, `undefined`, globs, directories, shell variables) are refused, and so are
SpecStory's own records under `.specstory/` (a session's history file is not its subject).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from urllib.parse import unquote

from syncd.brief.text import cut, units

EXCERPT_MAX = 400
PATH_MAX = 500

_NOT_FILES = frozenset({"undefined", "null", "none", "nan", "[object object]", "~", "-"})
_BAD_CHARS = re.compile(r"[*?<>|\"$\x00-\x1f\x7f{}]")
_ALNUM = re.compile(r"\w")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(?:mailto|data|javascript|www)[:.]", re.I)
_FRAGMENT_LINES = re.compile(r"^L?(\d{1,9})(?:[-:]L?(\d{1,9}))?$")
_WINDOWS_DRIVE = re.compile(r"^/[A-Za-z]:[/\\]")
_NUMBERED = re.compile(r"^\s*(\d{1,9})(?:→|\t)(.*)$")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")
_ESCAPED_FENCE = re.compile(r"^(\s*)\\(?=```)")
_BARE_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})[^`]*$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d{1,9})(?:,(\d{1,9}))? @@")
_LANGUAGE_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_+#.-]{0,29}$")
_NOT_LANGUAGES = frozenset(
    {"diff", "patch", "text", "txt", "plaintext", "plain", "output", "console", "log", "none"}
)
_DIFF_HEADERS = ("index ", "--- ", "+++ ", "new file mode", "deleted file mode", "similarity")
_READERS = frozenset({"cat", "nl", "head", "tail", "less", "more", "bat", "sed"})
_SED_RANGE = re.compile(r"^(\d{1,9})(?:,(\d{1,9}))?p$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")
_SCRATCH = ("/dev/", "/tmp/", "/proc/")

_LANGUAGES = {
    "py": "python", "pyi": "python", "ts": "typescript", "tsx": "tsx", "mts": "typescript",
    "cts": "typescript", "js": "javascript", "jsx": "jsx", "mjs": "javascript",
    "cjs": "javascript", "go": "go", "rs": "rust", "java": "java", "kt": "kotlin",
    "kts": "kotlin", "swift": "swift", "rb": "ruby", "php": "php", "cs": "csharp",
    "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "m": "objc",
    "ex": "elixir", "exs": "elixir", "heex": "heex", "erl": "erlang", "clj": "clojure",
    "scala": "scala", "hs": "haskell", "lua": "lua", "r": "r", "dart": "dart", "jl": "julia",
    "sh": "bash", "bash": "bash", "zsh": "zsh", "fish": "fish", "ps1": "powershell",
    "sql": "sql", "html": "html", "htm": "html", "css": "css", "scss": "scss", "sass": "sass",
    "less": "less", "vue": "vue", "svelte": "svelte", "astro": "astro", "md": "markdown",
    "mdx": "mdx", "mdc": "markdown", "rst": "rst", "json": "json", "jsonc": "json",
    "jsonl": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "ini": "ini",
    "cfg": "ini", "xml": "xml", "svg": "svg", "proto": "protobuf", "graphql": "graphql",
    "tf": "hcl", "hcl": "hcl", "gradle": "groovy", "groovy": "groovy", "mk": "makefile",
    "cmake": "cmake", "zig": "zig", "nim": "nim", "ml": "ocaml", "fs": "fsharp",
    "vb": "vb", "pl": "perl", "tex": "latex", "csv": "csv", "env": "dotenv",
}  # fmt: skip
_OTHER_EXTENSIONS = frozenset(
    {"txt", "lock", "log", "conf", "config", "properties", "plist", "bat", "cmd", "example",
     "sample", "template", "tmpl", "j2", "sum", "mod", "gitignore", "dockerignore", "pem"}
)  # fmt: skip
_NAMED_FILES = {
    "dockerfile": "dockerfile", "makefile": "makefile", "gemfile": "ruby",
    "rakefile": "ruby", "justfile": "just", ".env": "dotenv", "cmakelists.txt": "cmake",
}  # fmt: skip


@dataclass(frozen=True)
class Excerpt:
    """A short piece of code about one file, with the file lines it shows when known."""

    text: str
    language: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class PathRef:
    """A cleaned path and the line range its URI fragment named, if any."""

    path: str
    start: int | None = None
    end: int | None = None


def clean_path(raw: str) -> PathRef | None:
    """The path `raw` names, or None when it is not a file (see the module docstring)."""
    text = raw.strip().strip("`'\"").strip()
    text = text.rstrip(".,;:)").strip() if not text.endswith("..") else text
    start = end = None
    if text.lower().startswith("file:"):
        text, start, end = _from_uri(text)
    while text.startswith("./"):
        text = text[2:]
    if not _is_file(text):
        return None
    return PathRef(text, start, end)


def looks_like_file(text: str) -> bool:
    """Whether a backticked word in prose is a file name (`src/a.ts`, `.env.local`,
    `Makefile`), not code (`entry.visitCount`, `os.Getwd()`)."""
    name = re.split(r"[/\\]", text)[-1]
    lower = name.lower()
    if lower in _NAMED_FILES or (name.startswith(".") and name[1:2].isalpha()):
        return True
    extension = lower.rsplit(".", 1)[1] if "." in lower.strip(".") else ""
    return extension in _LANGUAGES or extension in _OTHER_EXTENSIONS


def language_for(path: str, info: str | None = None) -> str | None:
    """The language of `path` from its name, else from a fence info string."""
    name = re.split(r"[/\\]", path)[-1].lower()
    if name in _NAMED_FILES:
        return _NAMED_FILES[name]
    if "." in name.strip("."):
        known = _LANGUAGES.get(name.rsplit(".", 1)[1])
        if known:
            return known
    return fence_language(info)


def fence_language(info: str | None) -> str | None:
    """A fence info string's language, when it names one (not `diff`, `text`, a path...)."""
    word = (info or "").split(" ")[0].strip().lower()
    if _LANGUAGE_WORD.match(word) and word not in _NOT_LANGUAGES and ":" not in word:
        return word
    return None


def plain_excerpt(lines: list[str], info: str | None, start: int | None = None) -> Excerpt | None:
    """The first lines of a code block; `start` is the file line of its first line."""
    text, skipped, shown = clip(lines)
    if not text:
        return None
    if start is None:
        return Excerpt(text, fence_language(info))
    return Excerpt(text, fence_language(info), start + skipped, start + skipped + shown - 1)


def numbered_excerpt(lines: list[str]) -> Excerpt | None:
    """A `cat -n` style snippet (`    20→text`) without its numbers, with its line range."""
    numbers: list[int] = []
    body: list[str] = []
    for line in lines:
        match = _NUMBERED.match(line)
        if match is None:
            break
        numbers.append(int(match.group(1)))
        body.append(match.group(2))
    text, skipped, shown = clip(body)
    if not text:
        return None
    first, last = numbers[skipped], numbers[skipped + shown - 1]
    return Excerpt(text, None, first, last) if 1 <= first <= last else Excerpt(text, None)


def diff_excerpt(lines: list[str], *, whole_file: bool = False) -> Excerpt | None:
    """The first hunk of a diff. Its new-file line range comes from a numbered `@@` header,
    or is 1..n for a diff that creates the file (`whole_file`); pure additions lose `+`."""
    start, body = _first_hunk(lines)
    body = [line for line in body if line.rstrip() not in ("-", "\\ No newline at end of file")]
    pure = bool(body) and all(line.startswith("+") for line in body if line)
    if pure:
        body = _dedent_one([line[1:] for line in body])
        start = 1 if start is None and whole_file else start
    text, skipped, shown = clip(body)
    if not text:
        return None
    if start is None or start < 1:
        return Excerpt(text, None)

    def new_side(chunk: list[str]) -> int:
        return len(chunk) if pure else sum(1 for line in chunk if not line.startswith("-"))

    first = start + new_side(body[:skipped])
    return Excerpt(text, None, first, first + max(new_side(body[skipped : skipped + shown]), 1) - 1)


def output_lines(lines: list[str]) -> list[str]:
    """A shell result without the Codex header (`Chunk ID`, `Wall time`, ... `Output:`)."""
    for index, line in enumerate(lines[:8]):
        if line.strip() == "Output:":
            return lines[index + 1 :]
    return lines


def clip(lines: list[str]) -> tuple[str, int, int]:
    """Up to EXCERPT_MAX units of whole lines: the text, how many blank lines were skipped
    at the start, and how many lines it shows. A first line too long on its own is cut."""
    skipped = 0
    while skipped < len(lines) and (
        not lines[skipped].strip() or _BARE_FENCE.match(lines[skipped])
    ):
        skipped += 1
    kept: list[str] = []
    used = 0
    for raw in lines[skipped:]:
        line = _ESCAPED_FENCE.sub(r"\1", _CONTROL.sub("", raw.rstrip()))
        cost = units(line) + (1 if kept else 0)
        if used + cost > EXCERPT_MAX:
            if not kept:
                kept.append(cut(line, EXCERPT_MAX))
            break
        kept.append(line)
        used += cost
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept), skipped, len(kept)


def read_targets(command: str) -> list[PathRef]:
    """Files a simple shell command prints (`cat f`, `nl -ba f | sed -n '20,90p'`,
    `sed -n '1,220p' f`, `head f`), with the line range a `sed -n 'a,bp'` names."""
    found: list[PathRef] = []
    for part in _command_parts(command):
        stages = part.split("|")
        words = _words(stages[0])
        if not words or words[0] not in _READERS or _writes_in_place(words):
            continue
        start, end = _sed_range(words)
        for stage in stages[1:2]:
            piped = _words(stage)
            if piped and piped[0] == "sed":
                start, end = _sed_range(piped)
        operands = [
            w
            for w in words[1:]
            if not w.startswith(("-", ">", "<")) and not _SED_RANGE.match(w) and not w.isdigit()
        ]
        if len(operands) == 1 and not any(w.startswith((">", "<<")) for w in words):
            ref = clean_path(operands[0])
            if ref is not None:
                found.append(PathRef(ref.path, start, end))
    return found


def write_targets(command: str) -> list[PathRef]:
    """Files a shell command writes: `> f` and `>> f` redirections (`cat > f <<'EOF'`),
    `tee f`, and in-place edits (`sed -i ... f`, `perl -pi ... f`). Scratch places
    (`/dev/null`, `/tmp/...`) are not project files."""
    targets: list[str] = []
    for part in _command_parts(command):
        for stage in part.split("|"):
            words = _words(stage)
            if not words:
                continue
            targets.extend(_redirections(words))
            if words[0] == "tee":
                targets.extend(w for w in words[1:] if not w.startswith(("-", ">")))
            elif _writes_in_place(words) and not words[-1].startswith("-"):
                targets.append(words[-1])
    found = []
    for raw in targets:
        ref = clean_path(raw)
        if ref is not None and not ref.path.startswith(_SCRATCH):
            found.append(ref)
    return found


def _command_parts(command: str) -> list[str]:
    """The simple commands of a command line, here-document bodies left out."""
    kept: list[str] = []
    ending: str | None = None
    for line in command.split("\n"):
        if ending is not None:
            ending = None if line.strip() == ending else ending
            continue
        kept.append(line)
        heredoc = _HEREDOC.search(line)
        ending = heredoc.group(2) if heredoc else None
    return [part for part in re.split(r"&&|;|\|\||\n", "\n".join(kept)) if part.strip()]


def _redirections(words: list[str]) -> list[str]:
    found = []
    for index, word in enumerate(words):
        if word in (">", ">>", ">|") and index + 1 < len(words):
            found.append(words[index + 1])
        elif word.startswith((">", ">>")) and len(word.lstrip(">|")) > 0 and word[1:2] != "&":
            found.append(word.lstrip(">|"))
    return found


def _writes_in_place(words: list[str]) -> bool:
    if words[0] == "sed":
        return any(w.startswith("-i") or w == "--in-place" for w in words[1:])
    return words[0] == "perl" and any(w.startswith("-") and "i" in w for w in words[1:])


def _from_uri(text: str) -> tuple[str, int | None, int | None]:
    body = re.sub(r"^file:(?://)?", "", text, flags=re.I)
    body, _, fragment = body.partition("#")
    body = unquote(body.partition("?")[0])
    if _WINDOWS_DRIVE.match(body):
        body = body[1:]
    match = _FRAGMENT_LINES.match(fragment)
    if match is None:
        return body, None, None
    start = int(match.group(1))
    end = int(match.group(2) or start)
    return (body, start, end) if 1 <= start <= end else (body, None, None)


def _is_file(text: str) -> bool:
    if not text or units(text) > PATH_MAX or text.lower() in _NOT_FILES:
        return False
    if text.endswith(("/", "\\")) or text in (".", "..") or text.startswith(("-", "//")):
        return False
    if _URL.match(text) or _BAD_CHARS.search(text) or not _ALNUM.search(text):
        return False
    if ".specstory/" in text.replace("\\", "/"):  # SpecStory's own records, not the project's
        return False
    return "  " not in text and text.count(" ") <= 4


def _first_hunk(lines: list[str]) -> tuple[int | None, list[str]]:
    start: int | None = None
    body: list[str] = []
    for line in lines:
        if line.startswith("@@"):
            if body or start is not None:
                break
            match = _HUNK.match(line)
            start = int(match.group(1)) if match else None
        elif line.startswith(("*** ", "diff --git")):
            if body:
                break
        elif body or start is not None or not line.startswith(_DIFF_HEADERS):
            body.append(line)
    return start, body


def _dedent_one(lines: list[str]) -> list[str]:
    if all(line.startswith(" ") for line in lines if line):
        return [line[1:] for line in lines]
    return lines


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return []


def _sed_range(words: list[str]) -> tuple[int | None, int | None]:
    if not words or words[0] != "sed":
        return None, None
    for word in words[1:]:
        match = _SED_RANGE.match(word)
        if match:
            start = int(match.group(1))
            end = int(match.group(2) or start)
            return (start, end) if 1 <= start <= end else (None, None)
    return None, None
