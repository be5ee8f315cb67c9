"""What `syncd sync` shows while the rate budget holds it: the bar says it waits, until
when, and how long the whole backlog takes at the budget's rate, instead of freezing.
A devserver with a budget of 4 an hour and a clock that moves only when the client waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.progress import TaskID

from syncd.app.progress import BudgetWait, budget_wait_text
from syncd.app.syncing import _steps_to
from syncd.cli.mirroring import _Bar
from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from tests.integration.conftest import NO_WAIT, FakeClock

HOUR = 3600.0
SESSIONS = 10
BODY = "# a session\n" + "A paragraph of the conversation, long enough to count.\n" * 40


@dataclass
class Display:
    """A ProgressDisplay that remembers what it was told, in order."""

    told: list[tuple[str, object]] = field(default_factory=list)

    def step(self, done: int, total: int, label: str, received: int) -> None:
        self.told.append(("step", (done, total, received)))

    def budget_wait(self, wait: BudgetWait) -> None:
        self.told.append(("wait", wait))

    def waits(self) -> list[BudgetWait]:
        return [event for kind, event in self.told if isinstance(event, BudgetWait)]


def test_a_spent_budget_is_announced_with_its_reset_and_the_backlog_eta(tmp_path: Path) -> None:
    clock = FakeClock()
    display = Display()
    with DevServer(api_key="k", port=0, rate_limit=4, window_seconds=HOUR, clock=clock) as server:
        server.add_project("App", project_id="proj_app")
        for n in range(SESSIONS):
            server.put_session("proj_app", session_id=f"{n:08d}-s", name=f"s{n}", markdown=BODY)
        client = CloudClient(
            server.url,
            "k",
            retry=NO_WAIT,
            sleep=clock.sleep,
            budget=RateBudget(interactive=True, clock=clock),
            max_budget_wait=HOUR,  # a terminal that waits rather than stops
            on_budget_wait=display.budget_wait,
        )
        start = clock()
        with client, Store.open(f"sqlite:///{tmp_path / 'index.db'}") as store:
            engine = SyncEngine(
                client, store, Mirror(tmp_path / "mirror"), progress=_steps_to(display, client)
            )
            report = engine.run_once()

    assert (report.new, report.failed, report.halted) == (SESSIONS, 0, None)
    waits = display.waits()
    # 12 requests (projects, the listing, ten bodies) at 4 a window: two waits for a reset.
    assert [round(wait.until - start) for wait in waits] == [HOUR, 2 * HOUR]
    assert clock.waits == [wait.seconds for wait in waits]  # each announced before it began
    assert [wait.per_hour for wait in waits] == [4, 4]
    first, second = waits
    assert (first.backlog, second.backlog) == (8, 4)  # the steps still to go at each wait
    assert first.backlog_seconds() == 2 * HOUR
    until = datetime.fromtimestamp(first.until).astimezone()
    assert budget_wait_text(first) == (
        f"waiting for the rate budget until {until:%H:%M} (resets hourly); "
        "8 requests left: about 2 h at 4 an hour"
    )
    # The bar went on after each wait: steps, with the bytes received growing.
    steps = [event for kind, event in display.told if kind == "step"]
    assert [done for done, _, _ in steps] == list(range(1, SESSIONS + 1))  # type: ignore[misc]
    received = [got for _, _, got in steps]  # type: ignore[misc]
    assert received == sorted(received)
    assert received[-1] > (SESSIONS - 1) * len(BODY)  # the listings and nine bodies
    kinds = [kind for kind, _ in display.told]
    assert kinds.index("wait") > kinds.index("step")  # the first reset comes mid-sync


def test_short_pacing_is_not_announced(tmp_path: Path) -> None:
    """The daemon spreads a backlog over the window in small gaps: no event for those."""
    clock = FakeClock()
    announced: list[BudgetWait] = []
    with DevServer(api_key="k", port=0, rate_limit=400, window_seconds=60.0, clock=clock) as server:
        server.add_project("App", project_id="proj_app")
        for n in range(SESSIONS):
            server.put_session("proj_app", session_id=f"{n:08d}-s", name=f"s{n}", markdown=BODY)
        client = CloudClient(
            server.url,
            "k",
            retry=NO_WAIT,
            sleep=clock.sleep,
            budget=RateBudget(interactive=False, clock=clock),
            on_budget_wait=announced.append,
        )
        with client, Store.open(f"sqlite:///{tmp_path / 'index.db'}") as store:
            report = SyncEngine(client, store, Mirror(tmp_path / "mirror")).run_once()
    assert report.new == SESSIONS
    assert announced == []


class RecordingBar:
    """Stands in for rich's Progress: the fields of each update."""

    def __init__(self) -> None:
        self.updates: list[dict[str, object]] = []

    def update(self, task: object, **fields: object) -> None:
        self.updates.append(fields)


def test_the_terminal_bar_shows_the_wait_then_goes_on_with_the_steps() -> None:
    bar = RecordingBar()
    shown = _Bar(bar, TaskID(0))  # type: ignore[arg-type]
    shown.step(3, 20, "App / s3", 2_500_000)
    wait = BudgetWait(until=1_800_003_600.0, seconds=600.0, backlog=17, per_hour=900.0)
    shown.budget_wait(wait)
    shown.step(4, 20, "App / s4", 2_600_000)
    assert bar.updates[0] == {
        "completed": 3,
        "total": 20,
        "description": "App / s3",
        "received": "2.5 MB",
    }
    assert bar.updates[1] == {"description": budget_wait_text(wait)}
    assert bar.updates[2]["description"] == "App / s4"
