"""`syncd db upgrade` and `syncd db rebuild`: the index's schema, and the index again from
the mirror's files."""

from __future__ import annotations

from syncd.config import Settings
from syncd.daemon.runtime import open_root
from syncd.errors import MirrorMissingError
from syncd.index import migrate
from syncd.index.store import Store
from syncd.sync.rebuild import RebuildReport, rebuild_index
from syncd.sync.searching import refresh_search_index


def upgrade_index(settings: Settings) -> tuple[str | None, str | None]:
    """Apply pending migrations; the revisions before and after."""
    with Store.open(settings.index_url, migrate_schema=False) as store:
        before = migrate.current_revision(store.engine)
        migrate.upgrade(store.engine)
        return before, migrate.current_revision(store.engine)


def rebuild_from_files(settings: Settings) -> RebuildReport:
    """Recreate the index from the front matter of the mirror's files, and the search
    index from their text, under the root's lock (RootLockedError while another syncd
    owns it)."""
    if not settings.mirror_root.is_dir():
        raise MirrorMissingError(str(settings.mirror_root))
    with open_root(settings) as (store, mirror):
        report = rebuild_index(mirror, store)
        # Each file is indexed once per version: what the search index already holds of
        # an unchanged file stays, a new or emptied index (a new database) fills.
        refresh_search_index(store, mirror)
        return report
