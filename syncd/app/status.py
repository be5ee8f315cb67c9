"""`syncd status`: the daemon, the last runs, the mirror and the rate budget, read
without a lock and without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.config import Settings
from syncd.daemon.status import StatusReport, collect_status, open_index


def read_status(settings: Settings) -> StatusReport:
    """The root's status now; a root never synced has one too (an unhealthy one)."""
    store = open_index(settings.index_url)
    try:
        return collect_status(
            store,
            settings.state_dir,
            now=datetime.now(UTC),
            sync_seconds=settings.schedule.sync_seconds,
            stale_after_seconds=settings.stale_after_seconds,
            reserve=settings.budget.reserve,
        )
    finally:
        if store is not None:
            store.close()
