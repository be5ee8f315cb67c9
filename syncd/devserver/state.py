"""The devserver's data: projects and sessions in memory, with their ETags, under one lock."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from syncd.devserver.body import MarkdownBody

OWNER_ID = "user_devserver"


class NotFoundError(LookupError):
    """An unknown project or session id; the message names it."""

    def __init__(self, kind: str, ident: str) -> None:
        self.message = f"{kind} not found: {ident}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    icon: str | None
    color: str | None
    created_ms: int
    updated_ms: int


@dataclass(frozen=True)
class Session:
    """One stored session; replaced as a whole on every change, so a reference is a snapshot."""

    id: str
    project_id: str
    name: str
    body: MarkdownBody
    raw_data_size: int
    created_ms: int
    updated_ms: int
    started_ms: int | None
    ended_ms: int | None
    metadata: Mapping[str, object]
    etag: str
    fingerprint: str
    revision: int


def default_metadata() -> dict[str, object]:
    return {
        "clientName": "syncd-devserver",
        "clientVersion": "0.1.0",
        "agentName": None,
        "deviceId": None,
        "gitBranches": [],
        "llmModels": [],
        "tags": [],
    }


def _fingerprint(
    name: str,
    body: MarkdownBody,
    metadata: Mapping[str, object],
    times: tuple[int | None, ...],
    raw_data_size: int,
) -> str:
    described = json.dumps(
        [name, body.fingerprint, body.size, metadata, times, raw_data_size],
        sort_keys=True,
        ensure_ascii=False,
    )
    # surrogatepass: a name may hold a lone surrogate (tests send what JSON allows).
    return hashlib.sha1(described.encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    """Projects and their sessions. Every method is atomic; returned objects are snapshots."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._projects: dict[str, Project] = {}
        self._sessions: dict[str, dict[str, Session]] = {}
        self._revision = 0

    # Projects

    def add_project(self, project_id: str, name: str, now_ms: int) -> Project:
        """Create the project, or rename it when the id exists already."""
        with self._lock:
            existing = self._projects.get(project_id)
            if existing is not None:
                return self.update_project(project_id, {"name": name}, now_ms)
            project = Project(project_id, name, None, None, now_ms, now_ms)
            self._projects[project_id] = project
            self._sessions[project_id] = {}
            return project

    def update_project(
        self, project_id: str, changes: Mapping[str, str | None], now_ms: int
    ) -> Project:
        """Apply name/icon/color changes; updatedAt moves only if something changed."""
        with self._lock:
            project = self.project(project_id)
            name = changes.get("name", project.name)
            changed = replace(
                project,
                name=project.name if name is None else name,
                icon=changes.get("icon", project.icon),
                color=changes.get("color", project.color),
            )
            if changed != project:
                changed = replace(changed, updated_ms=now_ms)
                self._projects[project_id] = changed
            return changed

    def delete_project(self, project_id: str) -> Project:
        """Remove the project and all its sessions."""
        with self._lock:
            project = self.project(project_id)
            del self._projects[project_id]
            del self._sessions[project_id]
            return project

    def project(self, project_id: str) -> Project:
        with self._lock:
            project = self._projects.get(project_id)
            if project is None:
                raise NotFoundError("Project", project_id)
            return project

    def projects(self) -> list[Project]:
        """Every project, in creation order."""
        with self._lock:
            return list(self._projects.values())

    # Sessions

    def put_session(
        self,
        project_id: str,
        session_id: str,
        *,
        name: str,
        body: MarkdownBody,
        now_ms: int,
        created_ms: int | None = None,
        started_ms: int | None = None,
        ended_ms: int | None = None,
        metadata: Mapping[str, object] | None = None,
        raw_data_size: int | None = None,
        updated_ms: int | None = None,
    ) -> Session:
        """Create or replace a session; None keeps the stored value (or a default on creation).

        updatedAt (set to `updated_ms`, else `now_ms`), the revision and the ETag change only
        when name, content, metadata, sizes or timestamps actually changed.
        """
        with self._lock:
            sessions = self._sessions_of(project_id)
            old = sessions.get(session_id)
            started: int | None
            if old is None:
                created = now_ms if created_ms is None else created_ms
                started = created if started_ms is None else started_ms
                ended = ended_ms
                meta = default_metadata() if metadata is None else metadata
                raw_size = 0 if raw_data_size is None else raw_data_size
            else:
                created = old.created_ms if created_ms is None else created_ms
                started = old.started_ms if started_ms is None else started_ms
                ended = old.ended_ms if ended_ms is None else ended_ms
                meta = old.metadata if metadata is None else metadata
                raw_size = old.raw_data_size if raw_data_size is None else raw_data_size
            meta = json.loads(json.dumps(meta))  # a private, JSON-clean copy
            fingerprint = _fingerprint(name, body, meta, (created, started, ended), raw_size)
            if old is not None and old.fingerprint == fingerprint:
                return old
            self._revision += 1
            session = Session(
                id=session_id,
                project_id=project_id,
                name=name,
                body=body,
                raw_data_size=raw_size,
                created_ms=created,
                updated_ms=now_ms if updated_ms is None else updated_ms,
                started_ms=started,
                ended_ms=ended,
                metadata=meta,
                etag=f'W/"{body.size:x}-{fingerprint[:11]}"',
                fingerprint=fingerprint,
                revision=self._revision,
            )
            sessions[session_id] = session
            return session

    def rename_session(self, project_id: str, session_id: str, name: str, now_ms: int) -> Session:
        with self._lock:
            old = self.session(project_id, session_id)
            return self.put_session(project_id, session_id, name=name, body=old.body, now_ms=now_ms)

    def delete_session(self, project_id: str, session_id: str) -> Session:
        with self._lock:
            session = self.session(project_id, session_id)
            del self._sessions[project_id][session_id]
            return session

    def session(self, project_id: str, session_id: str) -> Session:
        with self._lock:
            session = self._sessions_of(project_id).get(session_id)
            if session is None:
                raise NotFoundError("Session", session_id)
            return session

    def sessions(self, project_id: str) -> list[Session]:
        """A project's sessions, most recently updated first."""
        with self._lock:
            return _newest_first(self._sessions_of(project_id).values())

    def find_sessions(self, session_ids: Iterable[str]) -> list[Session]:
        """The sessions with these ids, whichever project holds them; unknown ids are skipped."""
        with self._lock:
            wanted = set(session_ids)
            everything = (s for by_id in self._sessions.values() for s in by_id.values())
            return [s for s in everything if s.id in wanted]

    def all_sessions(self) -> list[Session]:
        """Every stored session of every project (deleted ones are gone)."""
        with self._lock:
            return [s for by_id in self._sessions.values() for s in by_id.values()]

    def recent(self, limit: int) -> list[Session]:
        """The `limit` most recently updated sessions across all projects."""
        with self._lock:
            everything = [s for by_id in self._sessions.values() for s in by_id.values()]
            return _newest_first(everything)[:limit]

    def _sessions_of(self, project_id: str) -> dict[str, Session]:
        sessions = self._sessions.get(project_id)
        if sessions is None:
            raise NotFoundError("Project", project_id)
        return sessions


def _newest_first(sessions: Iterable[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: (s.updated_ms, s.revision), reverse=True)
