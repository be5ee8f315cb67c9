"""A git archive commit of a 50-file change, beside plain `git add` + `git commit` of it.

Run: .venv/bin/python bench/git_bench.py [--sizes 2050 10050 --rounds 25 --moved-rounds 5]

For each size an archive of Markdown session files is built from paragraphs of the corpus
(../shared/corpus/specstory next to the checkout), with file sizes drawn from the corpus's
own (capped at 64 KB), in 50 project folders with an INDEX.md each. syncd commits it all
once, `git gc` packs it, and the repository is copied. Then each round rewrites the same
50 random session files in both copies (a paragraph appended, written to a temporary file
and renamed into place, as the mirror writes), and times, side by side, syncd's commit
through the API the daemon uses (`GitArchive.ensure_repository` then `commit`) in one copy
and `git add <the 50 paths>` + `git commit` in the other; which runs first alternates.
Prints the medians of wall-clock time and of CPU time (this process and the git processes
it waited for: steadier on a machine busy with other work), their ratios, and the git
processes each side starts per commit; then the same for --moved-rounds rounds that each
follow a commit of the user's (in both copies), so syncd finds HEAD moved and reads its
tree again; and whether both copies ended on the same tree.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from syncd.archive.git import ChangeSummary, GitArchive  # the checkout's, found via the path

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "specstory"
PROJECTS = 50
SIZE_CAP = 64 * 1024
IDENTITY = {"user.name": "Bench", "user.email": "bench@example.invalid"}


@dataclass
class Counting:
    """Starts processes as subprocess.Popen does, counting them."""

    started: int = 0

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        self.started += 1
        return subprocess.Popen(args, **kwargs)


def corpus_text() -> tuple[list[str], list[int]]:
    """The corpus's paragraphs and its files' sizes."""
    files = sorted(CORPUS.glob("*.md")) if CORPUS.is_dir() else []
    if not files:
        raise SystemExit(
            f"corpus not found at {CORPUS.resolve()}: this bench builds its archive from the "
            "SpecStory corpus's paragraphs (../shared/corpus/specstory next to the checkout)"
        )
    paragraphs: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        paragraphs += [p.strip() for p in text.split("\n\n") if 40 <= len(p.strip()) <= 4000]
    return paragraphs, [path.stat().st_size for path in files]


def session_text(rng: random.Random, paragraphs: list[str], size: int, title: str) -> str:
    parts = [f"---\ntitle: {title}\nid: {rng.getrandbits(64):016x}\n---\n\n# {title}"]
    length = 0
    while length < size:
        paragraph = rng.choice(paragraphs)
        parts.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(parts) + "\n"


def write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".bench-tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def build_archive(root: Path, files: int, rng: random.Random) -> list[str]:
    """Session files plus one INDEX.md per project; returns the sessions' paths."""
    paragraphs, sizes = corpus_text()
    sessions = []
    for n in range(files - PROJECTS):
        rel = f"project-{n % PROJECTS:02d}/2025-{1 + n % 12:02d}-session-{n:05d}.md"
        size = min(max(rng.choice(sizes), 1024), SIZE_CAP)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(session_text(rng, paragraphs, size, f"session {n}"), encoding="utf-8")
        sessions.append(rel)
    for p in range(PROJECTS):
        listing = "\n".join(f"- {s}" for s in sessions if s.startswith(f"project-{p:02d}/"))
        (root / f"project-{p:02d}" / "INDEX.md").write_text(f"# project {p}\n\n{listing}\n")
    return sessions


def first_commit(root: Path) -> None:
    archive = GitArchive(root)
    archive.ensure_repository()
    for key, value in IDENTITY.items():
        git(root, "config", key, value)
    everything = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.md"))
    git(root, "config", "gc.auto", "0")  # no gc left running in the background ...
    started = time.perf_counter()
    result = archive.commit(everything, [], [], ChangeSummary(new={"bench": everything}))
    if not result.committed:
        raise SystemExit(f"syncd's first commit failed: {result.error}")
    print(f"  first commit of {result.files} files: {time.perf_counter() - started:.1f} s")
    git(root, "gc", "--quiet")  # ... but what it would have done, done before timing
    git(root, "config", "--unset", "gc.auto")


@dataclass(frozen=True)
class Cost:
    """Wall-clock seconds, and CPU seconds of this process and the git processes it waited
    for (which a busy machine's other work does not inflate)."""

    wall: float
    cpu: float


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(run: Callable[[], None]) -> Cost:
    wall, cpu = time.perf_counter(), cpu_seconds()
    run()
    return Cost(time.perf_counter() - wall, cpu_seconds() - cpu)


def syncd_commit(root: Path, paths: list[str], counter: Counting) -> None:
    archive = GitArchive(root, popen=counter)
    archive.ensure_repository()
    result = archive.commit(paths, [], [], ChangeSummary(updated={"bench": paths}))
    if not result.committed or result.files != len(paths):
        raise SystemExit(f"syncd's commit did not commit the {len(paths)} files: {result}")


def plain_commit(root: Path, paths: list[str]) -> None:
    subprocess.run(["git", "add", "--", *paths], cwd=root, check=True)
    subprocess.run(["git", "commit", "--quiet", "-m", "plain"], cwd=root, check=True)


@dataclass(frozen=True)
class Round:
    syncd: Cost
    plain: Cost
    processes: int  # the git processes syncd started


@dataclass
class Copies:
    """The two identical repositories, the sessions in them, and what is timed in each."""

    ours: Path
    plain: Path
    sessions: list[str]
    paragraphs: list[str]
    counter: Counting

    def change(self, rng: random.Random, count: int, mark: str) -> list[str]:
        """Rewrite `count` random sessions the same way in both copies."""
        changed = sorted(rng.sample(self.sessions, count))
        for rel in changed:
            text = (self.ours / rel).read_text(encoding="utf-8")
            text += f"\n{rng.choice(self.paragraphs)}\n\n_{mark}_\n"
            write_atomically(self.ours / rel, text)
            write_atomically(self.plain / rel, text)
        return changed

    def commit_both(self, changed: list[str], syncd_first: bool) -> Round:
        """syncd's commit and the plain one of the same change, one right after the other."""
        before = self.counter.started
        ours = partial(syncd_commit, self.ours, changed, self.counter)
        plain = partial(plain_commit, self.plain, changed)
        if syncd_first:
            mine, theirs = measured(ours), measured(plain)
        else:
            theirs, mine = measured(plain), measured(ours)
        return Round(mine, theirs, self.counter.started - before)


def bench_size(scratch: Path, files: int, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + files)
    ours, plain = scratch / f"syncd-{files}", scratch / f"plain-{files}"
    started = time.perf_counter()
    sessions = build_archive(ours, files, rng)
    megabytes = sum(p.stat().st_size for p in ours.glob("*/*.md")) / 1e6
    print(f"{files} files, {megabytes:.0f} MB, built in {time.perf_counter() - started:.0f} s")
    first_commit(ours)
    shutil.copytree(ours, plain, symlinks=True)
    # The copy's files have new inodes: refresh its index's stat data once, untimed.
    git(plain, "update-index", "-q", "--refresh")
    copies = Copies(ours, plain, sessions, corpus_text()[0], Counting())
    rounds: list[Round] = []
    for n in range(args.rounds):
        changed = copies.change(rng, args.changed, f"round {n}")
        rounds.append(copies.commit_both(changed, syncd_first=n % 2 == 0))
    report(f"git commit of a {args.changed}-file change in a {files:,}-file archive", rounds)
    # The user commits in between (in both copies): HEAD moved, so syncd reads its tree again.
    moved: list[Round] = []
    for n in range(args.moved_rounds):
        for copy in (ours, plain):
            write_atomically(copy / "notes.txt", f"the user's notes, version {n}\n")
            git(copy, "add", "notes.txt")
            git(copy, "commit", "--quiet", "-m", f"user commit {n}")
        changed = copies.change(rng, args.changed, f"after user commit {n}")
        moved.append(copies.commit_both(changed, syncd_first=n % 2 == 0))
    report("the same right after a commit of the user's (HEAD moved)", moved)
    same = git(ours, "rev-parse", "HEAD^{tree}") == git(plain, "rev-parse", "HEAD^{tree}")
    print(f"  same tree in both copies at the end: {'yes' if same else 'NO'}")


def report(what: str, rounds: list[Round]) -> None:
    print(f"  {what}, median of {len(rounds)} rounds:")
    for name, cost in (("wall clock", "wall"), ("CPU, git included", "cpu")):
        mine = statistics.median(getattr(r.syncd, cost) for r in rounds)
        theirs = statistics.median(getattr(r.plain, cost) for r in rounds)
        per_round = [getattr(r.syncd, cost) / max(getattr(r.plain, cost), 1e-9) for r in rounds]
        print(
            f"    {name:17}  syncd {mine * 1000:4.0f} ms, plain git add + git commit "
            f"{theirs * 1000:4.0f} ms: {mine / theirs:.2f}x (per round: median "
            f"{statistics.median(per_round):.2f}x, {min(per_round):.2f}x to {max(per_round):.2f}x)"
        )
    print(f"    git processes per commit: syncd {rounds[-1].processes}, plain 2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2050, 10050])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--changed", type=int, default=50)
    parser.add_argument("--moved-rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    corpus_text()  # fail early, with the reason, when the corpus is missing
    # Neither the machine's git configuration nor its hooks reach either copy.
    os.environ.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    with tempfile.TemporaryDirectory(prefix="syncd-git-bench-") as scratch:
        for files in args.sizes:
            bench_size(Path(scratch), files, args)
            for copy in Path(scratch).iterdir():
                shutil.rmtree(copy)


if __name__ == "__main__":
    main()
