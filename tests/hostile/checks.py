"""What must hold after any run, however the server behaved: read from the disk, the git
objects and the captured output, never from syncd's own code."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The exit codes README.md documents for `syncd sync --once` (70 is "unexpected error").
DOCUMENTED_EXITS = frozenset(range(7))
OWN_DIRS = (".syncd", ".git", ".trash")


@dataclass
class Run:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float

    def describe(self) -> str:
        """The exit code and the lines that say why, for assertion messages."""
        lines = [line for line in (self.out + self.err).splitlines() if line.strip()]
        tail = lines[-1] if lines else ""
        errors = [line for line in lines if line.startswith(("error:", "  failed:", "ERROR"))]
        shown = "; ".join(errors[:3] + ([tail] if tail not in errors else []))
        frames = re.findall(r'File "[^"]*/(syncd/[^"]+)", line (\d+), in (\w+)', self.err)
        if frames:
            path, line, function = frames[-1]
            shown += f" (raised at {path}:{line} in {function})"
        return f"syncd {' '.join(self.argv)} -> exit {self.code} in {self.seconds:.1f}s: {shown}"


def output_problems(run: Run, secrets: list[str]) -> list[str]:
    text = run.out + run.err
    problems = []
    if run.code not in DOCUMENTED_EXITS:
        problems.append(f"undocumented exit code {run.code}")
    if "Traceback (most recent call last)" in text or "unexpected error" in text:
        problems.append("a traceback was printed")
    problems += [f"the secret {s[:6]}... was printed" for s in secrets if s in text]
    return problems


def snapshot_outside(base: Path, root: Path) -> dict[str, str]:
    """Every path under `base` but outside `root`: a file's hash, a link's target, 'dir'."""
    seen: dict[str, str] = {}
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        if here == root:
            dirs[:] = []
            continue
        for name in dirs + files:
            path = here / name
            if path == root:
                continue
            key = path.relative_to(base).as_posix()
            if path.is_symlink():
                seen[key] = f"link -> {path.readlink()}"
            elif path.is_dir():
                seen[key] = "dir"
            else:
                seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def files_holding(base: Path, secrets: list[str]) -> list[str]:
    """Files under `base` (symlinks not followed) whose bytes contain a secret."""
    needles = [s.encode() for s in secrets] + [s.encode("utf-16-le") for s in secrets]
    found = []
    for folder, _dirs, files in os.walk(base):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(path.relative_to(base).as_posix())
    return found


def git_objects_holding(root: Path, secrets: list[str]) -> bool:
    if not (root / ".git").exists():
        return False
    done = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    return any(s.encode() in done.stdout for s in secrets)


def git_head(root: Path) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True, text=True
    )
    return done.stdout.strip() or None


def links_leaving(root: Path, planted: set[Path], planted_targets: set[str]) -> list[str]:
    """Symlinks under `root` that syncd made and that point outside it (a planted link that
    syncd moved aside, kept as the user's, is still the planted one: same target)."""
    bad = []
    resolved_root = root.resolve()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink() or path in planted:
                continue
            if str(path.readlink()) not in planted_targets:
                target = path.resolve()
                if not target.is_relative_to(resolved_root):
                    bad.append(f"{path.relative_to(root)} -> {target}")
    return bad


def mirrored(root: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Session id -> every (path, body) that holds it, from the files' front matter."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    for path in _files(root):
        relative = path.relative_to(root)
        if path.suffix != ".md":
            continue
        if relative.parts[0] in OWN_DIRS or path.name in ("README.md", "INDEX.md"):
            continue
        if ".local-" in path.name:
            continue
        data = path.read_bytes()
        end = data.find(b"\n---\n", 3)
        assert data.startswith(b"---\n"), f"{relative}: no front matter"
        assert end > 0, f"{relative}: front matter never closed"
        header = yaml.safe_load(data[4 : end + 1])
        found.setdefault(str(header["id"]), []).append((relative.as_posix(), data[end + 5 :]))
    return found


def tree_state(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file but syncd's and git's own."""
    state = {}
    for path in _files(root):
        relative = path.relative_to(root)
        if relative.parts[0] in (".syncd", ".git"):
            continue
        state[relative.as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return state


def _files(root: Path) -> list[Path]:
    """Regular files under `root`, symlinks neither followed nor listed."""
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [Path(folder) / n for n in files if not (Path(folder) / n).is_symlink()]
    return sorted(found)
