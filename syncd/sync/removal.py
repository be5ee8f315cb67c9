"""Remove a session the cloud no longer lists, once its own request confirms it is gone.

`archive` moves the file to `<root>/.trash/<project>/`, `delete` removes it (a file the
user edited is trashed instead: edits are never destroyed), `keep` leaves it in place
marked `deleted_in_cloud`. The file goes before the index row, so a crash in between
leaves a row whose file is gone, which the next reconciliation removes again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from syncd.cloud.client import CloudClient
from syncd.cloud.models import Project
from syncd.config import DeletionMode
from syncd.index.store import SessionRecord, Store
from syncd.mirror.names import TRASH_DIR
from syncd.mirror.writer import Mirror
from syncd.sync.localedits import FileState, classify
from syncd.sync.plan import Remove
from syncd.sync.report import CycleReport
from syncd.sync.sessions import SessionSync

logger = logging.getLogger(__name__)


@dataclass
class Removal:
    client: CloudClient
    store: Store
    mirror: Mirror
    sessions: SessionSync
    clock: Callable[[], datetime]

    def remove(self, step: Remove, report: CycleReport) -> bool:
        """Confirm the session is gone (404) and remove it; False when it still answers
        (it moved, or the listing was stale), so its project is listed in full again."""
        record = step.record
        if self.client.session_exists(record.project_id, record.id):
            logger.info("session %s is missing from its listing but still answers", record.id)
            return False
        if step.mode == DeletionMode.KEEP:
            self._keep(record, report)
        else:
            self._trash(record, step.mode)
            self.store.delete_session(record.id)
            report.dropped(record.path)
        report.deleted += 1
        report.changes.append(("deleted", record.project_id, record.name or record.id))
        return True

    def _keep(self, record: SessionRecord, report: CycleReport) -> None:
        """Keep a session deleted in the cloud: in the mirror, the index and search, marked
        with when (in its front matter too, unless the user edited the file), so it is
        never a deletion candidate again and a rebuild of the index still knows."""
        marked = dataclasses.replace(
            record, cloud_deleted_at=self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        project = self.store.projects().get(record.project_id)
        owner = Project(id=project.id, name=project.name) if project else None
        # The rewrite leaves a file the user edited or removed as it is (and returns None).
        written = self.sessions.refresh_file(owner, marked, report) if owner else None
        if written is None:
            self.store.save_session(marked)
        logger.info("session %s was deleted in the cloud; kept %s", record.id, record.path)

    def _trash(self, record: SessionRecord, mode: str) -> None:
        # A link in its place is moved to the trash as the link itself: never followed.
        if not self.mirror.occupied(record.path):
            logger.info("session %s was deleted in the cloud; its file was gone", record.id)
            return
        # Only `delete` needs to know whether the user edited the file (hashing it); a link
        # or anything else that is not a regular file counts as edited.
        if (
            mode == DeletionMode.DELETE
            and classify(self.mirror.inspect(record.path), record).state is not FileState.EDITED
        ):
            self.mirror.remove(record.path)
            logger.info("session %s was deleted in the cloud; removed %s", record.id, record.path)
            return
        # archive (and delete of a file the user edited: edits are never destroyed)
        target = PurePosixPath(TRASH_DIR) / record.path
        if self.mirror.occupied(target.as_posix()):
            stamp = self.clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = target.with_name(f"{target.stem}.{stamp}.md")
        self.mirror.move(record.path, target.as_posix())
        logger.info("session %s was deleted in the cloud; moved to %s", record.id, target)
