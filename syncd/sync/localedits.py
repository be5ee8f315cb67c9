"""Decide whether a mirrored file was edited by its user since syncd wrote it. Pure.

syncd remembers the sha256 of every file it writes. A file that no longer matches is
either only *marked* (the user added `pullstory: true`, which syncd keeps on later
rewrites) or *edited* (anything else), in which case the user's copy is kept beside the
new version as `<name>.local-<timestamp>.md`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from syncd.mirror.frontmatter import (
    FrontMatterError,
    SessionHeader,
    header_for,
    header_from_mapping,
)
from syncd.mirror.writer import FileInspection
from syncd.model import SessionRecord

_KNOWN_KEYS = frozenset(field.name for field in dataclasses.fields(SessionHeader))


class FileState(Enum):
    MISSING = "missing"
    PRISTINE = "pristine"  # exactly what syncd wrote
    MARKED = "marked"  # what syncd wrote plus user-owned keys
    EDITED = "edited"  # anything else: the user's copy must be kept


@dataclass(frozen=True)
class Verdict:
    state: FileState
    pullstory: bool | None = None
    file_sha256: str | None = None  # of the file as it was read (None when missing)

    @property
    def body_reusable(self) -> bool:
        """Whether the body on disk is still the one the cloud sent."""
        return self.state in (FileState.PRISTINE, FileState.MARKED)

    def replaceable(self, record: SessionRecord) -> frozenset[str]:
        """The file contents syncd may replace or remove: what it wrote, and that plus the
        user's mark (which the new version carries over); never an edit."""
        shas = {record.file_sha256} if record.file_sha256 else set()
        if self.body_reusable and self.file_sha256:
            shas.add(self.file_sha256)
        return frozenset(shas)


def classify(inspection: FileInspection | None, record: SessionRecord) -> Verdict:
    if inspection is None:
        return Verdict(FileState.MISSING)
    if not inspection.regular:
        return Verdict(FileState.EDITED, None, inspection.file_sha256)  # a link: never syncd's
    mark, sha = _pullstory_mark(inspection.front_matter), inspection.file_sha256
    if inspection.file_sha256 == record.file_sha256:
        return Verdict(FileState.PRISTINE, mark, sha)
    if inspection.body_sha256 != record.body_sha256 or inspection.front_matter is None:
        return Verdict(FileState.EDITED, mark, sha)
    if set(inspection.front_matter) - _KNOWN_KEYS:
        return Verdict(FileState.EDITED, mark, sha)  # the user added keys of their own
    try:
        header = header_from_mapping(inspection.front_matter)
    except FrontMatterError:
        return Verdict(FileState.EDITED, mark, sha)
    # Same body; the front matter must say what syncd wrote, apart from the user's keys.
    # (project and source_url are display values syncd rewrites anyway.)
    expected = header_for(record, header.project, record.etag, header.source_url)
    # The story URL and the deletion mark are syncd's, written after the fact.
    on_disk = dataclasses.replace(header, pullstory=None, pullstory_url=None, deleted_in_cloud=None)
    if on_disk == expected:
        return Verdict(FileState.MARKED, mark, sha)
    return Verdict(FileState.EDITED, mark, sha)


def _pullstory_mark(mapping: dict[str, object] | None) -> bool | None:
    value = (mapping or {}).get("pullstory")
    return value if isinstance(value, bool) else None
