"""Running git: one command at a time in the mirror root, each bounded by a timeout, without
syncd's own variables (its keys) in its environment, and a failure told in one printable
line with credentials in URLs redacted."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from syncd import durable
from syncd.errors import redact_url

#: Starts a process like `subprocess.Popen` (injectable so tests can stand in for git).
Spawn = Callable[..., subprocess.Popen[str]]
#: Told each git child's pid, and the time by which it will be done or killed, as it starts.
Watcher = Callable[[int, float], None]
#: Variables git children never see (see `_withheld`).
WITHHELD_PREFIX = "SYNCD_"
WITHHELD_NAMES = frozenset(
    {
        "NOTIFY_SOCKET",
        "WATCHDOG_PID",
        "WATCHDOG_USEC",
        # Where git finds a repository: inherited from a hook or alias that started syncd,
        # they would send syncd's commits into someone else's repository.
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    }
)
#: Commands that change the repository: each is a durable step (the crash tests stop there).
WRITING_VERBS = frozenset(
    {"init", "read-tree", "rm", "add", "update-index", "commit", "reset", "push"}
)


class GitFailed(Exception):
    """A git command exited non-zero, timed out or could not start, or a lock file stopped
    a commit (`blocked_by`); the message is one line."""

    def __init__(self, message: str, blocked_by: Path | None = None) -> None:
        super().__init__(message)
        self.blocked_by = blocked_by


class Git:
    """Runs git in `cwd`. `watcher`, when set, hears of each child as it starts; `killed`
    turns true once a child had to be killed (a timeout, an interrupt), leaving its locks."""

    def __init__(
        self, cwd: Path, *, popen: Spawn = subprocess.Popen, timeout: float = 60.0
    ) -> None:
        self.cwd = cwd
        self.timeout = timeout
        self.watcher: Watcher | None = None
        self.killed = False
        self._popen = popen

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `git args...`; raises GitFailed when it cannot start, times out, or (with
        `check`) exits non-zero."""
        limit = timeout or self.timeout
        try:
            process = self._popen(
                ["git", *args],
                cwd=self.cwd,
                env=_environment(env),
                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            raise GitFailed(f"cannot run git: {exc}") from exc
        with process:
            try:
                if self.watcher is not None:
                    # Wall-clock time: the deadline is compared with lock files' mtimes.
                    self.watcher(process.pid, time.time() + limit)
                stdout, stderr = process.communicate(input, timeout=limit)
            except BaseException as exc:
                process.kill()
                self.killed = True
                if isinstance(exc, subprocess.TimeoutExpired):
                    raise GitFailed(f"git {_verb(args)} timed out after {limit:g}s") from exc
                raise
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if check and process.returncode != 0:
            raise failure(args, done)
        if _verb(args) in WRITING_VERBS:
            durable.reached(f"git {_verb(args)}")
        return done

    def on_paths(
        self,
        args: list[str],
        paths: Sequence[str],
        env: dict[str, str] | None,
        *,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `git args...` on these paths."""
        # Paths go through stdin, NUL-separated: no argument-length limit, no option injection.
        spec = "".join(p + "\0" for p in paths)
        pathspec = ("--pathspec-from-file=-", "--pathspec-file-nul")
        return self(*args, *pathspec, env=env, input=spec, check=check)


def failure(args: Sequence[str], done: subprocess.CompletedProcess[str]) -> GitFailed:
    """The error for `git args...` that exited non-zero: the verb, exit status, git's reason."""
    detail = one_line(_reason(done.stderr) or _reason(done.stdout) or "no output")
    return GitFailed(f"git {_verb(args)} failed (exit {done.returncode}): {detail}")


def one_line(text: str, limit: int = 200) -> str:
    """One printable line, credentials in URLs redacted, cut to `limit` characters."""
    flat = " ".join(redact_url(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    """syncd's environment without what is syncd's alone, plus the GIT_* settings it runs
    git with: hooks and push transports run with this too."""
    inherited = {name: value for name, value in os.environ.items() if not _withheld(name)}
    return {
        **inherited,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LITERAL_PATHSPECS": "1",
        "GIT_EDITOR": "true",
        "LC_ALL": "C",
        **(extra or {}),
    }


def _withheld(name: str) -> bool:
    """SYNCD_* variables hold syncd's settings, API keys among them (any case: settings are
    read case-insensitively); systemd's notify socket would let a hook speak for syncd; an
    inherited repository location would point git elsewhere."""
    upper = name.upper()
    return upper.startswith(WITHHELD_PREFIX) or upper in WITHHELD_NAMES


def _verb(args: Sequence[str]) -> str:
    return next((a for a in args if not a.startswith("-") and "=" not in a), "command")


def _reason(text: str) -> str:
    """git's first `fatal:`/`error:` line, else the last line (a hook's own complaint)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    flagged = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (flagged or lines[-1:] or [""])[0]
