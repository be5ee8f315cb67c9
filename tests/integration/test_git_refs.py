"""Reading HEAD from the git directory's files agrees with `git rev-parse`, or says nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from syncd.archive.command import Git
from syncd.archive.locks import find_repository
from syncd.archive.refs import read_head


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "gitconfig"
    empty.write_text("[user]\n\tname = Ada\n\temail = ada@example.org\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def head_read_from_files(work_tree: Path) -> str | None:
    repo = find_repository(Git(work_tree), check=True)
    assert repo is not None
    return read_head(repo)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "commit", "-q", "--allow-empty", "-m", "first")
    return path


def test_a_branch_in_its_loose_ref_file(repo: Path) -> None:
    assert head_read_from_files(repo) == git(repo, "rev-parse", "HEAD")


def test_a_branch_in_packed_refs_and_a_newer_loose_one(repo: Path) -> None:
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert head_read_from_files(repo) == git(repo, "rev-parse", "HEAD")

    git(repo, "commit", "-q", "--allow-empty", "-m", "second")  # loose again, newer

    assert head_read_from_files(repo) == git(repo, "rev-parse", "HEAD")


def test_a_detached_head(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert head_read_from_files(repo) == git(repo, "rev-parse", "HEAD")


def test_a_linked_work_tree_reads_its_own_head(repo: Path, tmp_path: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    git(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "other"), "HEAD~1")
    other = tmp_path / "other"
    assert head_read_from_files(other) == git(other, "rev-parse", "HEAD")
    assert head_read_from_files(other) != head_read_from_files(repo)


def test_no_answer_where_the_files_do_not_say_for_sure(tmp_path: Path, repo: Path) -> None:
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, "init", "-q", "-b", "main")
    assert head_read_from_files(unborn) is None
    # HEAD naming a symbolic ref: git follows it, the reader leaves it to git.
    git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/alias")
    assert head_read_from_files(repo) is None
