"""Renames, collisions, local edits and misbehaving servers: the mirror stays whole."""

from __future__ import annotations

import dataclasses

import httpx

from syncd.devserver import DevServer, Fault
from syncd.index.store import Store
from syncd.mirror import frontmatter
from tests.integration.conftest import Harness
from tests.integration.test_sync import body_requests, seed_two_projects

FIX_LOGIN = "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md"
FIX_LOGIN_ID = "550e8400-0000-0000-0000-000000000001"


def project_folders(harness: Harness) -> dict[str, set[str]]:
    """Folder -> session names found in it (read from the files' front matter)."""
    folders: dict[str, set[str]] = {}
    for relative, data in harness.session_files().items():
        folder = relative.split("/")[0]
        folders.setdefault(folder, set()).add(str(frontmatter.split(data)[0]["name"]))
    return folders


def put(server: DevServer, project: str, sid: str, name: str, body: bytes = b"# x\n") -> None:
    server.put_session(
        project, session_id=sid, name=name, markdown=body, created_at="2025-07-20T10:28:48.000Z"
    )


def test_projects_trading_names_trade_folders(harness: Harness) -> None:
    a = harness.server.add_project("Alpha", project_id="proj_a")
    b = harness.server.add_project("Beta", project_id="proj_b")
    put(harness.server, a, "aaaaaaaa-1", "in alpha")
    put(harness.server, b, "bbbbbbbb-1", "in beta")
    harness.sync()
    harness.server.rename_project(a, "Beta")
    harness.server.rename_project(b, "Alpha")
    report = harness.sync()
    assert report.failed == 0
    folders = project_folders(harness)
    assert folders["beta"] == {"in alpha"}
    assert folders["alpha"] == {"in beta"}
    assert harness.sync().failed == 0


def test_new_project_never_takes_a_deleted_projects_folder(harness: Harness) -> None:
    old = harness.server.add_project("Same", project_id="proj_old")
    put(harness.server, old, "aaaaaaaa-1", "old session")
    harness.sync()
    httpx.delete(
        f"{harness.server.url}/api/v1/projects/{old}",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    ).raise_for_status()
    new = harness.server.add_project("Same", project_id="proj_new")
    put(harness.server, new, "bbbbbbbb-1", "new session")
    report = harness.sync()
    assert (report.new, report.deleted, report.failed) == (1, 1, 0)
    assert harness.sync().failed == 0
    folders = project_folders(harness)
    assert folders == {"same-proj_new": {"new session"}}
    # The deleted project's session was confirmed gone (404) and archived, not reused.
    assert [p.parent.name for p in (harness.root / ".trash").rglob("*.md")] == ["same"]


def test_renamed_project_and_a_new_one_taking_its_name(harness: Harness) -> None:
    first = harness.server.add_project("Zeta", project_id="proj_z")
    put(harness.server, first, "aaaaaaaa-1", "first")
    harness.sync()
    harness.server.rename_project(first, "Omega")
    # Created earlier than proj_z in the listing's order: it is handled first.
    second = harness.server.add_project("Zeta", project_id="proj_0")
    put(harness.server, second, "bbbbbbbb-1", "second")
    assert harness.sync().failed == 0
    folders = project_folders(harness)
    assert folders["omega"] == {"first"}
    assert {"second"} in folders.values()


def test_session_moving_between_projects_moves_its_file(harness: Harness) -> None:
    body = seed_two_projects(harness.server)[FIX_LOGIN_ID]
    harness.sync()
    harness.server.delete_session("proj_app", FIX_LOGIN_ID)
    harness.server.put_session(
        "proj_docs",
        session_id=FIX_LOGIN_ID,
        name="Fix login",
        markdown=body,
        created_at="2025-07-20T10:28:48.000Z",
    )
    assert harness.sync().failed == 0
    names = set(harness.files())
    assert "docs/2025-07-20_10-28-48Z-fix-login-550e8400.md" in names
    assert FIX_LOGIN not in names


def test_session_listed_with_a_foreign_project_id_is_filed_under_its_listing(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    listing = httpx.get(
        f"{harness.server.url}/api/v1/projects/proj_docs/sessions",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    ).content.replace(b'"projectId": "proj_docs"', b'"projectId": "proj_elsewhere"')
    listing = listing.replace(b'"projectId":"proj_docs"', b'"projectId":"proj_elsewhere"')
    assert b"proj_elsewhere" in listing
    harness.server.inject(Fault(kind="body", path="/projects/proj_docs/sessions$", body=listing))
    report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    with Store.open(harness.database_url) as store:
        assert {r.project_id for r in store.sessions().values()} == {"proj_app", "proj_docs"}


def test_body_requests_refuse_compressed_encodings(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    bodies = [r for r in harness.server.requests if r.accept == "text/markdown"]
    assert len(bodies) == 3
    assert {r.accept_encoding for r in bodies} == {"identity"}


def test_changed_session_is_asked_for_conditionally(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    with Store.open(harness.database_url) as store:
        held = store.sessions()[FIX_LOGIN_ID].etag
    put(harness.server, "proj_app", FIX_LOGIN_ID, "Fix login", b"# changed\n")
    harness.server.clear_requests()
    harness.sync()
    (request,) = [r for r in harness.server.requests if r.accept == "text/markdown"]
    assert request.if_none_match == held


def test_stale_not_modified_keeps_the_file_and_asks_again_next_run(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    before = harness.files()[FIX_LOGIN]
    put(harness.server, "proj_app", FIX_LOGIN_ID, "Fix login", b"# v2\n")
    harness.server.inject(Fault(kind="status", status=304, path=FIX_LOGIN_ID + "$"))
    report = harness.sync()
    assert report.failed == 1
    assert "304" in report.errors[0]
    assert harness.files()[FIX_LOGIN] == before  # front matter not claiming v2 either
    report = harness.sync()
    assert (report.updated, report.failed) == (1, 0)
    assert frontmatter.split(harness.files()[FIX_LOGIN])[1] == b"# v2\n"


def test_persistent_server_error_costs_only_the_bounded_retries(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="status", status=500, path=FIX_LOGIN_ID + "$", times=-1))
    harness.sync()
    assert len([r for r in harness.server.requests if r.path.endswith(FIX_LOGIN_ID)]) == 3


def test_no_change_run_leaves_folder_mtimes_alone(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    folders = [harness.root, harness.root / "my-app", harness.root / "docs"]
    before = [f.stat().st_mtime_ns for f in folders]
    harness.sync()
    assert [f.stat().st_mtime_ns for f in folders] == before


def test_user_edit_is_kept_beside_the_new_version(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    path = harness.root / FIX_LOGIN
    edited = path.read_bytes() + b"\nmy own notes\n"
    path.write_bytes(edited)
    put(harness.server, "proj_app", FIX_LOGIN_ID, "Fix login", b"# v2\n")
    assert harness.sync().failed == 0
    assert frontmatter.split(path.read_bytes())[1] == b"# v2\n"
    (kept,) = harness.root.glob("my-app/*.local-*.md")
    assert kept.read_bytes() == edited


def test_user_edit_is_not_carried_into_a_moved_file(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    path = harness.root / FIX_LOGIN
    original_body = frontmatter.split(path.read_bytes())[1]
    path.write_bytes(path.read_bytes() + b"local edit\n")
    harness.server.rename_project("proj_app", "Renamed App")
    assert harness.sync().failed == 0
    moved = harness.root / "renamed-app" / path.name
    assert frontmatter.split(moved.read_bytes())[1] == original_body
    # The edited copy is kept beside the new version; the old folder is gone with it.
    (kept,) = harness.root.glob("renamed-app/*.local-*.md")
    assert kept.read_bytes().endswith(b"local edit\n")
    assert not (harness.root / "my-app").exists()


def test_pullstory_mark_survives_rewrites_without_a_local_copy(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    path = harness.root / FIX_LOGIN
    data = path.read_bytes()
    path.write_bytes(data.replace(b"\n---\n", b"\npullstory: true\n---\n", 1))
    put(harness.server, "proj_app", FIX_LOGIN_ID, "Fix login", b"# v2\n")
    harness.sync()
    mapping, body = frontmatter.split(path.read_bytes())
    assert mapping["pullstory"] is True
    assert body == b"# v2\n"
    assert not list(harness.root.glob("**/*.local-*.md"))
    harness.server.rename_project("proj_app", "Renamed")
    harness.sync()
    (moved,) = harness.root.glob("renamed/*fix-login*.md")
    assert frontmatter.split(moved.read_bytes())[0]["pullstory"] is True


def test_broken_front_matter_is_fetched_again_not_failed_forever(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    path = harness.root / FIX_LOGIN
    path.write_bytes(b"no front matter any more\n")
    harness.server.rename_project("proj_app", "Renamed")
    report = harness.sync()
    assert report.failed == 0
    (moved,) = harness.root.glob("renamed/*fix-login-550e8400.md")
    assert frontmatter.split(moved.read_bytes())[1] == b"# Fix login\n\n_**User**_\n\nfix it\n"
    (kept,) = harness.root.glob("renamed/*fix-login*.local-*.md")
    assert kept.read_bytes() == b"no front matter any more\n"


def test_interrupted_project_rename_is_finished_by_the_next_run(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    harness.server.rename_project("proj_app", "Renamed")
    # One session of the project also changed, and its download fails this run.
    put(harness.server, "proj_app", FIX_LOGIN_ID, "Fix login", b"# v2\n")
    harness.server.inject(Fault(kind="status", status=500, path=FIX_LOGIN_ID + "$", times=3))
    report = harness.sync()
    assert (report.updated, report.failed) == (1, 1)
    assert (harness.root / FIX_LOGIN).is_file()
    report = harness.sync()
    assert report.failed == 0
    assert not (harness.root / "my-app").exists()
    for data in harness.session_files().values():
        mapping = frontmatter.split(data)[0]
        assert mapping["project"] in ("Renamed", "Docs")
    assert body_requests(harness.server, 200)


def test_an_etag_that_cannot_be_sent_back_costs_a_download_never_a_crash(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    listing = (
        b'{"success": true, "data": {"projectId": "proj_docs", "total": 1, "sessions": [{"id": '
        b'"550e8402-0000-0000-0000-000000000003", "projectId": "proj_docs", "name": "Unicode",'
        b' "etag": "W/\\"caf\xc3\xa9\\"", "createdAt": "2025-07-20T10:28:48.000Z"}]}}'
    )
    harness.server.inject(Fault(kind="body", path="/projects/proj_docs/sessions$", body=listing))
    assert harness.sync().failed == 0
    # An index an older syncd wrote may hold such a tag already: it is never sent.
    with Store.open(harness.database_url) as store:
        for record in store.sessions().values():
            store.save_session(dataclasses.replace(record, etag='W/"caf\u00e9"'))
    harness.server.clear_requests()
    assert harness.sync().failed == 0  # fetched again, unconditionally
    sent = [r.if_none_match for r in harness.server.requests if r.if_none_match]
    assert all(tag.isascii() for tag in sent)
    assert harness.sync().unchanged == 3  # and settled on the server's good tags
