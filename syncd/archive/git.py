"""Commit the files a sync cycle changed to a git repository, never the user's own changes.

Staging happens in syncd's own index file (GIT_INDEX_FILE: `syncd-index*` in the git
directory, one per mirror root), so the user's index, staged changes and untracked files
are untouched; after a commit the user's index is updated for syncd's paths only, so they
do not show as staged. The own index persists between commits and is used as it is while
it is known to hold HEAD's tree (see `ownindex`): a commit then runs git about as often as
a plain `git add` and `git commit` of the same paths, and re-reads only the files it stages.

A git killed mid-commit leaves lock files that would fail every later commit. Those an
interrupted syncd commit left are proven by an ownership marker and removed at the next
attempt; any other lock stops the commit with an error naming it (see `locks`).
"""

from __future__ import annotations

import logging
import os
import posixpath
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syncd.archive.command import Git, GitFailed, Spawn, one_line
from syncd.archive.locks import GitLock as GitLock  # re-exported: find_git_locks gives it
from syncd.archive.locks import (
    Repository,
    find_repository,
    locate,
    owning,
    read_owner,
    recover_locks,
)
from syncd.archive.ownindex import OwnIndex
from syncd.archive.refs import read_head
from syncd.archive.staging import match_users_index, stage
from syncd.errors import StorageError, redact_url
from syncd.mirror.names import OWN_DIRS, STATE_DIR, TEMP_SUFFIX, TRASH_DIR, in_own_dir, is_temp

logger = logging.getLogger(__name__)

#: Folders syncd keeps for itself and file suffixes of half-written files: never committed.
SMALL_CHANGE = 10


@dataclass(frozen=True)
class ChangeSummary:
    """What a cycle changed, as project name -> session names, for the commit message."""

    new: Mapping[str, list[str]] = field(default_factory=dict)
    updated: Mapping[str, list[str]] = field(default_factory=dict)
    deleted: Mapping[str, list[str]] = field(default_factory=dict)
    moved: int = 0
    # Files an earlier cycle changed but never committed (it was killed or failed).
    carried: int = 0
    # Sessions whose file received its PullStory story URL.
    story_urls: Mapping[str, list[str]] = field(default_factory=dict)

    def _kinds(self) -> list[tuple[str, Mapping[str, list[str]]]]:
        return [("new", self.new), ("updated", self.updated), ("deleted", self.deleted)]

    def _lines(self) -> list[tuple[str, Mapping[str, list[str]]]]:
        return [*self._kinds(), ("story URL", self.story_urls)]

    def message(self) -> str:
        """Subject line, blank line, then one line per session (small) or per project.

        A commit of story URLs alone says so ("pullstory: story URL for 2 sessions"); a
        sync that also holds some adds it to its subject."""
        counts = {kind: sum(len(v) for v in by.values()) for kind, by in self._kinds()}
        parts = [f"{n} {kind}" for kind, n in counts.items() if n]
        if self.moved:
            parts.append(f"{self.moved} moved")
        projects = sorted({p for _, by in self._kinds() for p, names in by.items() if names})
        urls = sum(len(v) for v in self.story_urls.values())
        stories = f"story URL for {urls} {'session' if urls == 1 else 'sessions'}"
        carried = (
            f"{self.carried} file(s) changed by an earlier cycle that did not finish"
            if self.carried
            else ""
        )
        subject = "sync: " + (", ".join(parts) if parts else "no session changes")
        if projects:
            noun = "project" if len(projects) == 1 else "projects"
            subject += f" in {len(projects)} {noun}"
        if parts and urls:
            subject += f"; {stories}"
        elif urls:
            subject = f"pullstory: {stories}"
        elif carried and not parts:
            subject = f"sync: {carried}"
        body = self._body(sum(counts.values()) + urls)
        if carried and body:
            body.append(f"Also {carried}.")
        return subject + ("\n\n" + "\n".join(body) if body else "") + "\n"

    def _body(self, changes: int) -> list[str]:
        if changes <= SMALL_CHANGE:
            return [
                f"{kind}: {one_line(project)} / {one_line(name)}"
                for kind, by in self._lines()
                for project in sorted(by)
                for name in sorted(by[project])
            ]
        projects = sorted({p for _, by in self._lines() for p, names in by.items() if names})
        return [f"{one_line(p)}: {self._project_counts(p)}" for p in projects]

    def _project_counts(self, project: str) -> str:
        counts = [(len(by[project]), kind) for kind, by in self._lines() if by.get(project)]
        # "3 new", "2 updated", and "1 story URL", "2 story URLs"
        return ", ".join(
            f"{n} {kind}{'s' if n > 1 and kind == 'story URL' else ''}" for n, kind in counts
        )


@dataclass(frozen=True)
class CommitResult:
    """Outcome of one commit attempt; failures are reported here, never raised."""

    committed: bool
    sha: str | None = None
    files: int = 0
    error: str | None = None
    push_error: str | None = None
    #: The lock file, not provably syncd's own, that stopped this commit.
    blocked_by: str | None = None


class GitArchive:
    """Commits syncd's own paths under `root` to the git repository containing it."""

    def __init__(
        self,
        root: Path,
        *,
        author_name: str = "syncd",
        author_email: str = "syncd@localhost",
        remote: str | None = None,
        branch: str | None = None,
        popen: Spawn = subprocess.Popen,
        timeout: float = 60.0,
    ) -> None:
        self.root = Path(root)
        self.author_name = author_name
        self.author_email = author_email
        self.remote = remote
        self.branch = branch
        self.timeout = timeout
        self._git = Git(self.root, popen=popen, timeout=timeout)
        self._located: tuple[Repository, str | None] | None = None

    def ensure_repository(self) -> None:
        """Run `git init` in root unless root is already inside a work tree (used as is)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Kept for the commit that follows: one `git rev-parse` fewer. A HEAD that
            # moves in between is caught before committing, like one moved while staging.
            self._located = locate(self._git)
            if self._located is not None:
                return
            self._git("init", "--quiet")
            self._exclude_own_files()
        except (OSError, GitFailed) as exc:
            raise StorageError(f"the git repository at {self.root}", str(exc)) from exc
        logger.info("created a git repository in %s", self.root)

    def commit(
        self,
        written: list[str],
        removed: list[str],
        moved: list[tuple[str, str]],
        summary: ChangeSummary,
    ) -> CommitResult:
        """Commit exactly these root-relative paths; on failure return an error to retry later.

        A path is staged by its state on disk: present files are added, missing ones
        removed from the commit, so passing the union of failed cycles again is safe.
        Lock files an interrupted syncd commit left are removed first; a lock syncd cannot
        prove is its own is never removed: the result names it in `blocked_by`.
        """
        candidates = [*written, *removed, *(p for pair in moved for p in pair)]
        paths = self._expand(p for p in candidates if self._allowed(p))
        if not paths:
            return CommitResult(committed=False)
        try:
            repo, head = self._locate()
            recover_locks(repo)
            with owning(repo, self._git):
                result = self._commit_paths(repo, head, paths, summary.message())
                if result.committed and self.remote:
                    result = self._push(self.remote, result)
        except GitFailed as exc:
            logger.warning("git archive commit failed, retrying next cycle: %s", exc)
            blocked_by = None if exc.blocked_by is None else str(exc.blocked_by)
            return CommitResult(committed=False, error=str(exc), blocked_by=blocked_by)
        return result

    # -- staging and committing -------------------------------------------------------

    def _locate(self) -> tuple[Repository, str | None]:
        """The repository and its HEAD: what `ensure_repository` just found, else asked now."""
        located, self._located = self._located, None
        located = located or locate(self._git)
        if located is None:
            raise GitFailed(f"{self.root} is not in a git work tree")
        return located

    def _repository(self) -> Repository:
        repo = find_repository(self._git, check=True)
        if repo is None:
            raise GitFailed(f"{self.root} is not in a git work tree")
        return repo

    def _commit_paths(
        self, repo: Repository, head: str | None, paths: list[str], message: str
    ) -> CommitResult:
        index = OwnIndex(self._git, repo)
        index.prepare(head)
        on_disk = {p for p in paths if (self.root / p).is_file() or (self.root / p).is_symlink()}
        present = [p for p in paths if p in on_disk]
        gone = [p for p in paths if p not in on_disk]
        staged = stage(self._git, present, gone, index.env)
        committed = [p for p in present if p not in staged.ignored]
        if not staged.changed:
            # Already committed (a syncd killed after its commit): the user's index may
            # still hold the older versions, and would show them as staged.
            if head is not None:
                index.remember(head)
            self._match_users_index(committed, gone)
            return CommitResult(committed=False)
        if self._head(repo) != head:
            # Our index holds the old HEAD's tree; committing it would revert their commit.
            raise GitFailed("HEAD moved while staging (someone committed); retrying later")
        self._git(*self._identity(), "commit", "--quiet", "-F", "-", env=index.env, input=message)
        sha = self._head(repo) or ""
        index.remember(sha)
        self._match_users_index(committed, gone)
        logger.info("committed %d files to git as %s", staged.changed, sha[:12])
        return CommitResult(committed=True, sha=sha, files=staged.changed)

    def _head(self, repo: Repository) -> str | None:
        """HEAD's commit: read from the git directory's files, or asked of git when they
        do not say for sure (or there is no commit yet)."""
        return read_head(repo) or self._ask_head()

    def _ask_head(self) -> str | None:
        done = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def _match_users_index(self, present: list[str], gone: list[str]) -> None:
        # The commit used syncd's own index; make the user's agree with it for these paths.
        try:
            match_users_index(self._git, present, gone)
        except GitFailed as exc:
            logger.warning("committed, but could not refresh the git index: %s", exc)

    def _identity(self) -> list[str]:
        """syncd's default name and email for what the repository's configuration lacks."""
        keys = self._git("config", "--get-regexp", r"^user\.(name|email)$", check=False)
        configured = {line.split(" ", 1)[0] for line in keys.stdout.splitlines()}
        options = []
        for key, default in (("user.name", self.author_name), ("user.email", self.author_email)):
            if key not in configured:
                options += ["-c", f"{key}={default}"]
        return options

    def push(self) -> str | None:
        """Push HEAD to the remote again (a push failed earlier and nothing new was
        committed since); the error, or None when the push landed or there is no remote."""
        if not self.remote:
            return None
        try:
            repo = self._repository()
            recover_locks(repo)
            with owning(repo, self._git):
                self._send_push(self.remote)
        except GitFailed as exc:
            logger.warning("git push failed again: %s", exc)
            return str(exc)
        logger.info("git: pushed to %s", redact_url(self.remote))
        return None

    def _send_push(self, remote: str) -> None:
        refspec = "HEAD"
        if self.branch:
            target = self.branch
            refspec = f"HEAD:{target if target.startswith('refs/') else 'refs/heads/' + target}"
        self._git("push", "--quiet", "--", remote, refspec, timeout=self.timeout * 2)

    def _push(self, remote: str, result: CommitResult) -> CommitResult:
        try:
            self._send_push(remote)
        except GitFailed as exc:
            logger.warning("git push failed; the next commit pushes again: %s", exc)
            return CommitResult(
                committed=True, sha=result.sha, files=result.files, push_error=str(exc)
            )
        return result

    # -- path safety --------------------------------------------------------------------

    def _allowed(self, path: str) -> bool:
        reason = _refusal(path)
        if reason:
            logger.warning("git archive: not committing %r: %s", path, reason)
        return reason is None

    def _expand(self, paths: Iterable[str]) -> list[str]:
        """Normalized paths, folders replaced by the allowed files inside them, no duplicates."""
        out: dict[str, None] = {}
        for path in paths:
            norm = posixpath.normpath(path)
            full = self.root / norm
            if full.is_dir() and not full.is_symlink():
                for dirpath, dirnames, filenames in os.walk(full):
                    dirnames[:] = sorted(d for d in dirnames if d not in OWN_DIRS)
                    rel = Path(dirpath).relative_to(self.root).as_posix()
                    for name in sorted(filenames):
                        if not is_temp(name):
                            out[posixpath.join(rel, name)] = None
            else:
                out[norm] = None
        return list(out)

    def _exclude_own_files(self) -> None:
        exclude = Path(self._git("rev-parse", "--absolute-git-dir").stdout.strip()) / "info"
        exclude.mkdir(parents=True, exist_ok=True)
        lines = [
            "# syncd state, trash and partial files",
            f"{STATE_DIR}/",
            f"{TRASH_DIR}/",
            f"*{TEMP_SUFFIX}",
        ]
        with (exclude / "exclude").open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


def find_git_locks(root: Path) -> list[GitLock]:
    """Lock files in the git directory of the repository holding `root`, each marked as
    syncd's own (an interrupted syncd commit left it; the next commit removes it) or not.

    Read-only: runs only `git rev-parse`, which takes no lock. [] when root is not in a git
    work tree. Raises StorageError when git cannot run or the git directory cannot be read.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    try:
        repo = find_repository(Git(root), check=False)
        return [] if repo is None else repo.locks(read_owner(repo.marker))
    except GitFailed as exc:
        raise StorageError(f"the git repository at {root}", str(exc)) from exc


def _refusal(path: str) -> str | None:
    """Why a root-relative path must not be committed, or None when it may be."""
    if not path or "\0" in path or path.startswith("/"):
        return "not a relative posix path"
    norm = posixpath.normpath(path)
    parts = norm.split("/")
    if norm == "." or parts[0] == "..":
        return "outside the mirror root"
    if in_own_dir(parts):
        return "syncd state, trash or git internals"
    if is_temp(norm):
        return "a partially written file"
    return None
