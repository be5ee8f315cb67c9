"""sd_notify over a real AF_UNIX datagram socket: the exact bytes a service manager receives."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.daemon.notify import Notifier

MARKER = b"test-marker"


@dataclass
class Listener:
    """A bound datagram socket standing in for systemd's notification socket."""

    sock: socket.socket
    notify_socket: str  # the NOTIFY_SOCKET value that reaches it

    def receive(self) -> bytes:
        return self.sock.recv(65536)

    def assert_nothing_received(self) -> None:
        """Proves silence without waiting: a marker sent now must be the next datagram."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(MARKER, self.sock.getsockname())
        assert self.receive() == MARKER


def _bound(address: str, notify_socket: str) -> Iterator[Listener]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(5.0)  # a missing datagram fails the test instead of hanging it
        yield Listener(sock, notify_socket)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    path = str(tmp_path / "notify.sock")
    yield from _bound(path, path)


@pytest.fixture
def abstract_listener() -> Iterator[Listener]:
    name = f"syncd-test-notify-{os.getpid()}-{secrets.token_hex(6)}"
    yield from _bound("\0" + name, "@" + name)


def test_ready_sends_ready(listener: Listener) -> None:
    Notifier({"NOTIFY_SOCKET": listener.notify_socket}).ready()
    assert listener.receive() == b"READY=1"


def test_ready_with_status_sends_both_in_one_datagram(listener: Listener) -> None:
    Notifier({"NOTIFY_SOCKET": listener.notify_socket}).ready("41 sessions mirrored")
    assert listener.receive() == b"READY=1\nSTATUS=41 sessions mirrored"


def test_status_keeps_to_one_line(listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": listener.notify_socket})
    notifier.status("syncing\nproject ä")
    assert listener.receive() == "STATUS=syncing project ä".encode()


def test_stopping_sends_stopping(listener: Listener) -> None:
    Notifier({"NOTIFY_SOCKET": listener.notify_socket}).stopping()
    assert listener.receive() == b"STOPPING=1"


def test_reloading_sends_monotonic_timestamp(listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": listener.notify_socket})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = listener.receive().split(b"\n")
    assert first == b"RELOADING=1"
    key, value = second.split(b"=")
    assert key == b"MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_abstract_namespace_socket_is_reached(abstract_listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": abstract_listener.notify_socket})
    notifier.ready()
    notifier.stopping()
    assert abstract_listener.receive() == b"READY=1"
    assert abstract_listener.receive() == b"STOPPING=1"


def test_watchdog_pings_for_this_process(listener: Listener) -> None:
    notifier = Notifier(
        {
            "NOTIFY_SOCKET": listener.notify_socket,
            "WATCHDOG_USEC": "120000000",
            "WATCHDOG_PID": str(os.getpid()),
        }
    )
    assert notifier.watchdog_interval == 60.0
    notifier.watchdog()
    assert listener.receive() == b"WATCHDOG=1"


def test_watchdog_without_pid_is_for_this_process(listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": listener.notify_socket, "WATCHDOG_USEC": "3000000"})
    assert notifier.watchdog_interval == 1.5
    notifier.watchdog()
    assert listener.receive() == b"WATCHDOG=1"


def test_watchdog_of_another_pid_is_disabled(listener: Listener) -> None:
    notifier = Notifier(
        {
            "NOTIFY_SOCKET": listener.notify_socket,
            "WATCHDOG_USEC": "120000000",
            "WATCHDOG_PID": str(os.getpid() + 1),
        }
    )
    assert notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    listener.assert_nothing_received()


@pytest.mark.parametrize("usec", [None, "0", "-5", "soon"])
def test_watchdog_without_a_usable_timeout_is_disabled(
    listener: Listener, usec: str | None
) -> None:
    env = {"NOTIFY_SOCKET": listener.notify_socket}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    notifier = Notifier(env)
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    listener.assert_nothing_received()


def test_without_notify_socket_every_method_is_a_no_op(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process environment points at the listener, but the mapping given is what counts.
    monkeypatch.setenv("NOTIFY_SOCKET", listener.notify_socket)
    notifier = Notifier({"WATCHDOG_USEC": "120000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("up")
    notifier.status("busy")
    notifier.watchdog()
    notifier.reloading()
    notifier.stopping()
    listener.assert_nothing_received()


def test_default_environment_is_the_process_environment(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", listener.notify_socket)
    Notifier().ready()
    assert listener.receive() == b"READY=1"


def test_relative_socket_path_disables_notifying(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "notify.sock"})
    assert not notifier.enabled
    notifier.ready()
    assert "not an absolute path" in caplog.text


@pytest.fixture(params=["missing", "closed"])
def dead_socket(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    path = tmp_path / "dead.sock"
    if request.param == "closed":
        # The file exists but nobody reads it any more: sendto gets ECONNREFUSED.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
    return str(path)


def test_dead_socket_warns_once_and_never_raises(
    dead_socket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="syncd.daemon.notify")
    notifier = Notifier({"NOTIFY_SOCKET": dead_socket, "WATCHDOG_USEC": "1000000"})
    notifier.ready()
    notifier.watchdog()
    notifier.stopping()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert dead_socket in warnings[0].getMessage()
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 2
