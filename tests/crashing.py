"""Stop a real process hard right after one of its durable steps.

The work runs in a forked child process; an observer installed in the child (production
code only announces its durable steps) sends each step's name to the parent and, at the
chosen one, kills the child with SIGKILL: no cleanup, no flush, no `finally`, as a kill
-9 or an OOM killer would. The parent learns which steps happened and whether the child
was stopped.
"""

from __future__ import annotations

import os
import select
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from syncd import durable

#: Decides from the steps reached so far (the newest last) whether to stop now.
StopRule = Callable[[list[str]], bool]


@dataclass(frozen=True)
class ChildRun:
    steps: list[str]  # durable steps reached, in order
    killed: bool  # stopped by the rule (SIGKILL) rather than finishing
    error: str | None  # a traceback when the work raised instead


def after_step(count: int) -> StopRule:
    """Stop right after the `count`-th durable step (1-based)."""
    return lambda steps: len(steps) == count


def after_nth(name: str, count: int) -> StopRule:
    """Stop right after the `count`-th step called `name`."""
    return lambda steps: steps[-1] == name and steps.count(name) == count


def run_in_child(
    work: Callable[[], object], stop: StopRule | None = None, *, deadline: float = 120.0
) -> ChildRun:
    """Run `work` in a child process, killing it when `stop` says so; a child still
    running after `deadline` seconds is killed and the test fails (never hangs)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Forking a process with threads (the test server's) is fine here: the child
        # only runs `work`, which starts no thread of the parent's.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        os.close(read_end)
        _child(work, stop, write_end)
    os.close(write_end)
    output = _read_until_closed(read_end, pid, time.monotonic() + deadline)
    lines = output.decode().splitlines()
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    errors = [line[len("error ") :] for line in lines if line.startswith("error ")]
    steps = [line[len("step ") :] for line in lines if line.startswith("step ")]
    return ChildRun(steps, killed, "\n".join(errors) or None)


def _read_until_closed(fd: int, pid: int, deadline: float) -> bytes:
    """Everything the child writes until it exits (its end of the pipe closes)."""
    chunks: list[bytes] = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("the child process did not finish in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _child(work: Callable[[], object], stop: StopRule | None, write_end: int) -> None:
    steps: list[str] = []

    def observe(step: str) -> None:
        steps.append(step)
        os.write(write_end, f"step {step}\n".encode())
        if stop is not None and stop(steps):
            os.kill(os.getpid(), signal.SIGKILL)

    code = 0
    try:
        durable.observe(observe)
        work()
    except BaseException:
        for line in traceback.format_exc().splitlines():
            os.write(write_end, f"error {line}\n".encode())
        code = 1
    finally:
        os._exit(code)
