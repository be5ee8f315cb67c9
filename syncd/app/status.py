"""`syncd status`: the daemon, the last runs, the mirror and the rate budget, read
without a lock and without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.config import Settings
from syncd.daemon.status import StatusReport, collect_status, open_index
from syncd.index.queries import IndexReader, IndexReading


def read_status(settings: Settings) -> StatusReport:
    """The root's status now; a root never synced has one too (an unhealthy one)."""
    # A current SQLite index is read with the standard library: no SQLAlchemy to import.
    index: IndexReading | None = IndexReader.open(settings.index_url)
    if index is None:
        index = open_index(settings.index_url)
    try:
        return collect_status(
            index,
            settings.state_dir,
            now=datetime.now(UTC),
            sync_seconds=settings.schedule.sync_seconds,
            stale_after_seconds=settings.stale_after_seconds,
            reserve=settings.budget.reserve,
        )
    finally:
        if index is not None:
            index.close()
