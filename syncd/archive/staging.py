"""Staging a commit's paths: in syncd's own index, then the same paths in the user's.

Each index is updated by as few git processes as it takes: one `git add` for the files on
disk (which also says which entries changed and which paths the ignore rules keep out, so
no `diff` or `check-ignore` runs), and one `git rm --cached` only when some are gone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from syncd.archive.command import Git, failure

logger = logging.getLogger(__name__)

#: What `git add` prints (LC_ALL=C) before the paths it refused because they are ignored.
IGNORED_HEADER = "The following paths are ignored by one of your .gitignore files:"
#: `git add -v` and `git rm` name each entry they changed on a line starting with these.
CHANGE_PREFIXES = ("add '", "remove '", "rm '")


@dataclass(frozen=True)
class Staged:
    """What staging did: how many index entries it changed, and the paths left out."""

    changed: int
    ignored: frozenset[str] = frozenset()


def stage(git: Git, present: Sequence[str], gone: Sequence[str], env: dict[str, str]) -> Staged:
    """Stage files on disk (`present`) and the removal of `gone` ones in the index `env`
    names. Raises GitFailed."""
    changed = 0
    if gone:
        done = git.on_paths(["rm", "-r", "--cached", "--ignore-unmatch"], gone, env)
        changed += _changes(done.stdout)
    ignored: frozenset[str] = frozenset()
    if present:
        # A path the ignore rules match (and the index does not hold) makes `git add` exit 1
        # after adding the others; the hint that follows the list is not wanted.
        args = ["-c", "advice.addIgnoredFile=false", "add", "--verbose"]
        done = git.on_paths(args, present, env, check=False)
        ignored = _ignored(done.stderr) if done.returncode == 1 else frozenset()
        if done.returncode != 0 and not ignored:
            raise failure(args, done)
        changed += _changes(done.stdout)
    if ignored:
        logger.warning(
            "git archive: not committing %d path(s) the repository ignores (.gitignore): %s",
            len(ignored),
            ", ".join(sorted(ignored)[:5]),
        )
    return Staged(changed, ignored)


def match_users_index(git: Git, present: Sequence[str], gone: Sequence[str]) -> None:
    """Make the user's index hold what was just committed for these paths, so they do not
    show as staged; nothing else in it changes. Raises GitFailed."""
    if gone:
        git.on_paths(["rm", "-r", "-q", "--cached", "--ignore-unmatch"], gone, None)
    if present:
        # The files as on disk, which is what the commit holds: update-index reads only
        # these paths (no pass over the work tree), and records their stat data.
        spec = "".join(p + "\0" for p in present)
        git("update-index", "--add", "--remove", "--replace", "-z", "--stdin", input=spec)


def _changes(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if line.startswith(CHANGE_PREFIXES))


def _ignored(stderr: str) -> frozenset[str]:
    """The paths `git add` listed as ignored; empty when it failed for another reason."""
    lines = stderr.splitlines()
    if IGNORED_HEADER not in lines:
        return frozenset()
    listed = lines[lines.index(IGNORED_HEADER) + 1 :]
    return frozenset(line for line in listed if line and not line.startswith("hint:"))
