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

from syncd.errors import SyncdError
from syncd.index.store import SessionRecord, Store
from syncd.mirror.writer import Mirror
from syncd.sync.report import CycleReport
from syncd.sync.sessions import clear_old_file

logger = logging.getLogger(__name__)


def finish_pending_writes(
    store: Store, mirror: Mirror, clock: Callable[[], datetime], report: CycleReport
) -> None:
    """Finish or drop every pending write. One that cannot be finished now (its old file
    cannot be removed, say) is reported and kept for the next run; the others go on."""
    for intended in store.pending_writes():
        try:
            _finish(store, mirror, clock, intended)
        except SyncdError as exc:
            logger.error("session %s: finishing an interrupted write: %s", intended.id, exc.message)
            report.fail(f"session {intended.id}: finishing an interrupted write: {exc.message}")


def _finish(
    store: Store, mirror: Mirror, clock: Callable[[], datetime], intended: SessionRecord
) -> None:
    if mirror.file_sha256(intended.path) != intended.file_sha256:
        # Never landed, or changed since: the next plan sees the old state, and a file the
        # user changed at that path is kept aside by the next write (it is not syncd's).
        store.drop_pending_write(intended.id)
        return
    current = store.session(intended.id)
    if current is not None and current.path != intended.path:
        store.journal([current.path, intended.path])
        _clear_old_file(mirror, current, intended, clock)
    store.save_session(intended)
    logger.info("finished writing %s, which an interrupted run left", intended.path)


def _clear_old_file(
    mirror: Mirror, current: SessionRecord, intended: SessionRecord, clock: Callable[[], datetime]
) -> None:
    # Only what syncd wrote goes; anything the user did to it since (an edit, a mark the
    # new file does not carry) is kept beside the new file.
    replaceable = frozenset({current.file_sha256} if current.file_sha256 else ())
    clear_old_file(mirror, current.path, intended.path, replaceable, clock())
