"""Deterministic SpecStory-looking sessions of realistic sizes, fast enough for thousands.

Small sessions are whole conversations; big ones repeat a generated block of exchanges
(see RepeatedBody), so 2,000 sessions with a 200 KB mean take seconds and little memory.
Each session is about one topic (sometimes two), in the vocabulary of `vocabulary`.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from syncd.devserver.body import BytesBody, MarkdownBody, RepeatedBody
from syncd.devserver.timestamps import iso_ms
from syncd.devserver.vocabulary import TOPICS, Topic, prose

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
FILES = (
    "src/app.py", "web/components/Button.tsx", "internal/sync/engine.go", "docs/README.md",
    "/Users/dev/projects/demo/package.json", "tests/test_app.py", "C:\\work\\app\\main.rs",
)  # fmt: skip
CODE = (
    ("python", "def {name}(items: list[str]) -> int:\n    return sum(len(i) for i in items)"),
    ("tsx", 'export function {name}() {{\n  return <button className="dark">Go</button>;\n}}'),
    ("go", "func {name}(ctx context.Context) error {{\n\treturn nil\n}}"),
    ("bash", "git show --stat HEAD\npytest -q tests/test_app.py -k {name}"),
    ("diff", '@@ -1,3 +1,3 @@\n-const theme = "light";\n+const theme = "{name}";'),
)
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
    return _body(rng, session_id, "huge session", BASE_MS, size_bytes, topics=topics, exact=True)


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
    body = _body(rng, session_id, name, started, size, topics=topics, exact=False)
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
) -> MarkdownBody:
    provider = rng.choice(PROVIDERS)
    model = rng.choice(MODELS)
    head = _head(session_id, name, provider, started).encode()
    clock = [started]
    if size <= SMALL_LIMIT and not exact:
        parts = [head]
        length = len(head)
        while length < size:
            part = _exchange(rng, clock, model, topics).encode()
            parts.append(part)
            length += len(part)
        return BytesBody(b"".join(parts))
    if size < len(head):
        return BytesBody((FILLER * (size // len(FILLER) + 1))[:size])
    block_parts: list[bytes] = []
    while sum(map(len, block_parts)) < min(BLOCK_TARGET, size - len(head)) or not block_parts:
        block_parts.append(_exchange(rng, clock, model, topics).encode())
    block = b"".join(block_parts)
    count = (size - len(head)) // len(block)
    rest = size - len(head) - count * len(block)
    tail = (FILLER * (rest // len(FILLER) + 1))[:rest]
    return RepeatedBody(head, block, count, tail)


def _head(session_id: str, name: str, provider: str, started: int) -> str:
    moment = _turn_time(started)
    header = "<!-- Generated by SpecStory, Markdown v2.1.0 -->\n\n"
    comment = f"<!-- {provider} Session {session_id} ({moment}) -->\n\n"
    if provider.endswith("CLI") or provider == "Claude Code":
        return f"{header}# {moment}\n\n{comment}"
    return f"{header}{comment}# {name} ({moment[:-4]}Z)\n\n"


def _exchange(rng: random.Random, clock: list[int], model: str, topics: tuple[Topic, ...]) -> str:
    clock[0] += rng.randrange(5_000, 600_000)
    asked = _turn_time(clock[0])
    answered = _turn_time(clock[0] + rng.randrange(1_000, 90_000))
    path = rng.choice(FILES)
    language, template = rng.choice(CODE)
    code = template.format(name=f"handle_{rng.randrange(1000)}")
    return (
        f"_**User ({asked})**_\n\n{rng.choice(rng.choice(topics).prompts)} "
        f"{prose(rng, rng.randrange(8, 30), topics)}\n\n---\n\n"
        f"_**Agent ({model} {answered})**_\n\n{prose(rng, rng.randrange(20, 90), topics)}\n\n"
        f'<tool-use data-tool-type="read" data-tool-name="Read"><details>\n'
        f"<summary>Tool use: **Read** • Read file: {path}</summary>\n\n</details></tool-use>\n\n"
        f"_**Agent ({model} {answered})**_\n\nHere is the change for `{path}`:\n\n"
        f"```{language}\n{code}\n```\n\n---\n\n"
    )


def _turn_time(millis: int) -> str:
    """`2026-01-16 16:46:41Z`, as SpecStory writes turn times."""
    return iso_ms(millis)[:19].replace("T", " ") + "Z"
