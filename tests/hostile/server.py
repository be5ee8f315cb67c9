"""A scripted HTTP/1.1 server on 127.0.0.1 that can misbehave at the byte level.

It imports nothing from syncd: requests are parsed here and answers are written as raw
bytes, so an answer can carry a malformed header, lie about its length, drip, or reset
the connection. What it answers is decided by a `respond` callable (see account.py);
every request is logged, with its raw headers, for the tests to inspect.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

MAX_HEAD_BYTES = 64 * 1024
REASONS = {
    200: "OK",
    202: "Accepted",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class Request:
    method: str
    target: str  # as sent, percent-encoded
    segments: list[str]  # the path's segments, decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names, values decoded as latin-1
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Answer:
    """What goes on the wire. Defaults make a well-formed response with Content-Length."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    # "auto": the body's length; "omit": no Content-Length; an int: that (maybe false) length.
    length: int | Literal["auto", "omit"] = "auto"
    chunked: bool = False
    drip: float = 0.0  # seconds between body bytes
    drip_head: float = 0.0  # seconds between bytes of the status line and headers
    # Dripping stops (and the connection is reset) after this many seconds.
    drip_cap: float = 3.0
    reset: Literal["no", "at_once", "after_head", "mid_body"] = "no"
    raw: bytes | None = None  # sent verbatim instead of all of the above

    def get(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set(self, name: str, value: bytes | str) -> Answer:
        """This answer with `name` replaced (or added); returns self for chaining."""
        raw = value.encode("latin-1") if isinstance(value, str) else value
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, raw))
        return self


Responder = Callable[[Request], Answer]


class HostileServer:
    """Threaded; one request per connection (every answer says Connection: close)."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._tcp = _TCPServer(("127.0.0.1", 0), _Handler)
        self._tcp.hostile = self
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        port = self._tcp.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._tcp.serve_forever(poll_interval=0.02)  # a quick shutdown: tests stop it often

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self, predicate: Callable[[Request], bool] = lambda r: True) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileServer


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            request = _read_request(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        hostile = self.server.hostile
        hostile.log(request)
        try:
            answer = hostile.respond(request)
        except Exception as exc:  # a bug in a case: answer 599 so the test shows it
            answer = Answer(599, f"test server error: {exc!r}".encode())
        with contextlib.suppress(OSError):  # the client hung up: nothing to tell it
            _send(sock, answer, head_only=request.method == "HEAD", stopping=hostile.stopping)


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD_BYTES:
            raise ValueError("request head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _version = lines[0].decode("latin-1").split(" ", 2)
    raw_headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        raw_headers.append((name.strip(), value.strip()))
    headers = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in raw_headers}
    length = int(headers.get("content-length", "0") or 0)
    body = rest
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    split = urllib.parse.urlsplit(target)
    segments = [urllib.parse.unquote(s, errors="surrogatepass") for s in split.path.split("/")]
    query = dict(urllib.parse.parse_qsl(split.query))
    return Request(method, target, segments[1:], query, headers, raw_headers, body[:length])


def _head_bytes(answer: Answer) -> bytes:
    reason = REASONS.get(answer.status, "Whatever")
    lines = [f"HTTP/1.1 {answer.status} {reason}".encode()]
    lines += [name.encode("latin-1") + b": " + value for name, value in answer.headers]
    if answer.chunked:
        lines.append(b"Transfer-Encoding: chunked")
    elif answer.length == "auto":
        lines.append(b"Content-Length: %d" % len(answer.body))
    elif answer.length != "omit":
        lines.append(b"Content-Length: %d" % answer.length)
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _body_bytes(answer: Answer) -> bytes:
    if not answer.chunked:
        return answer.body
    pieces = [answer.body[i : i + 1000] for i in range(0, len(answer.body), 1000)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def _send(
    sock: socket.socket, answer: Answer, *, head_only: bool, stopping: threading.Event
) -> None:
    if answer.reset == "at_once":
        _reset(sock)
        return
    if answer.raw is not None:
        sock.sendall(answer.raw)
        return
    deadline = time.monotonic() + answer.drip_cap
    head = _head_bytes(answer)
    body = b"" if head_only or answer.status == 304 else _body_bytes(answer)
    if not _write(sock, head, answer.drip_head, deadline, stopping):
        return
    if answer.reset == "after_head":
        _reset(sock)
        return
    if answer.reset == "mid_body":
        sock.sendall(body[: len(body) // 2])
        _reset(sock)
        return
    _write(sock, body, answer.drip, deadline, stopping)


def _write(
    sock: socket.socket, data: bytes, drip: float, deadline: float, stopping: threading.Event
) -> bool:
    """Send `data`, one byte per `drip` seconds when dripping; False after a reset."""
    if drip <= 0:
        sock.sendall(data)
        return True
    for i in range(len(data)):
        if time.monotonic() > deadline or stopping.is_set():
            _reset(sock)
            return False
        sock.sendall(data[i : i + 1])
        stopping.wait(drip)
    return True


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a TCP reset, not an orderly end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
