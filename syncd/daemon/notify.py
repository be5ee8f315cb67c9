"""Tell the service manager how the daemon is doing: the sd_notify(3) datagram protocol.

No libsystemd: each call sends one datagram of newline-separated `KEY=value` assignments to
the AF_UNIX socket named by NOTIFY_SOCKET. Outside systemd (no NOTIFY_SOCKET) every method
does nothing, so the daemon calls them unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

logger = logging.getLogger(__name__)

# A listener that stops reading must not wedge the daemon: give up on a send after this long.
SEND_TIMEOUT_SECONDS = 2.0


class Notifier:
    """Sends READY, STATUS, WATCHDOG, STOPPING and RELOADING messages; never raises.

    Built from an environment mapping (default `os.environ`), read once here:
    NOTIFY_SOCKET is an absolute socket path, or an abstract-namespace name when it starts
    with "@"; WATCHDOG_USEC enables watchdog pings unless WATCHDOG_PID names another process.
    A failed send is logged as a warning the first time and at DEBUG after that.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._socket_name = env.get("NOTIFY_SOCKET", "")
        self._address = _address_of(self._socket_name)
        self._watchdog_interval = _watchdog_interval(env) if self._address else None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when there is a service manager to notify."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of WATCHDOG_USEC), or None when not watched."""
        return self._watchdog_interval

    def ready(self, status: str | None = None) -> None:
        """Start-up (or a reload) is complete; optionally with a one-line status."""
        self._send("READY=1", *([] if status is None else [_status_line(status)]))

    def status(self, text: str) -> None:
        """A one-line status for `systemctl status` (newlines become spaces)."""
        self._send(_status_line(text))

    def watchdog(self) -> None:
        """Still making progress. Sends nothing unless the watchdog is enabled for this pid."""
        if self._watchdog_interval is not None:
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutdown has begun."""
        self._send("STOPPING=1")

    def reloading(self) -> None:
        """A configuration reload has begun; call `ready()` once the new settings are in force.

        MONOTONIC_USEC is what Type=notify-reload (systemd >= 253) requires; older managers
        ignore it.
        """
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}")

    def _send(self, *assignments: str) -> None:
        if self._address is None:
            return
        message = "\n".join(assignments).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT_SECONDS)
                sock.sendto(message, self._address)
        except OSError as exc:
            self._report_failure(exc)

    def _report_failure(self, exc: OSError) -> None:
        if self._warned:
            logger.debug("cannot notify the service manager at %s: %s", self._socket_name, exc)
            return
        self._warned = True
        logger.warning(
            "cannot notify the service manager at NOTIFY_SOCKET=%s: %s "
            "(carrying on; further failures are logged at DEBUG)",
            self._socket_name,
            exc,
        )


def _address_of(name: str) -> str | None:
    if not name:
        return None
    if name.startswith("@"):
        # The abstract namespace: a leading NUL instead of a path on disk.
        return "\0" + name[1:]
    if name.startswith("/"):
        return name
    # sd_notify(3) accepts nothing else we can reach (e.g. vsock: addresses); say why once.
    logger.warning("NOTIFY_SOCKET=%s is not an absolute path or @name; not notifying", name)
    return None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = _positive_int(env.get("WATCHDOG_USEC"))
    if usec is None:
        return None
    pid = env.get("WATCHDOG_PID")
    # The manager sets WATCHDOG_PID for the main process; a child that inherited it stays quiet.
    if pid is not None and _positive_int(pid) != os.getpid():
        return None
    return usec / 2 / 1_000_000


def _positive_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _status_line(text: str) -> str:
    # One assignment per line is the protocol: a newline inside the text would start another.
    return "STATUS=" + " ".join(text.splitlines())
