"""The index: what syncd last mirrored, in SQLite (or PostgreSQL) through SQLAlchemy.

Callers get plain frozen records (`syncd.index.records`), never ORM objects, so nothing
above this module depends on session state. Every save commits: the index row follows the
file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from syncd import durable
from syncd.errors import StorageError, driver_message
from syncd.index import migrate, search, urls
from syncd.index.models import (
    ArchiveStateRow,
    Base,
    GitJournalRow,
    PendingWriteRow,
    ProjectRow,
    PushStateRow,
    RateBudgetRow,
    SessionRow,
    StoryRow,
    SyncRunRow,
)
from syncd.index.records import (
    BUDGET_ROWS,
    ArchiveState,
    BudgetKind,
    BudgetRecord,
    ProjectRecord,
    PushState,
    RunOutcome,
    RunRecord,
    StoryRecord,
    archive_from_columns,
    budget_from_columns,
    metadata_to_json,
    project_from_columns,
    push_state_from_columns,
    run_from_columns,
    session_from_columns,
    session_from_json,
    session_to_json,
)
from syncd.index.statuses import StorySource, StoryStatus
from syncd.model import SessionRecord

__all__ = [
    "ArchiveState",
    "BudgetRecord",
    "ProjectRecord",
    "PushState",
    "RunRecord",
    "SessionRecord",
    "Store",
    "StoryRecord",
]

_PROJECT_FIELDS = [f.name for f in dataclasses.fields(ProjectRecord)]
_SESSION_COLUMNS = {f.name: f.name for f in dataclasses.fields(SessionRecord)} | {
    "metadata": "session_metadata"
}
_RUN_FIELDS = [f.name for f in dataclasses.fields(RunRecord)]
_ARCHIVE_FIELDS = [f.name for f in dataclasses.fields(ArchiveState)]
_RUN_COUNTERS = [
    "requests",
    "not_modified",
    "fetched",
    "new",
    "updated",
    "unchanged",
    "failed",
    "deferred",
    "deleted",
]


class Store:
    """One open index. Use as a context manager or call close()."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        event.listen(self._sessions, "after_flush", _note_write)

    @classmethod
    def open(cls, database_url: str, *, migrate_schema: bool = True) -> Store:
        """Connect, creating the SQLite folder if needed, and apply pending migrations."""
        url = urls.parse(database_url)
        try:
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = urls.new_engine(url)
            if url.get_backend_name() == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
            if migrate_schema:
                migrate.upgrade(engine)
        except (SQLAlchemyError, OSError) as exc:
            where = f"the index at {urls.shown(url)}"
            raise StorageError(where, driver_message(exc)) from exc
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError("the index", driver_message(exc)) from exc
        if session.info.get(_WROTE):  # committed: a durable step (read-only ones are not)
            durable.reached("index")

    # --- projects --------------------------------------------------------------------

    def projects(self) -> dict[str, ProjectRecord]:
        with self._transaction() as db:
            rows = db.scalars(select(ProjectRow)).all()
            return {row.id: _project_record(row) for row in rows}

    def save_project(self, record: ProjectRecord) -> None:
        with self._transaction() as db:
            row = db.get(ProjectRow, record.id) or ProjectRow(id=record.id)
            for name in _PROJECT_FIELDS:
                setattr(row, name, getattr(record, name))
            db.add(row)

    def save_dirnames(
        self,
        records: list[ProjectRecord],
        journal: Iterable[str] = (),
        unsettle: Iterable[str] = (),
    ) -> None:
        """Give each project its folder; new projects are inserted with their record.

        Folder names are unique, so names that move between projects are first parked on
        placeholders, all in one transaction, which also journals `journal` (the paths the
        cycle is about to change) for the git archive and forgets the listing ETags of the
        projects in `unsettle` (the cycle is about to change them).
        """
        with self._transaction() as db:
            _add_to_journal(db, journal)
            for project_id in unsettle:
                row = db.get(ProjectRow, project_id)
                if row is not None:
                    row.list_etag = None
            rows = {row.id: row for row in db.scalars(select(ProjectRow))}
            moving = [r for r in records if r.id in rows and rows[r.id].dirname != r.dirname]
            for record in moving:
                # A "/" is in no folder name (PostgreSQL text holds no NUL): no real name collides.
                rows[record.id].dirname = f"/moving/{record.id}"
            db.flush()
            for record in moving:
                rows[record.id].dirname = record.dirname
            for record in records:
                if record.id not in rows:
                    db.add(ProjectRow(**{name: getattr(record, name) for name in _PROJECT_FIELDS}))

    def forget_list_etag(self, project_id: str) -> None:
        """Make the next run list this project in full (no If-None-Match)."""
        with self._transaction() as db:
            row = db.get(ProjectRow, project_id)
            if row is not None:
                row.list_etag = None

    # --- sessions --------------------------------------------------------------------

    def sessions(
        self, project_id: str | None = None, *, ids: Collection[str] | None = None
    ) -> dict[str, SessionRecord]:
        """Every session's row, or those of one project, or (`ids`) only these sessions'."""
        with self._transaction() as db:
            query = select(SessionRow)
            if project_id is not None:
                query = query.where(SessionRow.project_id == project_id)
            if ids is not None:
                query = query.where(SessionRow.id.in_(ids))
            return {row.id: _session_record(row) for row in db.scalars(query)}

    def session(self, session_id: str) -> SessionRecord | None:
        with self._transaction() as db:
            row = db.get(SessionRow, session_id)
            return _session_record(row) if row is not None else None

    def session_by_path(self, relative: str) -> SessionRecord | None:
        """The session mirrored at this root-relative path (a unique column)."""
        with self._transaction() as db:
            row = db.scalars(select(SessionRow).where(SessionRow.path == relative)).first()
            return _session_record(row) if row is not None else None

    def save_session(self, record: SessionRecord) -> None:
        """Save the row (and, in the same transaction, forget the pending write it ends).

        A story URL the row has is never cleared: the push worker records it, maybe while
        a sync is writing the same session from what it read before.
        """
        self.save_sessions([record])

    def save_sessions(self, records: Iterable[SessionRecord]) -> None:
        """`save_session` for several rows in one transaction (one commit, not one each)."""
        with self._transaction() as db:
            for record in records:
                _save_session_row(db, record)
            db.info[_WROTE] = True

    def begin_write(self, record: SessionRecord) -> None:
        """Remember the row `record.path`'s new file stands for, before it is renamed in."""
        with self._transaction() as db:
            # Statements compiled once: this runs once per file written.
            db.execute(_END_PENDING_WRITE, {"ended": record.id})
            db.execute(
                _BEGIN_PENDING_WRITE, {"session_id": record.id, "record": session_to_json(record)}
            )
            db.info[_WROTE] = True

    def pending_writes(self) -> list[SessionRecord]:
        """Rows of writes a crash may have cut short, oldest session id first."""
        with self._transaction() as db:
            rows = db.scalars(select(PendingWriteRow).order_by(PendingWriteRow.session_id))
            return [session_from_json(row.record) for row in rows]

    def drop_pending_write(self, session_id: str) -> None:
        with self._transaction() as db:
            row = db.get(PendingWriteRow, session_id)
            if row is not None:
                db.delete(row)

    def count_sessions(self, *, live: bool = False) -> int:
        """Sessions in the index; with `live`, without those kept after a deletion."""
        query = select(func.count()).select_from(SessionRow)
        if live:
            query = query.where(SessionRow.cloud_deleted_at.is_(None))
        with self._transaction() as db:
            return int(db.scalar(query) or 0)

    def count_projects(self) -> int:
        with self._transaction() as db:
            return int(db.scalar(select(func.count()).select_from(ProjectRow)) or 0)

    def delete_session(self, session_id: str) -> None:
        with self._transaction() as db:
            row = db.get(SessionRow, session_id)
            if row is not None:
                db.delete(row)

    def delete_project(self, project_id: str) -> None:
        """Forget a project that has no sessions left."""
        with self._transaction() as db:
            row = db.get(ProjectRow, project_id)
            if row is not None:
                db.delete(row)

    # --- PullStory ---------------------------------------------------------------------

    def add_story(self, record: StoryRecord) -> StoryRecord:
        """Insert a new brief, or return the existing one with the same hash."""
        with self._transaction() as db:
            existing = db.scalars(
                select(StoryRow).where(StoryRow.brief_hash == record.brief_hash)
            ).first()
            if existing is not None:
                return _story_record(existing)
            row = StoryRow(**_story_values(record))
            db.add(row)
            db.flush()
            return _story_record(row)

    def save_story(self, record: StoryRecord) -> None:
        with self._transaction() as db:
            row = db.get(StoryRow, record.id)
            if row is None:
                raise StorageError(f"story {record.id}", "it is not in the index")
            for name, value in _story_values(record).items():
                setattr(row, name, value)

    def stories(
        self,
        *,
        statuses: tuple[StoryStatus, ...] | None = None,
        session_id: str | None = None,
        built_hash: str | None = None,
        due_by: float | None = None,
    ) -> list[StoryRecord]:
        """Stories oldest first: of these statuses, this session, this brief as built,
        with a next_poll_at at or before `due_by`."""
        with self._transaction() as db:
            query = select(StoryRow).order_by(StoryRow.id)
            if statuses is not None:
                query = query.where(StoryRow.status.in_(statuses))
            if session_id is not None:
                query = query.where(StoryRow.session_id == session_id)
            if built_hash is not None:
                query = query.where(StoryRow.built_hash == built_hash)
            if due_by is not None:
                query = query.where(StoryRow.next_poll_at <= due_by)
            return [_story_record(row) for row in db.scalars(query)]

    def earliest_poll(self, statuses: tuple[StoryStatus, ...]) -> float | None:
        """The soonest next_poll_at among stories of these statuses (None: none is set)."""
        with self._transaction() as db:
            query = select(func.min(StoryRow.next_poll_at)).where(StoryRow.status.in_(statuses))
            found = db.scalar(query)
            return float(found) if found is not None else None

    def story_counts(self) -> dict[str, int]:
        """How many stories are in each status (what status shows, without the briefs)."""
        with self._transaction() as db:
            query = select(StoryRow.status, func.count()).group_by(StoryRow.status)
            return {str(status): int(count) for status, count in db.execute(query)}

    def latest_ready_stories(self, limit: int) -> list[tuple[str, str]]:
        """(session id, story URL) of the newest ready stories, newest first."""
        with self._transaction() as db:
            query = (
                select(StoryRow.session_id, StoryRow.url)
                .where(StoryRow.status == StoryStatus.READY, StoryRow.url.is_not(None))
                .order_by(StoryRow.id.desc())
                .limit(limit)
            )
            return [(str(session_id), str(url)) for session_id, url in db.execute(query)]

    def set_pullstory_url(self, session_id: str, url: str) -> SessionRecord | None:
        with self._transaction() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                return None
            row.pullstory_url = url
            return _session_record(row)

    def push_state(self) -> PushState:
        with self._transaction() as db:
            row = db.get(PushStateRow, 1)
            return push_state_from_columns(_columns(row)) if row is not None else PushState()

    def save_push_state(self, state: PushState) -> None:
        with self._transaction() as db:
            row = db.get(PushStateRow, 1) or PushStateRow(id=1)
            for name in _PUSH_STATE_FIELDS:
                setattr(row, name, getattr(state, name))
            db.add(row)

    # --- git journal -----------------------------------------------------------------

    def journal(self, paths: Iterable[str], reason: str | None = None) -> None:
        """Record paths about to change, before they change, for the next git commit;
        `reason` (e.g. "story-url") lets the commit message say what they hold."""
        with self._transaction() as db:
            _add_to_journal(db, paths, reason)

    def journaled_for(self, reason: str) -> set[str]:
        """The journaled paths recorded with `reason` (still waiting for a commit)."""
        with self._transaction() as db:
            query = select(GitJournalRow.path).where(GitJournalRow.reason == reason).distinct()
            return set(db.scalars(query))

    def journaled(self) -> tuple[int, list[str]]:
        """(newest entry, every journaled path once, sorted); (0, []) when empty."""
        with self._transaction() as db:
            newest = db.scalar(select(func.max(GitJournalRow.seq))) or 0
            paths = db.scalars(select(GitJournalRow.path).distinct()).all()
            return int(newest), sorted(paths)

    def journal_mark(self) -> int:
        """The newest entry now: paths journaled up to it were journaled before now."""
        with self._transaction() as db:
            return int(db.scalar(select(func.max(GitJournalRow.seq))) or 0)

    def journaled_through(self, mark: int) -> set[str]:
        """Paths journaled at or before `mark` (and still waiting for a commit)."""
        with self._transaction() as db:
            query = select(GitJournalRow.path).where(GitJournalRow.seq <= mark).distinct()
            return set(db.scalars(query))

    def clear_journal(self, up_to: int) -> None:
        """Forget entries up to `up_to` (a commit holds them); later ones stay."""
        with self._transaction() as db:
            db.execute(delete(GitJournalRow).where(GitJournalRow.seq <= up_to))
            db.info[_WROTE] = True

    def archive_state(self) -> ArchiveState:
        with self._transaction() as db:
            row = db.get(ArchiveStateRow, 1)
            return archive_from_columns(_columns(row)) if row is not None else ArchiveState()

    def save_archive_state(self, state: ArchiveState) -> None:
        with self._transaction() as db:
            row = db.get(ArchiveStateRow, 1) or ArchiveStateRow(id=1)
            for name in _ARCHIVE_FIELDS:
                setattr(row, name, getattr(state, name))
            db.add(row)

    # --- rate budget -----------------------------------------------------------------

    def budget(self, kind: BudgetKind = "rest") -> BudgetRecord | None:
        """The last word on the REST budget, or on GraphQL's (its own row)."""
        with self._transaction() as db:
            row = db.get(RateBudgetRow, BUDGET_ROWS[kind])
            return budget_from_columns(_columns(row)) if row is not None else None

    def save_budget(self, record: BudgetRecord, kind: BudgetKind = "rest") -> None:
        with self._transaction() as db:
            row_id = BUDGET_ROWS[kind]
            row = db.get(RateBudgetRow, row_id) or RateBudgetRow(id=row_id)
            for name in ("limit", "remaining", "reset_at", "observed_at", "blocked_until"):
                setattr(row, name, getattr(record, name))
            db.add(row)

    # --- runs ------------------------------------------------------------------------

    def start_run(self, started_at: datetime, kind: str = "once") -> int:
        with self._transaction() as db:
            counters = dict.fromkeys(_RUN_COUNTERS, 0)
            row = SyncRunRow(started_at=started_at, errors=[], kind=kind, **counters)
            db.add(row)
            db.flush()
            return row.id

    def finish_run(self, run: RunRecord) -> None:
        with self._transaction() as db:
            row = db.get(SyncRunRow, run.id)
            if row is None:
                raise StorageError(f"sync run {run.id}", "it is not in the index")
            for name in _RUN_FIELDS:
                setattr(row, name, getattr(run, name))

    def last_success(self) -> RunRecord | None:
        """The newest run that finished with nothing failed, deferred or interrupted."""
        with self._transaction() as db:
            query = (
                select(SyncRunRow)
                .where(
                    SyncRunRow.ended_at.is_not(None),
                    SyncRunRow.outcome == RunOutcome.SUCCEEDED,
                )
                .order_by(SyncRunRow.id.desc())
                .limit(1)
            )
            row = db.scalars(query).first()
            return _run_record(row) if row is not None else None

    def last_listing(self) -> RunRecord | None:
        """The newest run that read every listing (and so knows how many the cloud lists)."""
        with self._transaction() as db:
            query = (
                select(SyncRunRow)
                .where(SyncRunRow.listed.is_not(None))
                .order_by(SyncRunRow.id.desc())
                .limit(1)
            )
            row = db.scalars(query).first()
            return _run_record(row) if row is not None else None

    def runs(self, limit: int = 10) -> list[RunRecord]:
        with self._transaction() as db:
            query = select(SyncRunRow).order_by(SyncRunRow.id.desc()).limit(limit)
            return [_run_record(row) for row in db.scalars(query)]

    def replace_all(self, projects: list[ProjectRecord], sessions: list[SessionRecord]) -> None:
        """Make `projects` and `sessions` the whole content of their tables, in one
        transaction (`syncd db rebuild`); runs and the rate budget are kept."""
        with self._transaction() as db:
            for table in (PendingWriteRow, SessionRow, ProjectRow):
                for row in db.scalars(select(table)):
                    db.delete(row)
                # Sessions go first (they point at projects); new rows may reuse ids and paths.
                db.flush()
            db.add_all(
                ProjectRow(**{name: getattr(r, name) for name in _PROJECT_FIELDS}) for r in projects
            )
            db.flush()
            db.add_all(SessionRow(**_session_values(r)) for r in sessions)


_STORY_FIELDS = [f.name for f in dataclasses.fields(StoryRecord) if f.name != "id"]
_PUSH_STATE_FIELDS = [f.name for f in dataclasses.fields(PushState)]


_WROTE = "syncd_wrote"


def _note_write(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


def _add_to_journal(db: Session, paths: Iterable[str], reason: str | None = None) -> None:
    rows = [{"path": path, "reason": reason} for path in dict.fromkeys(paths)]
    if rows:
        db.execute(insert(GitJournalRow), rows)
        db.info[_WROTE] = True


def _save_session_row(db: Session, record: SessionRecord) -> None:
    # Table statements compiled once, not ORM objects: this runs once per file written.
    values = _session_values(record).items()
    columns = {_COLUMN_OF.get(name, name): value for name, value in values}
    found = db.execute(_UPDATE_SESSION, {f"new_{c}": v for c, v in columns.items()})
    if not found.rowcount:  # type: ignore[attr-defined]
        db.execute(_INSERT_SESSION, columns)
    db.execute(_END_PENDING_WRITE, {"ended": record.id})


_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
# Attribute names that differ from their column's name.
_COLUMN_OF = {"session_metadata": "metadata"}
_UPDATE_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("new_id"))
    .values(
        {
            column: bindparam(f"new_{column.name}", type_=column.type)
            for column in _SESSIONS.c
            if column.name not in ("id", "pullstory_url")
        }
        # A story URL the row has is never cleared (see save_session).
        | {
            _SESSIONS.c.pullstory_url: func.coalesce(
                bindparam("new_pullstory_url", type_=Text()), _SESSIONS.c.pullstory_url
            )
        }
    )
)
_INSERT_SESSION = insert(_SESSIONS)
_PENDING_WRITES: Table = PendingWriteRow.__table__  # type: ignore[assignment]
_END_PENDING_WRITE = delete(_PENDING_WRITES).where(
    _PENDING_WRITES.c.session_id == bindparam("ended")
)
_BEGIN_PENDING_WRITE = insert(_PENDING_WRITES)


def _story_values(record: StoryRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _STORY_FIELDS}


def _story_record(row: StoryRow) -> StoryRecord:
    values = {name: getattr(row, name) for name in _STORY_FIELDS}
    values |= {"status": StoryStatus(row.status), "source": StorySource(row.source)}
    return StoryRecord(id=row.id, **values)


def _columns(row: Base) -> dict[str, Any]:
    """The row's values by column name, as the records' `*_from_columns` take them."""
    return {prop.columns[0].name: getattr(row, prop.key) for prop in row.__mapper__.column_attrs}


def _project_record(row: ProjectRow) -> ProjectRecord:
    return project_from_columns(_columns(row))


def _session_values(record: SessionRecord) -> dict[str, Any]:
    """The row's column values for `record` (its metadata as the JSON column holds it)."""
    values = {column: getattr(record, name) for name, column in _SESSION_COLUMNS.items()}
    return values | {"session_metadata": metadata_to_json(record.metadata)}


def _session_record(row: SessionRow) -> SessionRecord:
    return session_from_columns(_columns(row))


def _run_record(row: SyncRunRow) -> RunRecord:
    return run_from_columns(_columns(row))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL keeps readers (syncd status) unblocked during a sync; NORMAL is crash-safe in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # The search index's view reads compressed bodies through this function.
    dbapi_connection.create_function(search.INFLATE_FUNCTION, 1, search.inflate, deterministic=True)
