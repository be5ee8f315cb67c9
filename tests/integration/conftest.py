"""Integration fixtures: a real devserver on 127.0.0.1 and a real mirror in a temp dir."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.devserver import DevServer
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport
from tests.integration import postgres
from tests.integration.postgres import postgres_url

__all__ = ["postgres_url"]  # the fixture, for every integration test

NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)


class FakeClock:
    """Epoch seconds that move only when a sleep asks them to: waits cost no real time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Time passing without anyone waiting for it."""
        self.now += seconds


class FakeSleep:
    """Records the waits a client asked for instead of sleeping through them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer(api_key="test-key", port=0, rate_limit=None) as running:
        yield running


@dataclass
class Harness:
    server: DevServer
    root: Path
    sleep: Callable[[float], None]
    clock: Callable[[], float] = time.time
    interactive: bool = True
    index_url: str | None = None  # default: the root's own SQLite file

    @property
    def database_url(self) -> str:
        return self.index_url or f"sqlite:///{self.root / '.syncd' / 'index.db'}"

    def sync(self, api_key: str | None = None) -> CycleReport:
        client = CloudClient(
            self.server.url,
            api_key or self.server.api_key,
            retry=NO_WAIT,
            sleep=self.sleep,
            budget=RateBudget(interactive=self.interactive, clock=self.clock),
        )
        with client, Store.open(self.database_url) as store:
            return SyncEngine(client, store, Mirror(self.root)).run_once()

    def store(self) -> Store:
        return Store.open(self.database_url)

    def files(self) -> dict[str, bytes]:
        """Every file under the root except syncd's own folder, by relative path."""
        return {
            p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and ".syncd" not in p.relative_to(self.root).parts
        }

    def session_files(self) -> dict[str, bytes]:
        return {
            k: v
            for k, v in self.files().items()
            if k.count("/") == 1 and not k.endswith("INDEX.md")
        }

    def mtimes(self) -> dict[str, int]:
        return {
            p.relative_to(self.root).as_posix(): p.stat().st_mtime_ns
            for p in self.root.rglob("*")
            if p.is_file() and ".syncd" not in p.relative_to(self.root).parts
        }


@pytest.fixture
def harness(server: DevServer, tmp_path: Path) -> Harness:
    return Harness(server, tmp_path / "mirror", FakeSleep())


@pytest.fixture(params=postgres.BACKENDS)
def any_harness(request: pytest.FixtureRequest, server: DevServer, tmp_path: Path) -> Harness:
    """`harness` on each backend: SQLite, then PostgreSQL (see postgres.py)."""
    root = tmp_path / "mirror"
    url = postgres.database_url(request, request.param, root / ".syncd" / "index.db")
    return Harness(server, root, FakeSleep(), index_url=url)


def point_cli_at(monkeypatch: pytest.MonkeyPatch, url: str, api_key: str, root: Path) -> Path:
    """`syncd` commands run in-process talk to this server and mirror into `root`."""
    monkeypatch.setenv("SYNCD_BASE_URL", url)
    monkeypatch.setenv("SYNCD_API_KEY", api_key)
    monkeypatch.setenv("SYNCD_ROOT", str(root))
    monkeypatch.setenv("SYNCD_RETRY__BASE_DELAY_SECONDS", "0")
    return root


@pytest.fixture
def cli_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: DevServer) -> Path:
    """SYNCD_* pointed at the devserver and a mirror root that does not exist yet."""
    return point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
