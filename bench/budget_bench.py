"""What syncd spends from the API's rate budget, against the local devserver.

Run: .venv/bin/python bench/budget_bench.py [--idle-seconds 60]

1. Steady state, 20 projects x 100 sessions, nothing changed: requests per incremental
   cycle versus asking for every session conditionally (the naive approach).
2. Backlog: 600 sessions with the server limited to 100 requests per 60 s window, on a
   simulated clock: windows used versus the minimum, 429s, share of the usable budget used.
3. CPU used by an idle `syncd run` over a minute.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.devserver import DevServer
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine

NO_RETRY_WAIT = RetryPolicy(base_delay=0.0, max_delay=0.0)


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def seed(server: DevServer, projects: int, per_project: int) -> None:
    for p in range(projects):
        project_id = server.add_project(f"Project {p}", project_id=f"proj_{p:02d}")
        for s in range(per_project):
            server.put_session(
                project_id, session_id=f"{p:02d}-{s:04d}", name=f"s{s}", markdown=f"# {s}\n"
            )


def steady_state(work: Path) -> None:
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 20, 100)
        root = work / "steady"
        database = f"sqlite:///{root / '.syncd' / 'index.db'}"
        with (
            CloudClient(server.url, "k", retry=NO_RETRY_WAIT) as client,
            Store.open(database) as store,
        ):
            SyncEngine(client, store, Mirror(root)).run_once()
            server.clear_requests()
            report = SyncEngine(client, store, Mirror(root)).run_incremental()
            incremental = len(server.requests)
            server.clear_requests()
            started = time.perf_counter()
            naive = naive_conditional_gets(client, store)
            naive_seconds = time.perf_counter() - started
        assert report.unchanged == 2000
        print("steady state, 20 projects x 100 sessions, nothing changed:")
        print(f"  incremental cycle: {incremental} request(s)")
        print(f"  naive conditional GET of every session: {naive} requests ({naive_seconds:.1f} s)")
        print(f"  ratio naive / incremental: {naive / incremental:.0f}x")


def naive_conditional_gets(client: CloudClient, store: Store) -> int:
    sessions = store.sessions()
    before = client.stats.requests
    projects = client.list_projects().projects
    for project in projects:
        listing = client.list_sessions(project.id)
        assert listing is not None
        for summary in listing.sessions:
            etag = sessions[summary.id].etag
            with client.session_body(project.id, summary.id, if_none_match=etag) as body:
                assert body is None
    return client.stats.requests - before


def backlog(work: Path) -> None:
    clock = SimulatedClock()
    sent_at: list[float] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent_at.append(clock())
            return super().handle_request(request)

    limit, window = 100, 60.0
    with DevServer(
        api_key="k", port=0, rate_limit=limit, window_seconds=window, clock=clock
    ) as server:
        seed(server, 1, 600)
        root = work / "backlog"
        database = f"sqlite:///{root / '.syncd' / 'index.db'}"
        budget = RateBudget(reserve=0.1, interactive=False, clock=clock)
        client = CloudClient(
            server.url,
            "k",
            retry=NO_RETRY_WAIT,
            sleep=clock.sleep,
            budget=budget,
            transport=Recording(),
            max_budget_wait=window,
        )
        with client, Store.open(database) as store:
            report = SyncEngine(client, store, Mirror(root)).run_once()
        statuses = [r.status for r in server.requests]
    start = sent_at[0]
    windows = {int((t - start) // window) for t in sent_at}
    minimum = math.ceil(600 / (limit * 0.9))
    usable = len(windows) * limit * 0.9
    print("backlog, 600 sessions, 100 requests per 60 s window, 10% reserve (simulated clock):")
    print(f"  result: {report.summary()}")
    print(f"  requests: {len(sent_at)} over {sent_at[-1] - start:.0f} s")
    print(f"  windows used: {len(windows)} (minimum ceil(600 / (100 x 0.9)) = {minimum})")
    print(f"  429s received: {statuses.count(429)}")
    print(f"  share of the usable budget used: {len(sent_at) / usable:.0%}")


def idle_cpu(work: Path, seconds: float) -> None:
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        seed(server, 2, 10)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")} | {
            "SYNCD_BASE_URL": server.url,
            "SYNCD_API_KEY": "k",
            "SYNCD_ROOT": str(work / "idle"),
            "SYNCD_LOG_LEVEL": "WARNING",
        }
        with subprocess.Popen([sys.executable, "-m", "syncd", "run"], env=env) as process:
            # Let start-up and the first reconciliation finish before measuring.
            server.wait_for_requests(lambda log: len(log) >= 1 + 2 + 20, timeout=60)
            time.sleep(2)
            before = cpu_seconds(process.pid)
            time.sleep(seconds)
            used = cpu_seconds(process.pid) - before
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    print(f"idle daemon: {used:.3f} s of CPU in {seconds:.0f} s = {used / seconds:.3%} of a core")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-budget-") as scratch:
        work = Path(scratch)
        steady_state(work)
        backlog(work)
        idle_cpu(work, args.idle_seconds)


if __name__ == "__main__":
    main()
