"""Which cycles the daemon's log tells at INFO: those that changed, failed or stopped early."""

from __future__ import annotations

import pytest

from syncd.daemon.cycle import cycle_line, worth_telling
from syncd.sync.report import CycleReport


def test_an_idle_cycle_is_not_worth_an_info_line() -> None:
    assert not worth_telling(CycleReport(unchanged=41))


@pytest.mark.parametrize(
    "report",
    [
        CycleReport(new=1, unchanged=40),
        CycleReport(updated=2, unchanged=39),
        CycleReport(deleted=1, unchanged=40),
        CycleReport(written={"app/INDEX.md"}, unchanged=41),  # a page rewritten, no session
        CycleReport(removed={"old/INDEX.md"}, unchanged=41),
    ],
)
def test_a_cycle_that_changed_something_is(report: CycleReport) -> None:
    assert worth_telling(report)


def test_a_failed_interrupted_or_halted_cycle_is() -> None:
    failed = CycleReport(unchanged=40)
    failed.fail("App / s1: HTTP 500 after 3 attempts")
    aborted = CycleReport()
    aborted.abort("the cloud is unreachable")
    interrupted = CycleReport(unchanged=3)
    interrupted.interrupt("stopping on request")
    halted = CycleReport(unchanged=3)
    halted.halt("the rate budget is spent", pending=12, resume_at=1_800_000_000.0)
    assert all(worth_telling(r) for r in (failed, aborted, interrupted, halted))


def test_the_line_says_kind_counts_budget_and_time() -> None:
    report = CycleReport(updated=2, unchanged=39)
    assert cycle_line("incremental", report, 912, 0.43) == (
        "incremental: 0 new, 2 updated, 39 unchanged, 0 failed; budget left 912; 0.4 s"
    )
    assert cycle_line("reconcile", CycleReport(), None, 1.0).endswith("budget left unknown; 1.0 s")
