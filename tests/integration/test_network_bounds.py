"""Every value from the network is bounded before it is used or saved.

A small HTTP/1.0 proxy in front of the devserver bends its answers the ways the devserver
cannot (absurd headers, no Content-Length, a drip, endless or hostile JSON). Each test
runs `syncd sync --once` through it, checks the exit code and that no traceback was
printed, then shows that a run against the healthy server converges.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import run
from syncd.cloud.budget import MAX_SERVER_WAIT, RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer
from syncd.index.store import BudgetRecord, Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport
from tests.integration.conftest import NO_WAIT, FakeClock, point_cli_at
from tests.integration.test_sync import seed_two_projects

DOCS_SESSION = "550e8402-0000-0000-0000-000000000003"  # the one session in proj_docs
# Headers the proxy sets itself, or that describe one hop only.
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass(frozen=True)
class Reply:
    """An answer as the proxy will send it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    sized: bool = True  # send Content-Length (else the body ends when the connection closes)
    pieces: Callable[[], Iterator[bytes]] | None = None  # a streamed body instead of `body`
    drip: float = 0.0  # seconds between single bytes of the body

    def with_headers(self, **values: str) -> Reply:
        names = {name.replace("_", "-").lower() for name in values}
        kept = tuple((k, v) for k, v in self.headers if k.lower() not in names)
        added = tuple((name.replace("_", "-"), value) for name, value in values.items())
        return replace(self, headers=kept + added)

    def json(self) -> Any:
        return json.loads(self.body)


Bend = Callable[[Reply], Reply]


@dataclass
class _Rule:
    method: str
    path: str
    bend: Bend
    times: int


@dataclass
class BendingProxy:
    upstream: DevServer
    url: str = ""  # set once the proxy listens
    rules: list[_Rule] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bend(self, path: str, bend: Bend, *, times: int = -1, method: str = "GET") -> None:
        """Change the answers to requests whose path matches `path` (a regex)."""
        with self.lock:
            self.rules.append(_Rule(method, path, bend, times))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def answer(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        self.user_agents.append(headers.get("User-Agent", ""))
        reply = self._fetch(method, path, headers)
        with self.lock:
            for rule in self.rules:
                if rule.method == method and re.search(rule.path, path):
                    rule.times -= 1
                    if rule.times == 0:
                        self.rules.remove(rule)
                    return rule.bend(reply)
        return reply

    def _fetch(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        upstream = urllib.parse.urlsplit(self.upstream.url)
        connection = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=10)
        try:
            forwarded = {
                k: v for k, v in headers.items() if k.lower() not in ("host", "connection")
            }
            connection.request(method, path, headers=forwarded)
            response = connection.getresponse()
            body = response.read()
            kept = tuple((k, v) for k, v in response.getheaders() if k.lower() not in _HOP)
            return Reply(response.status, kept, body)
        finally:
            connection.close()


class _Relay(BaseHTTPRequestHandler):
    server: _ProxyServer

    def do_GET(self) -> None:
        self._relay("GET")

    def do_HEAD(self) -> None:
        self._relay("HEAD")

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _relay(self, method: str) -> None:
        reply = self.server.proxy.answer(method, self.path, dict(self.headers.items()))
        lines = [f"HTTP/1.0 {reply.status} Bent"]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if reply.sized and reply.pieces is None:
            lines.append(f"Content-Length: {len(reply.body)}")
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            if method == "HEAD":
                return
            pieces = reply.pieces() if reply.pieces is not None else iter([reply.body])
            for piece in pieces:
                if reply.drip:
                    for byte in piece:
                        self.wfile.write(bytes([byte]))
                        time.sleep(reply.drip)
                else:
                    self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on this answer, as it should


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a drip still going must not hold the test up

    def __init__(self, proxy: BendingProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.proxy = proxy


@pytest.fixture
def proxy(server: DevServer) -> Iterator[BendingProxy]:
    bending = BendingProxy(server)
    httpd = _ProxyServer(bending)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    bending.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield bending
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: DevServer, proxy: BendingProxy
) -> Path:
    """`syncd` pointed at the proxy, with three sessions in two projects behind it."""
    seed_two_projects(server)
    return point_cli_at(monkeypatch, proxy.url, server.api_key, tmp_path / "mirror")


def sync_once(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["sync", "--once"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code != 70
    return code, out, err


def sync_at(proxy: BendingProxy, root: Path, now: float) -> CycleReport:
    """A sync whose clock says `now` (e.g. an hour from now), over the same proxy."""
    clock = FakeClock(now)
    budget = RateBudget(interactive=True, clock=clock)
    client = CloudClient(proxy.url, "test-key", retry=NO_WAIT, sleep=clock.sleep, budget=budget)
    with client, Store.open(database_url(root)) as store:
        return SyncEngine(client, store, Mirror(root)).run_once()


def database_url(root: Path) -> str:
    return f"sqlite:///{root / '.syncd' / 'index.db'}"


def saved_budget(root: Path) -> BudgetRecord:
    with Store.open(database_url(root)) as store:
        record = store.budget()
    assert record is not None
    return record


def session_files(root: Path) -> list[Path]:
    return [p for p in root.glob("*/*.md") if p.name != "INDEX.md"]


def refused(retry_after: str) -> Bend:
    """A 429 that keeps the upstream's X-RateLimit-* headers (every answer carries them)."""
    body = b'{"success": false, "error": "Too many requests"}'
    return lambda reply: replace(reply, status=429, body=body).with_headers(Retry_After=retry_after)


# --- Retry-After and the rate-limit headers ------------------------------------------------


@pytest.mark.parametrize("retry_after", ["9999999999", "Thu, 01 Jan 2099 00:00:00 GMT"])
def test_a_retry_after_of_centuries_holds_syncs_back_an_hour_at_most(
    retry_after: str, proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.bend("/projects$", refused(retry_after), times=1)
    code, out, err = sync_once(capsys)
    assert code == 1
    assert "retry after 3600 s" in out
    assert "longer than the API's hourly window" in err
    blocked = saved_budget(root).blocked_until
    assert blocked is not None
    assert blocked <= time.time() + MAX_SERVER_WAIT
    assert run(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    until = datetime.fromisoformat(status["budget"]["blocked_until"]).timestamp()
    assert until <= time.time() + MAX_SERVER_WAIT
    # An hour later the block is over: the next sync mirrors everything.
    report = sync_at(proxy, root, time.time() + MAX_SERVER_WAIT + 1)
    assert (report.new, report.failed, report.ok) == (3, 0, True)


def test_a_block_an_older_syncd_saved_for_centuries_heals_on_upgrade(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sync_once(capsys)[0] == 0
    now = time.time()
    with Store.open(database_url(root)) as store:
        store.save_budget(BudgetRecord(1000, 900, now + 600, now, now + 9_999_999_999))
    assert run(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    until = datetime.fromisoformat(status["budget"]["blocked_until"]).timestamp()
    assert until <= time.time() + MAX_SERVER_WAIT
    code, out, err = sync_once(capsys)
    assert code == 1
    assert "may go in 3600 s" in err + out
    assert "clamped" in err
    report = sync_at(proxy, root, time.time() + MAX_SERVER_WAIT + 1)
    assert (report.failed, report.ok) == (0, True)


def test_rate_limit_figures_of_300_digits_are_ignored_not_fatal(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "1" + "0" * 300
    bend: Bend = lambda reply: reply.with_headers(  # noqa: E731
        X_RateLimit_Limit=huge, X_RateLimit_Remaining=huge, X_RateLimit_Reset=huge
    )
    proxy.bend(".", bend)
    code, out, err = sync_once(capsys)
    assert code == 0
    assert "3 new" in out
    assert len(session_files(root)) == 3
    assert err.count("ignoring x-ratelimit") == 3  # one warning per header, not per request
    proxy.clear()
    assert sync_once(capsys)[0] == 0


def test_nothing_left_and_a_reset_in_the_past_lets_sync_once_finish(
    proxy: BendingProxy,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A wait that was not needed would show as a deferred run, not as a slow test.
    monkeypatch.setenv("SYNCD_BUDGET__MAX_INLINE_WAIT_SECONDS", "5")
    bend: Bend = lambda reply: reply.with_headers(  # noqa: E731
        X_RateLimit_Remaining="0", X_RateLimit_Reset=str(int(time.time()) - 100)
    )
    proxy.bend(".", bend)
    started = time.monotonic()
    code, out, _ = sync_once(capsys)
    assert code == 0
    assert "3 new" in out
    assert time.monotonic() - started < 20
    assert sync_once(capsys)[0] == 0


# --- bodies --------------------------------------------------------------------------------


def without_sizes(reply: Reply) -> Reply:
    """The listing with no markdownSize at all."""
    answer = reply.json()
    for session in answer["data"]["sessions"]:
        session.pop("markdownSize", None)
    return replace(reply, body=json.dumps(answer).encode())


def test_a_body_of_no_declared_size_stops_at_max_body_bytes(
    proxy: BendingProxy,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCD_MAX_BODY_BYTES", str(1024 * 1024))

    def endless() -> Iterator[bytes]:
        for _ in range(128):  # 8 MiB, then the connection closes: the end of the body
            yield b"x" * 65536

    proxy.bend("/sessions$", without_sizes)
    proxy.bend(f"{DOCS_SESSION}$", lambda reply: replace(reply, pieces=endless))
    code, out, err = sync_once(capsys)
    assert code == 1
    assert "2 new" in out
    assert f"Session {DOCS_SESSION}: body went past 1048576 bytes" in err
    assert "max_body_bytes" in err
    assert not list(root.rglob("*syncd-tmp*"))
    assert len(session_files(root)) == 2
    proxy.clear()
    code, out, _ = sync_once(capsys)
    assert (code, len(session_files(root))) == (0, 3)


def test_a_listed_size_unlike_a_cleanly_ended_body_is_only_a_warning(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def sizes_off_by_seven(reply: Reply) -> Reply:
        answer = reply.json()
        for session in answer["data"]["sessions"]:
            session["markdownSize"] -= 7  # longer than listed: a unit, not a cut
        return replace(reply, body=json.dumps(answer).encode())

    proxy.bend("/sessions$", sizes_off_by_seven)
    proxy.bend("/sessions/[^/]+$", lambda reply: replace(reply, sized=False))
    code, out, err = sync_once(capsys)
    assert code == 0
    assert "3 new" in out
    assert err.count("kept the body") == 3
    proxy.clear()
    code, out, _ = sync_once(capsys)
    assert (code, "3 unchanged" in out) == (0, True)


@pytest.mark.parametrize("target", [f"{DOCS_SESSION}$", "/projects/proj_docs/sessions$"])
def test_a_dripping_server_ends_that_item_in_bounded_time(
    target: str,
    proxy: BendingProxy,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One byte every 50 ms: far under 1 KiB/s, but every read well within the timeout.
    monkeypatch.setenv("SYNCD_TIMEOUT_SECONDS", "1")
    proxy.bend(target, lambda reply: replace(reply, drip=0.05))
    started = time.monotonic()
    code, out, err = sync_once(capsys)
    assert code == 1
    assert "slower than the minimum of 1024 bytes/s" in err
    assert "2 new" in out
    assert time.monotonic() - started < 20
    proxy.clear()
    code, out, _ = sync_once(capsys)
    assert (code, len(session_files(root))) == (0, 3)


# --- JSON answers --------------------------------------------------------------------------


def test_a_listing_nested_100000_deep_fails_that_listing_and_nothing_else(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = b'{"success": true, "data": {"sessions": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    proxy.bend("/projects/proj_docs/sessions$", lambda reply: replace(reply, body=deep))
    code, out, err = sync_once(capsys)
    assert code == 1
    assert "nested more than 64 levels deep" in err
    assert "2 new" in out
    proxy.clear()
    code, out, _ = sync_once(capsys)
    assert (code, len(session_files(root))) == (0, 3)


def test_a_list_answer_announced_beyond_the_cap_is_refused_unread(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.bend(
        "/projects$",
        lambda reply: replace(reply.with_headers(Content_Length=str(10**11)), sized=False),
    )
    code, _, err = sync_once(capsys)
    assert code == 1
    assert f"answer of {10**11} bytes, more than {64 * 1024 * 1024} allowed" in err
    proxy.clear()
    code, out, _ = sync_once(capsys)
    assert (code, "3 new" in out) == (0, True)


def test_requests_say_which_syncd_sends_them(
    proxy: BendingProxy, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sync_once(capsys)[0] == 0
    assert set(proxy.user_agents) == {f"syncd/{importlib.metadata.version('syncd')}"}
