"""`syncd run` as a real process: readiness, watchdog, signals, the lock, reloads."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.daemon.state import read_state
from syncd.devserver import DevServer, Fault
from syncd.index.store import Store

DEADLINE = 20.0


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    notify: socket.socket
    root: Path

    def messages_until(self, wanted: str, deadline: float = DEADLINE) -> list[str]:
        """Datagrams received until one contains `wanted` (a socket timeout, never a sleep)."""
        seen: list[str] = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            self.notify.settimeout(max(0.05, end - time.monotonic()))
            try:
                message = self.notify.recv(4096).decode()
            except TimeoutError:
                break
            seen.append(message)
            if wanted in message.split("\n"):
                return seen
        raise AssertionError(f"no {wanted!r} within {deadline} s; got {seen}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


@contextmanager
def running_daemon(
    server: DevServer, tmp_path: Path, name: str = "d", **settings: str | None
) -> Iterator[Daemon]:
    """`syncd run` against `server`; `settings` add environment variables (None removes)."""
    root = tmp_path / "mirror"
    notify_path = tmp_path / f"{name}.notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
    env |= {
        "SYNCD_BASE_URL": server.url,
        "SYNCD_API_KEY": server.api_key,
        "SYNCD_ROOT": str(root),
        "SYNCD_RETRY__BASE_DELAY_SECONDS": "0",
        "SYNCD_SCHEDULE__SYNC_SECONDS": "3600",
        "NOTIFY_SOCKET": str(notify_path),
        "WATCHDOG_USEC": "1000000",
    }
    for key, value in settings.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    with subprocess.Popen(
        [sys.executable, "-m", "syncd", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield Daemon(process, notify, root)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
            notify.close()


def seed(server: DevServer, sessions: int) -> None:
    server.add_project("App", project_id="proj_app")
    for n in range(sessions):
        server.put_session(
            "proj_app", session_id=f"{n:08d}-s", name=f"s{n}", markdown=f"# {n}\n" * 200
        )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_daemon_is_ready_pings_the_watchdog_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 3)
        with running_daemon(server, tmp_path) as daemon:
            daemon.messages_until("READY=1")
            daemon.messages_until("WATCHDOG=1")
            daemon.process.send_signal(stop_signal)
            assert daemon.process.wait(timeout=10) == 0
            daemon.messages_until("STOPPING=1")
            assert daemon.process.stderr is not None
            log = daemon.process.stderr.read()
        # At INFO, syncd's own line for each cycle; not the scheduler's two for each job.
        assert "reconcile: 3 new" in log
        assert "Running job" not in log
        assert "executed successfully" not in log
        with Store.open(f"sqlite:///{tmp_path / 'mirror' / '.syncd' / 'index.db'}") as store:
            assert store.count_sessions() == 3
            assert store.runs()[-1].kind == "reconcile"


def test_sigterm_mid_sync_leaves_no_temp_files_and_a_consistent_index(tmp_path: Path) -> None:
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 40)
        server.inject(Fault(kind="latency", delay=0.1, path=r"-s$", method="GET", times=-1))
        with running_daemon(server, tmp_path) as daemon:
            daemon.messages_until("READY=1")
            assert server.wait_for_requests(
                lambda log: sum(r.accept == "text/markdown" for r in log) >= 5, DEADLINE
            ), "the sync never started"
            started = time.monotonic()
            assert daemon.stop() == 0
            assert time.monotonic() - started < 10
    root = tmp_path / "mirror"
    assert not list(root.rglob("*syncd-tmp*"))
    with Store.open(f"sqlite:///{root / '.syncd' / 'index.db'}") as store:
        sessions = store.sessions()
        (run,) = store.runs()
    assert 0 < len(sessions) < 40
    for record in sessions.values():
        data = (root / record.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == record.file_sha256
    assert run.ended_at is not None
    assert run.deferred >= 1
    assert not run.succeeded


def test_second_daemon_on_the_same_root_names_the_first(tmp_path: Path) -> None:
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 1)
        with running_daemon(server, tmp_path) as first:
            first.messages_until("READY=1")
            env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
            env |= {
                "SYNCD_BASE_URL": server.url,
                "SYNCD_API_KEY": server.api_key,
                "SYNCD_ROOT": str(first.root),
            }
            second = subprocess.run(
                [sys.executable, "-m", "syncd", "run"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert second.returncode == 6
            assert f"pid {first.process.pid}" in second.stderr
            assert first.stop() == 0


def test_sighup_reloads_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "syncd" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[schedule]\nsync_seconds = 3600\n")
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 1)
        with running_daemon(
            server,
            tmp_path,
            XDG_CONFIG_HOME=str(tmp_path / "xdg"),
            SYNCD_SCHEDULE__SYNC_SECONDS=None,
        ) as daemon:
            daemon.messages_until("READY=1")
            config.write_text(
                "[schedule]\nsync_seconds = 60\njitter_seconds = 0\n"
                "[pullstory]\ninterval_seconds = 30\n"
            )
            daemon.process.send_signal(signal.SIGHUP)
            seen = daemon.messages_until("RELOADING=1")
            seen += daemon.messages_until("READY=1")
            assert any("configuration reloaded" in m for m in seen)
            state = read_state(daemon.root / ".syncd")
            assert state is not None
            assert state.next_sync is not None
            assert (state.next_sync - datetime.now(UTC)).total_seconds() <= 60
            assert daemon.stop() == 0
            assert daemon.process.stderr is not None
            # Not applied silently: what a reload cannot change is said.
            assert "pullstory settings take effect when syncd restarts" in (
                daemon.process.stderr.read()
            )


@pytest.mark.parametrize("bad", ["[schedule]\nsync_seconds = 1\n", "tiemout_seconds = 3\n"])
def test_bad_reload_keeps_the_running_configuration(tmp_path: Path, bad: str) -> None:
    config = tmp_path / "xdg" / "syncd" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("")
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 1)
        with running_daemon(
            server,
            tmp_path,
            XDG_CONFIG_HOME=str(tmp_path / "xdg"),
            SYNCD_SCHEDULE__SYNC_SECONDS=None,
        ) as daemon:
            daemon.messages_until("READY=1")
            config.write_text(bad)
            daemon.process.send_signal(signal.SIGHUP)
            seen = daemon.messages_until("READY=1")
            assert any("reload failed" in m for m in seen)
            daemon.messages_until("WATCHDOG=1")  # still alive and well
            assert daemon.stop() == 0


def test_daemon_pushes_a_marked_session_and_writes_its_story_url(tmp_path: Path) -> None:
    from tests.fakes.pullstory import PullStoryServer
    from tests.integration.test_push import TOKEN, seed_parser_session

    with (
        DevServer(api_key="k", port=0, rate_limit=None) as server,
        PullStoryServer(
            TOKEN, port=0, generation_seconds=None, generation_polls=1, estimated_seconds=1
        ) as stories,
    ):
        seed_parser_session(server)
        with running_daemon(
            server,
            tmp_path,
            SYNCD_PULLSTORY__BASE_URL=stories.url,
            SYNCD_PULLSTORY__API_KEY=TOKEN,
            SYNCD_PULLSTORY__INTERVAL_SECONDS="1",
        ) as daemon:
            daemon.messages_until("READY=1")
            assert server.wait_for_requests(
                lambda log: any(r.accept == "text/markdown" for r in log), DEADLINE
            )
            index = f"sqlite:///{daemon.root / '.syncd' / 'index.db'}"
            path = _wait_for_file(daemon.root)
            path.write_bytes(path.read_bytes().replace(b"\n---\n", b"\npullstory: true\n---\n", 1))
            assert stories.wait_for_requests(
                lambda log: any(r.method == "POST" for r in log), 2.0 + 1.0
            ), "the mark was not noticed within 2 s (plus the push worker's tick)"
            assert stories.wait_for_requests(
                lambda log: any(r.method == "GET" and r.status == 200 for r in log), DEADLINE
            )
            end = time.monotonic() + DEADLINE
            while "pullstory_url:" not in path.read_text():
                assert time.monotonic() < end, "the story URL never reached the file"
                time.sleep(0.05)  # polling a file with a deadline
            assert daemon.stop() == 0
        with Store.open(index) as store:
            (story,) = store.stories()
            assert story.status == "ready"
            assert story.source == "mark"
        assert "pullstory: true" in path.read_text()


def _wait_for_file(root: Path) -> Path:
    end = time.monotonic() + DEADLINE
    while True:
        found = [p for p in root.glob("tools/*.md") if p.name != "INDEX.md"]
        if found and (root / "README.md").exists():
            return found[0]
        assert time.monotonic() < end, "the session was never mirrored"
        time.sleep(0.05)


def _wait_for_files(root: Path, pattern: str, count: int) -> None:
    end = time.monotonic() + DEADLINE
    while len(list(root.glob(pattern))) < count:
        assert time.monotonic() < end, f"{count} files matching {pattern} never arrived"
        time.sleep(0.05)  # polling files with a deadline


def test_daemon_paces_a_backlog_within_a_small_rate_limit(tmp_path: Path) -> None:
    # 20 requests per 2 s window for 40 sessions: spread over several windows, never a 429,
    # never more than the 18 a window leaves outside the reserve. (That the reserve itself
    # is kept when the backlog could use it is proven on a simulated clock in test_sync.)
    with DevServer(api_key="k", port=0, rate_limit=20, window_seconds=2.0) as server:
        seed(server, 40)
        with running_daemon(server, tmp_path) as daemon:
            daemon.messages_until("READY=1")
            assert server.wait_for_requests(
                lambda log: sum(r.accept == "text/markdown" and r.status == 200 for r in log) >= 40,
                DEADLINE,
            ), "the backlog was not drained"
            assert daemon.stop() == 0
        statuses = [r.status for r in server.requests]
    assert statuses.count(429) == 0
    # Windows as the server counts them: one opens at the first request after the last ended.
    windows: list[list[float]] = []  # [opened at, requests]
    for request in server.requests:
        if not windows or request.at >= windows[-1][0] + 2.0:
            windows.append([request.at, 0])
        windows[-1][1] += 1
    assert len(windows) >= 3  # the backlog really outgrew the budget
    # 18 of each window's 20 at most, plus the first request, sent before the limit was known.
    assert windows[0][1] <= 19
    assert max(count for _, count in windows[1:]) <= 18


def test_daemon_commits_its_cycle_to_the_git_archive(tmp_path: Path) -> None:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 3)
        git_env = {"GIT_CONFIG_GLOBAL": str(empty), "GIT_CONFIG_NOSYSTEM": "1"}
        with running_daemon(server, tmp_path, SYNCD_GIT__ENABLED="true", **git_env) as daemon:
            daemon.messages_until("READY=1")
            # Files, not requests: bodies are fetched a few steps ahead of their writes.
            _wait_for_files(tmp_path / "mirror", "app/*-s*.md", 3)
            assert daemon.stop() == 0  # a stop lets the cycle, and its commit, finish
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "mirror"), "log", "--format=%s", "--name-only"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.startswith("sync: 3 new in 1 project")
    session_file = re.compile(r"app/.*-s\d-0000000\d\.md")
    assert len([line for line in log.splitlines() if session_file.fullmatch(line)]) == 3
