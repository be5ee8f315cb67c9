"""Brief building over the corpus, and 50 marked sessions pushed end to end.

Run: .venv/bin/python bench/push_bench.py

1. Every file of ../shared/corpus/specstory through the brief builder: files/s and the
   largest file's time.
2. 50 sessions marked at once, pushed to the local PullStory server under its documented
   limits (10 POSTs, 120 GETs a minute) on a simulated clock: POSTs sent (target 50, no
   duplicate), 429s received (target 0), simulated minutes until every story is ready.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the local PullStory server lives with the tests

from syncd.brief import Brief, build_brief  # noqa: E402 - after the path that finds the fake
from syncd.cloud.client import CloudClient  # noqa: E402
from syncd.devserver import DevServer  # noqa: E402
from syncd.index.store import Store  # noqa: E402
from syncd.mirror.writer import Mirror  # noqa: E402
from syncd.push.pullstory import PullStoryClient  # noqa: E402
from syncd.push.queue import PushQueue  # noqa: E402
from syncd.push.selection import handle_changed_files  # noqa: E402
from syncd.sync.engine import SyncEngine  # noqa: E402
from tests.fakes.pullstory import PullStoryServer  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "specstory"
TOKEN = "ps_live_bench"


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def corpus_briefs() -> list[tuple[str, bytes]]:
    files = sorted(p for p in CORPUS.glob("*.md") if p.name != "FORMAT.md")
    texts = [(p.name, p.read_bytes()) for p in files]
    started = time.perf_counter()
    timings = []
    made = 0
    for name, data in texts:
        one = time.perf_counter()
        result = build_brief(data.decode("utf-8", errors="replace"), name=name)
        timings.append((time.perf_counter() - one, len(data), name))
        made += isinstance(result, Brief)
    total = time.perf_counter() - started
    largest = max(timings, key=lambda t: t[1])
    megabytes = sum(len(d) for _, d in texts) / 1e6
    reasons = len(texts) - made
    print(f"brief building over the corpus: {len(texts)} files, {megabytes:.1f} MB")
    print(f"  {len(texts) / total:.0f} files/s ({total:.2f} s); {made} briefs, {reasons} reasons")
    print(f"  largest file ({largest[1] / 1e6:.2f} MB, {largest[2]}): {largest[0] * 1000:.0f} ms")
    return [(n, d) for n, d in texts]


def fifty_marked(work: Path, texts: list[tuple[str, bytes]]) -> None:
    clock = SimulatedClock()
    with (
        DevServer(api_key="k", port=0, rate_limit=None) as cloud,
        PullStoryServer(TOKEN, port=0, clock=clock, generation_seconds=90.0) as stories,
    ):
        cloud.add_project("Bench", project_id="proj_bench")
        usable = [
            d
            for n, d in texts
            if isinstance(build_brief(d.decode("utf-8", "replace"), name=n), Brief)
        ]
        for n in range(50):
            body = usable[n % len(usable)] + f"\n\nVariant {n}: `src/module_{n}.py`\n".encode()
            cloud.put_session(
                "proj_bench", session_id=f"{n:04d}-bench", name=f"Session {n}", markdown=body
            )
        root = work / "mirror"
        database = f"sqlite:///{root / '.syncd' / 'index.db'}"
        with Store.open(database) as store, CloudClient(cloud.url, "k") as client:
            SyncEngine(client, store, Mirror(root)).run_once()
            paths = []
            for record in store.sessions().values():  # the user marks all 50 at once
                path = root / record.path
                path.write_bytes(
                    path.read_bytes().replace(b"\n---\n", b"\npullstory: true\n---\n", 1)
                )
                paths.append(path)
            queued = handle_changed_files(store, Mirror(root), paths, clock())
            started = clock()
            with PullStoryClient(stories.url, TOKEN) as ps:
                queue = PushQueue(store, ps, clock=clock, sleep=clock.sleep)
                while any(s.status in ("queued", "generating") for s in store.stories()):
                    queue.drain(max_seconds=3600)
            statuses = Counter(s.status for s in store.stories())
        posts = [r for r in stories.requests if r.method == "POST"]
        bodies = [str(sorted(r.body.items())) if isinstance(r.body, dict) else "" for r in posts]
        codes = Counter(r.status for r in stories.requests)
    print("50 sessions marked at once, pushed under the documented limits (simulated clock):")
    print(f"  queued: {len(queued)}; stories: {dict(statuses)}")
    print(f"  POSTs sent: {len(posts)} (duplicates: {len(bodies) - len(set(bodies))})")
    gets = sum(r.method == "GET" for r in stories.requests)
    print(f"  GETs sent: {gets}; 429s received: {codes.get(429, 0)}")
    print(f"  all ready after {(clock() - started) / 60:.1f} simulated minutes")


def main() -> None:
    if not CORPUS.is_dir():
        raise SystemExit(f"corpus not found at {CORPUS}")
    texts = corpus_briefs()
    with tempfile.TemporaryDirectory(prefix="syncd-push-") as scratch:
        fifty_marked(Path(scratch), texts)


if __name__ == "__main__":
    main()
