"""Deterministic SpecStory-looking sessions of realistic sizes, fast enough for thousands.

Small sessions are whole conversations; big ones repeat a generated block of exchanges
(see RepeatedBody), so 2,000 sessions with a 200 KB mean take seconds and little memory.
Each session is about one topic (sometimes two), in the vocabulary of `vocabulary`.

Every exchange reads a file and, unless the topic is a question, changes one, rendered the
way the session's producer renders edits (corpus FORMAT.md, section 7): Claude Code's Edit
result, Codex's `**Update:**` patch, Cursor's `Edit file:` chunk, Gemini CLI's plain tool
line, Copilot's `Input:` list, file heading or announced empty block. So a brief can be
made from every session but the questions and the bodies too small for one exchange.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from syncd.devserver.body import BytesBody, MarkdownBody, RepeatedBody
from syncd.devserver.timestamps import iso_ms
from syncd.devserver.vocabulary import SOURCE_FILES, TOPICS, SourceFile, Topic, prose

BASE_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
SMALL_LIMIT = 64 * 1024  # above this, a body repeats a block instead of being written out
BLOCK_TARGET = 16 * 1024

# (cumulative probability, bytes), interpolated in log space: shaped like the corpus,
# median ~3 KB, mean ~200 KB, max 2.5 MB.
SIZE_QUANTILES: tuple[tuple[float, int], ...] = (
    (0.00, 150),
    (0.10, 450),
    (0.25, 1_000),
    (0.50, 3_000),
    (0.62, 11_000),
    (0.72, 45_000),
    (0.80, 150_000),
    (0.87, 450_000),
    (0.93, 1_000_000),
    (0.97, 1_900_000),
    (1.00, 2_500_000),
)

PROVIDERS = ("Claude Code", "Codex CLI", "Cursor IDE", "Gemini CLI", "cursor", "vscode")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex", "gemini-2.5-pro", "<synthetic>")
PROJECT_NAMES = (
    "acme-web", "syncd", "café-backend", "dotfiles", "ml/experiments", "Yuichat",
    "тестовый-проект", "home lab", "..", "pos-system",
)  # fmt: skip
HOSTILE_NAMES = (
    "", "../../etc/passwd", "a/b\\c:d*e?f", "CON", "trailing dot.", "  spaced  ", "x" * 300,
    "emoji 🚀🔥 session", "line\nbreak\ttab", "..", "untitled",
)  # fmt: skip
SECOND_TOPIC = 0.25  # share of sessions that drift into a second topic
HOME = "/Users/dev/projects/demo/"
FILLER = b"Context compacted: the conversation continues with routine edits and test runs.\n"


@dataclass(frozen=True)
class SyntheticProject:
    project_id: str
    name: str


@dataclass(frozen=True)
class SyntheticSession:
    project_id: str
    session_id: str
    name: str
    body: MarkdownBody
    created_ms: int
    started_ms: int
    ended_ms: int
    updated_ms: int
    metadata: dict[str, object]
    changes_code: bool = False  # an exchange changes a file: the session can make a brief


def draw_size(rng: random.Random, sizes: Sequence[int] | None) -> int:
    """A target size: from `sizes` with +-10% jitter, else from SIZE_QUANTILES."""
    if sizes:
        return max(1, round(rng.choice(sizes) * rng.uniform(0.9, 1.1)))
    u = rng.random()
    for (p0, s0), (p1, s1) in pairwise(SIZE_QUANTILES):
        if u <= p1:
            fraction = (u - p0) / (p1 - p0)
            return round(math.exp(math.log(s0) + fraction * (math.log(s1) - math.log(s0))))
    return SIZE_QUANTILES[-1][1]


def generate(
    sessions: int, projects: int, seed: int = 0, sizes: Sequence[int] | None = None
) -> tuple[list[SyntheticProject], list[SyntheticSession]]:
    """The same projects and sessions (ids, names, bodies, times) for the same arguments."""
    if projects < 1 or sessions < 0:
        raise ValueError(f"need projects >= 1 and sessions >= 0, got {projects}, {sessions}")
    rng = random.Random(seed)
    made = [_project(rng, index) for index in range(projects)]
    weights = [1 / (index + 1) for index in range(projects)]
    out: list[SyntheticSession] = []
    for _ in range(sessions):
        project = rng.choices(made, weights)[0]
        out.append(_session(rng, project.project_id, draw_size(rng, sizes)))
    return made, out


def large_body(size_bytes: int, seed: int = 0) -> MarkdownBody:
    """Exactly `size_bytes` of SpecStory-looking Markdown, built from a repeated block."""
    rng = random.Random(seed)
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    topics = (rng.choice(TOPICS),)
    body, _ = _body(rng, session_id, "huge session", BASE_MS, size_bytes, topics=topics, exact=True)
    return body


def _project(rng: random.Random, index: int) -> SyntheticProject:
    base = PROJECT_NAMES[index % len(PROJECT_NAMES)]
    name = base if index < len(PROJECT_NAMES) else f"{base}-{index // len(PROJECT_NAMES)}"
    return SyntheticProject(f"proj_{rng.getrandbits(48):012x}", name)


def _session(rng: random.Random, project_id: str, size: int) -> SyntheticSession:
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    hostile = rng.random() < 0.06
    topics: tuple[Topic, ...] = (rng.choice(TOPICS),)
    if rng.random() < SECOND_TOPIC:
        topics += (rng.choice(TOPICS),)
    name = rng.choice(HOSTILE_NAMES) if hostile else topics[0].name
    started = BASE_MS + rng.randrange(540 * 86_400_000)
    ended = started + rng.randrange(60_000, 3 * 3_600_000)
    body, exchanges = _body(rng, session_id, name, started, size, topics=topics, exact=False)
    return SyntheticSession(
        project_id=project_id,
        session_id=session_id,
        name=name,
        body=body,
        created_ms=started,
        started_ms=started,
        ended_ms=ended,
        updated_ms=ended + rng.randrange(60_000),
        metadata=_metadata(rng),
        changes_code=exchanges > 0 and topics[0].changes,
    )


def _metadata(rng: random.Random) -> dict[str, object]:
    metadata: dict[str, object] = {
        "clientName": rng.choice(("specstory-cli", "specstory-cursor", "specstory-vscode")),
        "clientVersion": f"1.{rng.randrange(12)}.{rng.randrange(5)}",
        "agentName": rng.choice(PROVIDERS),
        "deviceId": f"device-{rng.getrandbits(32):08x}",
        "gitBranches": ["main"] if rng.random() < 0.7 else ["main", "feature/dark-mode"],
        "llmModels": [rng.choice(MODELS)],
        "tags": [],
    }
    if rng.random() < 0.1:  # the API may leave any metadata field null or absent
        metadata["deviceId"] = None
        del metadata["tags"]
    return metadata


def _body(
    rng: random.Random,
    session_id: str,
    name: str,
    started: int,
    size: int,
    *,
    topics: tuple[Topic, ...],
    exact: bool,
) -> tuple[MarkdownBody, int]:
    """The body and how many exchanges it holds (none when `size` leaves no room)."""
    provider = rng.choice(PROVIDERS)
    model = rng.choice([m for m in MODELS if m != "<synthetic>"])  # a placeholder, not a model
    head = _head(session_id, name, provider, started).encode()
    clock = [started]
    if size <= SMALL_LIMIT and not exact:
        parts = [head]
        length = len(head)
        while length < size:
            part = _exchange(rng, clock, model, topics, provider).encode()
            parts.append(part)
            length += len(part)
        return BytesBody(b"".join(parts)), len(parts) - 1
    if size < len(head):
        return BytesBody((FILLER * (size // len(FILLER) + 1))[:size]), 0
    block_parts: list[bytes] = []
    while sum(map(len, block_parts)) < min(BLOCK_TARGET, size - len(head)) or not block_parts:
        block_parts.append(_exchange(rng, clock, model, topics, provider).encode())
    block = b"".join(block_parts)
    count = (size - len(head)) // len(block)
    rest = size - len(head) - count * len(block)
    tail = (FILLER * (rest // len(FILLER) + 1))[:rest]
    return RepeatedBody(head, block, count, tail), count * len(block_parts)


def _head(session_id: str, name: str, provider: str, started: int) -> str:
    moment = _turn_time(started)
    header = "<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n"
    comment = f"<!-- {provider} Session {session_id} ({moment}) -->\n\n"
    if provider.endswith("CLI") or provider == "Claude Code":
        return f"{header}# {moment}\n\n{comment}"
    return f"{header}{comment}# {name} ({moment[:-4]}Z)\n\n"


def _exchange(
    rng: random.Random, clock: list[int], model: str, topics: tuple[Topic, ...], provider: str
) -> str:
    clock[0] += rng.randrange(5_000, 600_000)
    asked = _turn_time(clock[0])
    answered = _turn_time(clock[0] + rng.randrange(1_000, 90_000))
    agent = f"_**Agent ({model} {answered})**_\n\n"
    source = rng.choice(SOURCE_FILES)
    read = (
        f'<tool-use data-tool-type="read" data-tool-name="Read"><details>\n'
        f"<summary>Tool use: **Read** • Read file: {source.path}</summary>\n\n</details>"
        "</tool-use>\n\n"
    )
    opening = (
        f"_**User ({asked})**_\n\n{rng.choice(rng.choice(topics).prompts)} "
        f"{prose(rng, rng.randrange(8, 30), topics)}\n\n---\n\n"
        f"{agent}{prose(rng, rng.randrange(20, 90), topics)}\n\n{read}"
    )
    if not topics[0].changes:
        command = rng.choice(("git show --stat HEAD", "kubectl describe pod web-0", "git log -3"))
        answer = prose(rng, rng.randrange(20, 60), topics)
        return f"{opening}{agent}{answer}\n\n```bash\n{command}\n```\n\n---\n\n"
    name = f"handle_{rng.randrange(1000)}"
    after = source.after.format(name=name, length=len(name))
    edit = _render_edit(rng, provider, source, after)
    closing = f"Updated `{source.path}`. {prose(rng, rng.randrange(10, 40), topics)}"
    return f"{opening}{agent}{edit}\n\n{agent}{closing}\n\n---\n\n"


def _render_edit(rng: random.Random, provider: str, source: SourceFile, after: str) -> str:
    """One change to `source`, as `provider` writes edits into its Markdown."""
    start = source.line - 1
    hunk = f"@@ -{start},2 +{start},2 @@\n {source.context}\n-{source.before}\n+{after}"
    chunk = f"**Chunk 1**\nLines added: 1, lines removed: 1\n\n```diff\n{hunk}\n```"
    if provider == "Claude Code":
        numbered = f"{start:6}\u2192{source.context}\n{source.line:6}\u2192{after}"
        return (
            '<tool-use data-tool-type="write" data-tool-name="Edit"><details>\n'
            "<summary>Tool use: **Edit**</summary>\n\n```text\n"
            f"The file {_absolute(source.path)} has been updated. Here's the result of running "
            f"`cat -n` on a snippet of the edited file:\n{numbered}\n```\n</details></tool-use>"
        )
    if provider == "Codex CLI":
        return (
            '<tool-use data-tool-type="write" data-tool-name="apply_patch"><details>\n'
            f"<summary>Tool use: **apply_patch**</summary>\n**Update: `{source.path}`**\n\n"
            f"```diff\n{hunk}\n```\n</details></tool-use>"
        )
    if provider == "Cursor IDE":
        return (
            '<tool-use data-tool-type="write" data-tool-name="search_replace">\n\n'
            f"<details><summary>Tool use: **search_replace** • Edit file: {source.path}"
            f"</summary>\n\n{chunk}\n\n</details>\n\n</tool-use>"
        )
    if provider == "Gemini CLI":
        return (
            f"Tool use: **replace** `{source.path}`\n\n**Update: `{source.path}`**\n\n"
            f"```diff\n{hunk}\n```"
        )
    if provider == "cursor":
        return (
            f"Tool use: **edit_file**\n\n\n<details><summary>Edit file: {source.path}</summary>"
            f"\n\n{chunk}\n\n</details>"
        )
    return _copilot_edit(rng, source, after)


def _copilot_edit(rng: random.Random, source: SourceFile, after: str) -> str:
    """The three ways Copilot sessions show an edit: an `Input:` list (v2.1.0), a file
    heading with a four-backtick block (old layout), or an announcement before an empty
    block (old layout, code not kept)."""
    style = rng.randrange(3)
    if style == 0:
        return (
            '<tool-use data-tool-type="write" data-tool-name="replace_string_in_file"><details>\n'
            "<summary>Tool use: **replace_string_in_file**</summary>\n\n**Input:**\n\n"
            f"- filePath: `{_absolute(source.path)}`\n- newString:\n\n"
            f"```{source.language}\n{after}\n```\n\n</details></tool-use>"
        )
    if style == 1:
        uri = "file:///" + _absolute(source.path).replace("\\", "/").lstrip("/")
        name = re.split(r"[/\\]", source.path)[-1]
        comment = "#" if source.language == "python" else "//"
        return (
            f"### [{name}]({uri})\n\nChange the line below.\n\n````{source.language}\n"
            f"{comment} ...existing code...\n{after}\n{comment} ...existing code...\n````"
        )
    return f"Now I'll update `{source.path}`:\n\n```{source.language}\n```"


def _absolute(path: str) -> str:
    return path if path.startswith("/") or path[1:3] == ":\\" else HOME + path


def _turn_time(millis: int) -> str:
    """`2026-01-16 16:46:41Z`, as SpecStory writes turn times."""
    return iso_ms(millis)[:19].replace("T", " ") + "Z"
