"""`syncd status`: the daemon, the last runs, the mirror and the rate budget, read
without a lock and without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syncd.config import Settings
from syncd.daemon.state import DaemonSettings
from syncd.daemon.status import StatusReport, collect_status, open_index
from syncd.errors import SyncdError
from syncd.index.queries import IndexReader, IndexReading

if TYPE_CHECKING:
    from syncd.index.store import Store


def read_status(settings: Settings) -> StatusReport:
    """The root's status now; a root never synced has one too (an unhealthy one)."""
    # A current SQLite index is read with the standard library: no SQLAlchemy to import.
    index: IndexReading | None = IndexReader.open(settings.index_url)
    if index is None:
        index = open_index(settings.index_url)
        if index is not None:
            index = _owned(settings, index)
    try:
        return collect_status(
            index,
            settings.state_dir,
            now=datetime.now(UTC),
            sync_seconds=settings.schedule.sync_seconds,
            stale_after_seconds=settings.stale_after_seconds,
            reserve=settings.budget.reserve,
            configured=configured(settings),
        )
    finally:
        if index is not None:
            index.close()


def configured(settings: Settings) -> DaemonSettings:
    """What a daemon started with `settings` would run with (no key command is run: a
    PullStory key set in any of its three ways counts as pushing on)."""
    pullstory = settings.pullstory
    keyed = (pullstory.api_key, pullstory.api_key_file, pullstory.api_key_command)
    return DaemonSettings(
        sync_seconds=settings.schedule.sync_seconds,
        reconcile_seconds=settings.schedule.reconcile_seconds,
        push=any(key is not None for key in keyed),
        git=settings.git.enabled,
    )


def _owned(settings: Settings, store: Store) -> Store | None:
    """`store`, or None (closed) when it is an empty database (never synced);
    IndexOwnedError (closed) when it belongs to another root."""
    from syncd.index import migrate, owner

    try:
        if not migrate.has_schema(store.engine):
            store.close()
            return None
        owner.check(store.engine, settings.mirror_root, settings.state_dir)
    except SyncdError:
        store.close()
        raise
    return store
