"""The HTTP plumbing both local servers share: keep-alive connections that close on stop."""

from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

logger = logging.getLogger(__name__)


class KeepAliveServer(ThreadingHTTPServer):
    """A threading server that can close its open keep-alive connections when stopped."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake every handler thread waiting on a keep-alive connection so it ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                logger.debug("connection already closed")

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its connection (e.g. after an error response it did not read)
        # is normal traffic, not a server fault worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("connection from %s closed by the client", client_address)
            return
        logger.warning("request from %s failed", client_address, exc_info=True)


class BadRequestBodyError(Exception):
    """A request body that cannot be read; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds an idle keep-alive connection may stay open

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; Nagle would hold the body ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._keepalive_server().track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._keepalive_server().untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: %s", self.address_string(), format % args)

    def _read_sized_body(self, max_bytes: int) -> bytes:
        """The body its Content-Length announces (none: empty), at most `max_bytes`."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        if not declared.strip().isdigit():
            raise BadRequestBodyError(400, f"Invalid Content-Length: {declared!r}")
        length = int(declared)
        if length > max_bytes:
            raise BadRequestBodyError(413, f"Request body over {max_bytes} bytes")
        data = self.rfile.read(length)
        if len(data) != length:
            raise BadRequestBodyError(400, "Request body shorter than its Content-Length")
        return data

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: SO_LINGER 0, then close."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.rfile.close()  # the socket's fd is released once its last file object closes

    def _keepalive_server(self) -> KeepAliveServer:
        assert isinstance(self.server, KeepAliveServer)
        return self.server


class BackgroundServing:
    """Runs a KeepAliveServer from a daemon thread: start, stop (twice is fine), address."""

    def __init__(self, make: Callable[[], KeepAliveServer], name: str) -> None:
        self._make = make
        self._name = name
        self._http: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._http is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._http is None:
            raise RuntimeError(f"{self._name} has no address until start() is called")
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve from a daemon thread."""
        if self._http is not None:
            raise RuntimeError(f"{self._name} is already running")
        self._http = self._make()
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{self._name}:{self._http.server_address[1]}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        http, thread = self._http, self._thread
        self._http = self._thread = None
        if http is None:
            return
        http.shutdown()
        http.server_close()
        http.close_connections()
        if thread is not None:
            thread.join()


class LoopbackService:
    """Start/stop/context-manager plumbing for a server owning a BackgroundServing."""

    _serving: BackgroundServing

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve from a daemon thread."""
        self._serving.start()

    def stop(self) -> None:
        """Stop serving and close every open connection; safe to call twice."""
        self._serving.stop()

    @property
    def running(self) -> bool:
        return self._serving.running

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
