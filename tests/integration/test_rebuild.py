"""`syncd db rebuild`: the index recovered from the mirror's files alone."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.index import search
from syncd.index.store import SessionRecord, Store
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror
from syncd.sync.rebuild import rebuild_index
from tests.integration.conftest import Harness, point_cli_at
from tests.integration.test_lock import lock_held_by_another_process
from tests.integration.test_sync import body_requests, seed_two_projects


@pytest.fixture
def harness(any_harness: Harness) -> Harness:
    """These tests run on both backends: SQLite, and PostgreSQL when a server is given."""
    return any_harness


LIST_PATH = re.compile(r"^/api/v1/projects(/[^/]+/sessions)?$")
# Not in the front matter, so not recoverable from the tree: rawDataSize, and when the
# session was synced. (A deviceId is not either; the next full listing restores it.)
NOT_IN_FILES = {"synced_at", "raw_data_size"}


def comparable(record: SessionRecord) -> dict[str, object]:
    return {k: v for k, v in dataclasses.asdict(record).items() if k not in NOT_IN_FILES}


def rebuild(harness: Harness) -> tuple[int, int, list[tuple[str, str]]]:
    with harness.store() as store:
        report = rebuild_index(Mirror(harness.root), store)
    return report.sessions, report.projects, [(s.path, s.reason) for s in report.skipped]


def forget_index(harness: Harness) -> None:
    if harness.database_url.startswith("postgresql"):
        engine = create_engine(harness.database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    for path in (harness.root / ".syncd").glob("index.db*"):
        path.unlink()


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, harness: Harness) -> Path:
    """SYNCD_* pointed at the harness's devserver, root and index, for CLI tests."""
    if harness.index_url:
        monkeypatch.setenv("SYNCD_DATABASE_URL", harness.index_url)
    return point_cli_at(monkeypatch, harness.server.url, harness.server.api_key, harness.root)


def test_rebuilt_index_equals_the_synced_one_field_by_field(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    with harness.store() as store:
        synced_sessions, synced_projects = store.sessions(), store.projects()
    forget_index(harness)
    assert rebuild(harness) == (3, 2, [])
    with harness.store() as store:
        rebuilt_sessions, rebuilt_projects = store.sessions(), store.projects()
    assert rebuilt_sessions.keys() == synced_sessions.keys()
    for session_id, synced in synced_sessions.items():
        assert comparable(rebuilt_sessions[session_id]) == comparable(synced)
    assert {p.id: (p.name, p.dirname) for p in rebuilt_projects.values()} == {
        p.id: (p.name, p.dirname) for p in synced_projects.values()
    }
    assert all(p.list_etag is None for p in rebuilt_projects.values())


def test_a_sync_after_a_rebuild_downloads_nothing_and_rewrites_nothing(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    forget_index(harness)
    rebuild(harness)
    files, mtimes = harness.files(), harness.mtimes()
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.new, report.updated, report.unchanged, report.failed) == (0, 0, 3, 0)
    assert report.fetched == 0
    assert body_requests(harness.server) == []
    requests = harness.server.requests
    assert all(LIST_PATH.match(r.path) for r in requests), [r.path for r in requests]
    # The list etags were not kept, so every project is listed in full once.
    assert sorted(r.status for r in requests) == [200, 200, 200]
    assert harness.files() == files
    assert harness.mtimes() == mtimes


def test_a_rebuild_of_the_corpus_mirror_needs_no_download(
    harness: Harness, corpus_dir: Path
) -> None:
    harness.server.seed_corpus_flat(corpus_dir, projects=4)
    harness.sync()
    with harness.store() as store:
        synced = {sid: comparable(r) for sid, r in store.sessions().items()}
        project_count = len(store.projects())
    forget_index(harness)
    assert rebuild(harness) == (len(synced), project_count, [])
    with harness.store() as store:
        assert {sid: comparable(r) for sid, r in store.sessions().items()} == synced
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.fetched, report.updated, report.failed) == (0, 0, 0)
    assert body_requests(harness.server) == []


def test_a_device_id_comes_back_from_the_next_listing_without_touching_files(
    harness: Harness,
) -> None:
    harness.server.seed_synthetic(6, 2)
    harness.sync()
    with harness.store() as store:
        device_ids = {sid: r.metadata.device_id for sid, r in store.sessions().items()}
    assert any(device_ids.values())
    forget_index(harness)
    rebuild(harness)
    files, mtimes = harness.files(), harness.mtimes()
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.fetched, report.failed) == (0, 0)
    assert body_requests(harness.server) == []
    assert (harness.files(), harness.mtimes()) == (files, mtimes)
    with harness.store() as store:
        assert {sid: r.metadata.device_id for sid, r in store.sessions().items()} == device_ids


def test_files_without_front_matter_are_reported_and_left_alone(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    folder = harness.root / "my-app"
    (folder / "my-notes.md").write_text("# my own notes\n")
    (folder / "broken.md").write_text("---\nid: [unclosed\n---\nbody\n")
    (folder / "no-id.md").write_text("---\ntitle: a note with front matter\n---\nbody\n")
    # Not session files: generated pages, kept local copies, syncd's and git's folders.
    some_session = next(folder.glob("*-550e8400.md"))
    (folder / "x.local-20260101T000000Z.md").write_bytes(some_session.read_bytes())
    for hidden in (".trash/my-app", ".git", ".syncd"):
        (harness.root / hidden).mkdir(parents=True, exist_ok=True)
        (harness.root / hidden / "copy.md").write_bytes(some_session.read_bytes())
    sessions, projects, skipped = rebuild(harness)
    assert (sessions, projects) == (3, 2)
    assert [path for path, _ in skipped] == [
        "my-app/broken.md",
        "my-app/my-notes.md",
        "my-app/no-id.md",
    ]
    reasons = dict(skipped)
    assert reasons["my-app/broken.md"].startswith("front matter: it is not valid YAML (")
    assert reasons["my-app/my-notes.md"] == (
        "front matter: the file does not start with a '---' line"
    )
    assert reasons["my-app/no-id.md"] == "front matter: the required key 'id' is missing"
    assert (folder / "my-notes.md").read_text() == "# my own notes\n"
    assert (folder / "broken.md").exists()


def test_duplicate_session_ids_keep_the_newest_file(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    original = next((harness.root / "my-app").glob("*-550e8400.md"))
    mapping, body = frontmatter.split(original.read_bytes())
    header = frontmatter.header_from_mapping(mapping)
    newer = dataclasses.replace(header, updated_at="2099-01-01T00:00:00.000Z", name="Newer")
    copy = original.with_name("2099-copy-550e8400.md")
    copy.write_bytes(frontmatter.render(newer) + body)
    sessions, _, skipped = rebuild(harness)
    assert sessions == 3
    original_path = original.relative_to(harness.root).as_posix()
    copy_path = copy.relative_to(harness.root).as_posix()
    assert skipped == [
        (original_path, f"session {header.id} is also in {copy_path}, which is newer")
    ]
    with harness.store() as store:
        kept = store.session(header.id)
    assert kept is not None
    assert (kept.path, kept.name) == (copy_path, "Newer")


def test_rebuild_replaces_rows_whose_files_are_gone_and_keeps_the_run_history(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    for path in (harness.root / "docs").glob("*-550e8402.md"):
        path.unlink()
    assert rebuild(harness)[:2] == (2, 1)
    with harness.store() as store:
        assert set(store.sessions()) == {
            "550e8400-0000-0000-0000-000000000001",
            "550e8401-0000-0000-0000-000000000002",
        }
        assert set(store.projects()) == {"proj_app"}
        assert len(store.runs()) == 1


# --- the command ---------------------------------------------------------------------------


def test_db_rebuild_prints_what_it_found_and_lists_skipped_files(
    harness: Harness, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    forget_index(harness)
    (root / "docs" / "notes.md").write_text("no front matter\n")
    assert run(["db", "rebuild"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "Rebuilt the index from 3 files in 2 projects (1 skipped)\n"
        "  skipped docs/notes.md: front matter: the file does not start with a '---' line\n"
    )
    with Store.open(harness.database_url) as store:
        assert store.count_sessions() == 3


def test_db_rebuild_refuses_while_another_syncd_owns_the_root(
    harness: Harness, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    with lock_held_by_another_process(root / ".syncd") as daemon:
        assert run(["db", "rebuild"]) == 6
    err = capsys.readouterr().err
    assert f"another syncd (pid {daemon.pid}) already owns {root}" in err
    with harness.store() as store:
        assert store.count_sessions() == 3


def test_db_rebuild_of_a_missing_root_exits_2_and_creates_nothing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["db", "rebuild"]) == 2
    assert f"No mirror at {root}" in capsys.readouterr().err
    assert not root.exists()


def test_db_rebuild_of_a_root_with_no_sessions_empties_the_index(
    harness: Harness, root: Path, capsys: pytest.CaptureFixture[str], server: DevServer
) -> None:
    seed_two_projects(server)
    harness.sync()
    for path in root.glob("*/*.md"):
        path.unlink()
    assert run(["db", "rebuild"]) == 0
    assert capsys.readouterr().out == "Rebuilt the index from 0 files in 0 projects (0 skipped)\n"
    with harness.store() as store:
        assert (store.count_sessions(), store.projects()) == (0, {})


def test_db_rebuild_fills_the_search_index_of_a_new_database(
    harness: Harness, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    forget_index(harness)
    assert run(["db", "rebuild"]) == 0
    with harness.store() as store:
        assert search.current(store.engine)
        assert search.document_count(store.engine) == 3
    capsys.readouterr()
    assert run(["search", "login"]) == 0
    assert "Fix «login»" in capsys.readouterr().out
