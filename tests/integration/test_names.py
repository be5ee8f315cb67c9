"""Readable names for projects and sessions in any script, over real HTTP to the devserver,
and mirrors named before names were transliterated moving to the new names in one commit."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.mirror import paths
from tests.integration.conftest import point_cli_at

PROJECTS = {
    "proj_7ed_alpha": "Проект Альфа",
    "proj_d81_beta": "Проект Бета",
    "proj_0c3_nihon": "日本語プロジェクト",
}
READABLE = {
    "proj_7ed_alpha": "proekt-alfa",
    "proj_d81_beta": "proekt-beta",
    "proj_0c3_nihon": "ribenyupurojiekuto",
}
CYRILLIC_SESSION = "7f3c2a10-0000-0000-0000-000000000001"
CYRILLIC_FILE = "2025-01-14_10-22-03Z-nastroyka-sborki-proekta-7f3c2a10.md"
STARTED = "2025-01-14T10:22:03Z"


def seed(server: DevServer, order: tuple[str, ...]) -> None:
    """The three projects, created in `order`, each with one session."""
    for n, project_id in enumerate(order):
        server.add_project(PROJECTS[project_id], project_id=project_id)
        session_id = CYRILLIC_SESSION if project_id == "proj_7ed_alpha" else f"{n}0000000-body"
        server.put_session(
            project_id,
            session_id=session_id,
            name="Настройка сборки проекта" if project_id == "proj_7ed_alpha" else "Plan",
            markdown=f"_**User**_\n\nsession {n}\n",
            started_at=STARTED,
        )


def folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize("order", list(itertools.permutations(PROJECTS)))
def test_projects_in_other_scripts_get_distinct_readable_folders_in_any_order(
    order: tuple[str, ...], server: DevServer, cli_root: Path
) -> None:
    seed(server, order)

    assert run(["sync", "--once"]) == 0

    assert folders(cli_root) == set(READABLE.values())
    assert (cli_root / "proekt-alfa" / CYRILLIC_FILE).is_file()


@pytest.fixture
def git_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: DevServer) -> Path:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    return point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")


def test_a_mirror_named_before_transliteration_moves_to_readable_names_in_one_commit(
    git_root: Path, server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, tuple(PROJECTS))
    with monkeypatch.context() as before:
        # The naming of earlier releases: letters outside ASCII were only separators.
        before.setattr(paths, "_latin", lambda name: name)
        assert run(["sync", "--once"]) == 0
    old = folders(git_root)
    assert "untitled" in old
    assert len(old) == 3
    (old_session,) = git_root.glob(f"untitled*/*-{CYRILLIC_SESSION[:8]}.md")
    assert old_session.name == f"2025-01-14_10-22-03Z-untitled-{CYRILLIC_SESSION[:8]}.md"
    commits = int(git(git_root, "rev-list", "--count", "HEAD"))

    assert run(["sync", "--once"]) == 0

    assert folders(git_root) == set(READABLE.values())
    assert (git_root / "proekt-alfa" / CYRILLIC_FILE).is_file()
    assert int(git(git_root, "rev-list", "--count", "HEAD")) == commits + 1
    assert git(git_root, "status", "--porcelain") == ""
    moved = git(git_root, "show", "--name-status", "-M", "--format=", "HEAD")
    assert f"proekt-alfa/{CYRILLIC_FILE}" in moved
    assert old_session.relative_to(git_root).as_posix() in moved

    assert run(["sync", "--once"]) == 0  # settled: nothing moves again
    assert int(git(git_root, "rev-list", "--count", "HEAD")) == commits + 1
    assert folders(git_root) == set(READABLE.values())
