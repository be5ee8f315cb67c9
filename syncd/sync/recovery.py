"""Finish the writes a crash cut short, before a cycle plans anything.

A session's new file is written to a temp file, its index row kept as a pending write,
then the file is renamed into place and the row saved. A crash between the rename and
the row leaves a file the index does not know (a new session), or knows under its old
path (a moved one). Here each pending write whose file landed with exactly the bytes it
names is finished as the step would have finished it: the old file goes (a file the user
edited is kept beside the new one) and the row is saved. A pending write whose file never
landed, or that the user changed since, is dropped: the next plan sees the old state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from syncd.index.store import SessionRecord, Store
from syncd.mirror.writer import Mirror
from syncd.sync.localedits import FileState, classify
from syncd.sync.sessions import free_local_copy_name, remove_old_file

logger = logging.getLogger(__name__)


def finish_pending_writes(store: Store, mirror: Mirror, clock: Callable[[], datetime]) -> int:
    """Finish or drop every pending write; returns how many were finished."""
    finished = 0
    for intended in store.pending_writes():
        if mirror.file_sha256(intended.path) != intended.file_sha256:
            store.drop_pending_write(intended.id)
            continue
        current = store.session(intended.id)
        if current is not None and current.path != intended.path:
            store.journal([current.path, intended.path])
            _clear_old_file(mirror, current, intended, clock)
        store.save_session(intended)
        finished += 1
        logger.info("finished writing %s, which an interrupted run left", intended.path)
    return finished


def _clear_old_file(
    mirror: Mirror, current: SessionRecord, intended: SessionRecord, clock: Callable[[], datetime]
) -> None:
    if not mirror.exists(current.path):
        return
    if classify(mirror.inspect(current.path), current).state is FileState.EDITED:
        kept = free_local_copy_name(mirror, intended.path, clock())
        mirror.move(current.path, kept)
        logger.warning("%s was edited locally: kept it as %s", current.path, kept)
        return
    remove_old_file(mirror, current.path, intended.path)
