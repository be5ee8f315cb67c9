"""One sync cycle as `syncd sync --once` and the daemon run it: the sync itself, then a
git commit of everything journaled (after a failed cycle too, so what it wrote is not
left out), then the search index."""

from __future__ import annotations

from syncd.config import Settings
from syncd.daemon.archiving import commit_journal
from syncd.index.store import Store
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport

#: once: a one-shot sync; reconcile: the daemon's full listing with deletions;
#: incremental: the recent page first; anything else (drain): listings without deletions.
FULL_KINDS = ("once", "reconcile")


def run_cycle(settings: Settings, store: Store, engine: SyncEngine, kind: str) -> CycleReport:
    """Run one cycle of `kind` and what follows it; a dry run only plans."""
    if engine.options.dry_run:
        return _sync(engine, kind)
    try:
        report = _sync(engine, kind)
    except Exception:
        commit_journal(settings, store, engine.report)  # what it wrote still goes in
        raise
    commit_journal(settings, store, report)
    engine.update_search_index()
    return report


def cycle_line(kind: str, report: CycleReport, budget_left: int | None, seconds: float) -> str:
    """The one line a cycle is logged (and told to systemd) with."""
    budget = "unknown" if budget_left is None else str(budget_left)
    return f"{kind}: {report.summary()}; budget left {budget}; {seconds:.1f} s"


def worth_telling(report: CycleReport) -> bool:
    """Whether a cycle changed something, failed or stopped early: an INFO line. An idle
    cycle (everything unchanged) is logged at DEBUG, so an idle day adds nothing at INFO."""
    changed = report.new or report.updated or report.deleted or report.written or report.removed
    return bool(changed) or not report.ok or bool(report.deferred)


def _sync(engine: SyncEngine, kind: str) -> CycleReport:
    if kind in FULL_KINDS:
        return engine.run_once(kind)
    if kind == "incremental":
        return engine.run_incremental()
    return engine.run_listing(kind)
