"""The daemon's log and systemd status over real cycles against the devserver: start-up
lines, then one INFO line for each cycle that changed something and nothing for an idle
one; a STATUS= for every cycle, read from a real unix datagram socket."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from syncd.config import ScheduleSettings, Settings
from syncd.daemon.notify import Notifier
from syncd.daemon.service import Daemon
from syncd.daemon.state import DaemonSettings, read_state
from syncd.devserver import DevServer, Fault
from syncd.logs import configure_logging

DEADLINE = 20.0
# Below what the configuration accepts (10 s): set on the model, as a reload would.
FAST = ScheduleSettings(sync_seconds=10, jitter_seconds=0).model_copy(update={"sync_seconds": 0.2})


@dataclass
class Statuses:
    """The STATUS= lines the daemon sends to a NOTIFY_SOCKET bound here."""

    sock: socket.socket
    seen: list[str]

    def next(self) -> str:
        """The next STATUS= line (waits on the socket, never a sleep)."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            message = self.sock.recv(4096).decode()
            for line in message.split("\n"):
                if line.startswith("STATUS="):
                    self.seen.append(line.removeprefix("STATUS="))
                    return self.seen[-1]
        raise AssertionError(f"no STATUS= within {DEADLINE} s; got {self.seen}")

    def cycles(self, count: int) -> list[str]:
        """The next `count` cycles' lines (the READY status at start-up is not one)."""
        found: list[str] = []
        while len(found) < count:
            line = self.next()
            if ":" in line and "budget left" in line:
                found.append(line)
        return found


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@contextmanager
def running(daemon: Daemon) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    try:
        yield thread
    finally:
        daemon.request_stop()
        thread.join(DEADLINE)


@dataclass
class Watched:
    """A daemon (not started) over the devserver, its log in a file, its STATUS= lines."""

    server: DevServer
    daemon: Daemon
    statuses: Statuses
    stream: TextIO


@contextmanager
def watched_daemon(tmp_path: Path, sessions: int, log_level: str) -> Iterator[Watched]:
    """A daemon syncing `sessions` sessions of one project every 0.2 s, logging at
    `log_level` to a file and sending STATUS= to a real unix datagram socket."""
    notify_path = tmp_path / "notify.sock"
    with (
        DevServer(api_key="k", port=0, rate_limit=None) as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        (tmp_path / "stderr").open("w+", encoding="utf-8") as stream,
    ):
        sock.bind(str(notify_path))
        server.add_project("App", project_id="proj_app")
        for n in range(sessions):
            server.put_session("proj_app", session_id=f"{n:08d}-s", name=f"s{n}", markdown="# s\n")
        settings = Settings(root=tmp_path / "mirror", base_url=server.url, api_key="k").model_copy(
            update={"schedule": FAST}
        )
        configure_logging(log_level, "text", stream)
        daemon = Daemon(
            lambda: settings,
            notifier=Notifier({"NOTIFY_SOCKET": str(notify_path)}),
            install_signals=False,
        )
        yield Watched(server, daemon, Statuses(sock, []), stream)


def lines_of(stream: TextIO) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    stream.seek(0)
    return stream.read().splitlines()


@pytest.mark.usefixtures("restore_logging")
def test_idle_cycles_log_nothing_at_info_and_a_changed_cycle_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with watched_daemon(tmp_path, sessions=5, log_level="INFO") as world:
        server, statuses = world.server, world.statuses
        with running(world.daemon):
            first = statuses.cycles(1)  # the start-up reconciliation mirrors all five
            idle = statuses.cycles(6)  # each 0.2 s after the one before ended
            # Written after each cycle: idle ones leave the last progress as it was.
            state = read_state(tmp_path / "mirror" / ".syncd")
            server.put_session(
                "proj_app", session_id="00000002-s", name="s2", markdown="# edited\n"
            )
            # The cycle in flight may have listed before the change: the next one sees it.
            busy = statuses.cycles(1)
            if "1 updated" not in busy[0]:
                busy += statuses.cycles(1)
            idle_after = statuses.cycles(3)
        log = lines_of(world.stream)

    assert first[0].startswith("reconcile: 5 new, 0 updated, 0 unchanged, 0 failed")
    # What `syncd status` reads: the settings in force and how far the last cycle got.
    assert state is not None
    assert state.settings == DaemonSettings(
        sync_seconds=0.2, reconcile_seconds=3600, push=False, git=False
    )
    assert state.progress is not None
    assert (state.progress.done, state.progress.total) == (4, 5)  # the fifth was under way
    assert all(
        line.startswith("incremental: 0 new, 0 updated, 5 unchanged, 0 failed") for line in idle
    )
    assert busy[-1].startswith("incremental: 0 new, 1 updated, 4 unchanged")
    assert all(line.startswith("incremental: 0 new, 0 updated") for line in idle_after)
    service = [line for line in log if "syncd.daemon.service" in line]
    # Start-up, the two cycles that changed something, stopping: nothing for the idle ones.
    assert [line.split("service: ", 1)[1].split(":")[0] for line in service] == [
        "syncd running",
        "reconcile",
        "incremental",
        "stopping",
        "stopped",
    ], log
    others = [line for line in log if line not in service]
    assert len(others) == 1, others  # the push worker saying it is off
    assert "pushing is off" in log[0]
    assert not any("apscheduler" in line for line in log)


@pytest.mark.usefixtures("restore_logging")
def test_cycles_longer_than_the_interval_delay_the_next_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each incremental cycle takes 0.6 s against a 0.2 s interval: the scheduler's note
    that a run was skipped is there at DEBUG (so the overlap really happened) and nowhere
    at WARNING, and the next cycle waits for the one before."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with watched_daemon(tmp_path, sessions=1, log_level="DEBUG") as world:
        with running(world.daemon):
            world.statuses.cycles(1)  # the start-up reconciliation, at full speed
            world.server.inject(Fault("latency", path="/sessions/recent", times=-1, delay=0.6))
            slow = world.statuses.cycles(3)
        log = lines_of(world.stream)

    assert all(line.startswith("incremental: 0 new, 0 updated, 1 unchanged") for line in slow)
    scheduler = [line for line in log if " apscheduler." in line]
    assert any("maximum number of running instances reached" in line for line in scheduler)
    assert all(line.startswith("DEBUG ") for line in scheduler), scheduler
    assert not [line for line in log if line.startswith(("WARNING", "ERROR"))]
