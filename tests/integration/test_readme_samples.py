"""The README's sample output is real output: each block marked `<!-- sample: NAME -->` is
what the commands in SAMPLES print against the devserver, in a temp root.

Only what varies from run to run is replaced: the temp root becomes /home/you/SpecStory,
the devserver's URL the cloud's, clock times and durations fixed ones. Rewrite the blocks
after changing what a command prints:

    SYNCD_UPDATE_README=1 .venv/bin/pytest tests/integration/test_readme_samples.py
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from tests.integration.conftest import point_cli_at

README = Path(__file__).resolve().parents[2] / "README.md"
# Read now: the suite's autouse fixture clears every SYNCD_* variable before a test runs.
UPDATE = os.environ.get("SYNCD_UPDATE_README") == "1"

SHOWN_ROOT = "/home/you/SpecStory"
SHOWN_HOME = "/home/you"
SHOWN_SERVER = "https://cloud.specstory.com"
MARKER = re.compile(r"<!-- sample: (?P<name>[a-z0-9-]+) -->\n```[a-z]*\n")


@dataclass(frozen=True)
class Step:
    """One command of a sample: the line the README shows after `$ `, what is run, and
    which of its streams the README shows."""

    shown: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    stderr: bool = False  # show stderr (before stdout) as well
    code: int = 0
    # In a fresh interpreter: what logging prints before it is configured reaches stderr.
    fresh_process: bool = False
    grep: str | None = None  # show only the lines holding this (as `| grep` does)


@pytest.fixture
def server() -> Iterator[DevServer]:
    """The devserver with SpecStory Cloud's rate limit, as `status` shows it."""
    with DevServer(api_key="test-key", port=0, rate_limit=1000) as running:
        yield running


@dataclass
class World:
    server: DevServer
    root: Path


# Clock times and durations, in the forms `status` and `doctor` print them.
TIMES = [
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"), "2026-12-05 10:17"),
    (re.compile(r"\((just now|\d+ (s|min) ago)\)"), "(4 s ago)"),
    (re.compile(r"took [0-9.]+ (s|ms|min)"), "took 0 s"),
    (re.compile(r"ended \d+ s ago"), "ended 4 s ago"),
    (re.compile(r"resets at \d{2}:\d{2}"), "resets at 11:11"),
]


def seeded(world: World) -> None:
    """Twelve deterministic sessions in four projects, mirrored once."""
    world.server.seed_synthetic(12, 4, seed=7)
    assert run(["sync", "--once"]) == 0


def sync_sample(world: World) -> list[Step]:
    world.server.seed_synthetic(12, 4, seed=7)
    return [
        Step("~/.local/syncd/bin/syncd sync --once", ["sync", "--once"]),
        Step(
            "~/.local/syncd/bin/syncd sync --once   # nothing changed: one list request per "
            "project, all 304",
            ["sync", "--once"],
        ),
    ]


def config_error_sample(world: World) -> list[Step]:
    seeded(world)
    return [
        Step(
            "SYNCD_TIMEOUT_SECONDS=nan syncd sync --once",
            ["sync", "--once"],
            env={"SYNCD_TIMEOUT_SECONDS": "nan"},
            stderr=True,
            code=2,
        ),
        Step(
            "SYNCD_PULLSTORY__PROJECTS='app*' syncd status",
            ["status"],
            env={"SYNCD_PULLSTORY__PROJECTS": "app*"},
            stderr=True,
            code=2,
        ),
        Step(
            "SYNCD_ROOTT=~/Mirror syncd ls --limit 2   # a typo is warned about, then ignored",
            ["ls", "--limit", "2"],
            env={"SYNCD_ROOTT": "~/Mirror"},
            stderr=True,
            fresh_process=True,
        ),
    ]


def dry_run_sample(world: World) -> list[Step]:
    server = world.server
    app = server.add_project("My App", project_id="proj_app")
    docs = server.add_project("Docs", project_id="proj_docs")
    sessions = [
        (app, "550e8400-0000-0000-0000-000000000001", "Fix login", "2025-07-20T10:28:48Z"),
        (docs, "aa11bb22-0000-0000-0000-000000000002", "Notes", "2025-07-21T09:00:00Z"),
        (app, "cc33dd44-0000-0000-0000-000000000003", "Scratch", "2025-07-22T12:00:00Z"),
    ]
    for project, session_id, name, started in sessions:
        server.put_session(
            project,
            session_id=session_id,
            name=name,
            markdown=f"# {name}\n\n_**User**_\n\nfirst draft\n",
            started_at=started,
        )
    assert run(["sync", "--once"]) == 0
    # In the cloud since: a session edited, a project renamed, a session deleted.
    fix_login = sessions[0]
    server.put_session(
        app, session_id=fix_login[1], name="Fix login", markdown="# Fix login\n\nfixed\n"
    )
    server.rename_project(docs, "Handbook")
    server.delete_session(app, sessions[2][1])
    return [Step("syncd sync --once --dry-run", ["sync", "--once", "--dry-run"])]


def status_sample(world: World) -> list[Step]:
    seeded(world)
    assert run(["sync", "--once"]) == 0
    return [
        Step(
            "syncd status            # health, daemon, last run, last success, sessions, "
            "git archive, rate budget, recent errors",
            ["status"],
        ),
        Step(
            "syncd status --check    # one line; exit 0 when healthy, 1 when not "
            "(Docker HEALTHCHECK, monitoring)",
            ["status", "--check"],
        ),
    ]


def doctor_sample(world: World) -> list[Step]:
    seeded(world)
    return [Step("syncd doctor", ["doctor"])]


def ls_sample(world: World) -> list[Step]:
    seeded(world)
    return [
        Step("syncd ls --limit 4", ["ls", "--limit", "4"]),
        Step(
            "syncd ls --project acme-web --since 2025-06-01   # a name, id or folder",
            ["ls", "--project", "acme-web", "--since", "2025-06-01"],
        ),
        Step(
            "syncd ls --project acme --since 'last week'",
            ["ls", "--project", "acme", "--since", "last week"],
            stderr=True,
            code=2,
        ),
        Step(
            "syncd ls --project acme",
            ["ls", "--project", "acme"],
            stderr=True,
            code=2,
        ),
    ]


def cloud_search_sample(world: World) -> list[Step]:
    seeded(world)
    # One the mirror has not fetched yet: the cloud's search finds it all the same.
    world.server.put_session(
        _project_id(world, "acme-web"),
        session_id="7a61c0de-0000-4000-8000-000000000001",
        name="Docker build cache misses on CI",
        markdown="# Docker build cache misses on CI\n\n_**User**_\n\nthe docker cache\n",
    )
    return [
        Step("syncd search --cloud docker", ["search", "--cloud", "docker"]),
        Step(
            "syncd search --cloud docker --project acme-web --limit 1 --json",
            ["search", "--cloud", "docker", "--project", "acme-web", "--limit", "1", "--json"],
        ),
        Step("syncd status | grep budget", ["status"], grep="budget"),
    ]


def _project_id(world: World, name: str) -> str:
    """The id of the mirrored project `name` (the devserver's synthetic ids are random)."""
    with sqlite3.connect(world.root / ".syncd" / "index.db") as db:
        (found,) = db.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
    return str(found)


def sync_first_sample(world: World) -> list[Step]:
    world.server.seed_synthetic(12, 4, seed=7)
    return [
        Step(
            "syncd sync --once --first webhook",
            ["sync", "--once", "--first", "webhook"],
            stderr=True,
        )
    ]


#: Each sample the README shows: how to set it up, and the commands it shows.
SAMPLES: dict[str, Callable[[World], list[Step]]] = {
    "sync": sync_sample,
    "configuration-error": config_error_sample,
    "dry-run": dry_run_sample,
    "status": status_sample,
    "doctor": doctor_sample,
    "ls": ls_sample,
    "cloud-search": cloud_search_sample,
    "sync-first": sync_first_sample,
}
#: Extra normalisations a sample needs (times: `status` and `doctor` only).
VARYING: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "status": TIMES,
    "doctor": TIMES,
    "cloud-search": TIMES,
}


def block(text: str, name: str) -> tuple[int, int]:
    """Where the sample block `name` starts and ends in `text` (between its fences)."""
    found = [m for m in MARKER.finditer(text) if m["name"] == name]
    assert len(found) == 1, f"README.md needs exactly one <!-- sample: {name} --> block"
    start = found[0].end()
    end = text.index("```\n", start)
    return start, end


def readme_sample(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    start, end = block(text, name)
    return text[start:end]


def rewrite_sample(name: str, output: str) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = block(text, name)
    README.write_text(text[:start] + output + text[end:], encoding="utf-8")


def run_step(
    step: Step, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    capsys.readouterr()
    with monkeypatch.context() as patch:
        for name, value in step.env.items():
            patch.setenv(name, value)
        if step.fresh_process:
            done = subprocess.run(
                [sys.executable, "-m", "syncd", *step.argv],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            code = run(step.argv)
            out, err = capsys.readouterr()
    assert code == step.code, out + err
    if step.grep is not None:
        out = "".join(line for line in out.splitlines(keepends=True) if step.grep in line)
    # A terminal shows stderr where it was written: these commands write it before stdout.
    return f"$ {step.shown}\n{err if step.stderr else ''}{out}"


def normalise(
    output: str, world: World, tmp_path: Path, varying: list[tuple[re.Pattern[str], str]]
) -> str:
    output = output.replace(str(world.root), SHOWN_ROOT).replace(str(tmp_path), SHOWN_HOME)
    output = output.replace(world.server.url, SHOWN_SERVER)
    for pattern, shown in varying:
        output = pattern.sub(shown, output)
    return output


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_readme_sample_is_what_the_commands_print(
    name: str,
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = World(
        server, point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "SpecStory")
    )
    steps = SAMPLES[name](world)
    printed = "".join(run_step(step, monkeypatch, capsys) for step in steps)
    output = normalise(printed, world, tmp_path, VARYING.get(name, []))
    if UPDATE:
        rewrite_sample(name, output)
    assert readme_sample(name) == output, (
        "run: SYNCD_UPDATE_README=1 .venv/bin/pytest tests/integration/test_readme_samples.py"
    )


def test_every_marked_block_has_a_sample() -> None:
    marked = {m["name"] for m in MARKER.finditer(README.read_text(encoding="utf-8"))}
    assert marked == set(SAMPLES)


def test_the_readme_names_no_path_of_the_machine_it_was_written_on() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"(?<![\w<>.~-])/(?:tmp|work|root|home/(?!you\b)[\w.-]+)/\S*", text)
    assert found == []
