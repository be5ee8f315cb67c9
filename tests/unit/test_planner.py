"""The planner decides from index state and listings alone; these pin its decisions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.models import Project, SessionSummary
from syncd.index.store import ProjectRecord, SessionRecord
from syncd.sync.convert import metadata_dict
from syncd.sync.planner import assign_dirnames, plan_project

PROJECT = Project(id="proj_1", name="My App", created_at="2025-01-01T00:00:00.000Z")


def summary(session_id: str, name: str = "fix login", etag: str = 'W/"1"') -> SessionSummary:
    return SessionSummary(
        id=session_id,
        project_id=PROJECT.id,
        name=name,
        markdown_size=10,
        created_at="2025-07-20T10:28:48.000Z",
        updated_at="2025-07-20T11:00:00.000Z",
        etag=etag,
    )


def record_of(s: SessionSummary, path: str) -> SessionRecord:
    return SessionRecord(
        id=s.id,
        project_id=s.project_id,
        name=s.name,
        path=path,
        etag=s.etag,
        created_at=s.created_at,
        updated_at=s.updated_at,
        started_at=s.started_at,
        ended_at=s.ended_at,
        markdown_size=s.markdown_size,
        metadata=metadata_dict(s),
    )


def test_new_session_is_fetched_without_a_condition() -> None:
    plan = plan_project(PROJECT, "my-app", [summary("550e8400-aaaa")], {})
    (fetch,) = plan.fetches
    assert fetch.if_none_match is None
    assert fetch.path == "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md"


def test_unchanged_session_costs_nothing() -> None:
    s = summary("550e8400-aaaa")
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    plan = plan_project(PROJECT, "my-app", [s], indexed)
    assert plan.unchanged == [s.id]
    assert not plan.fetches
    assert not plan.rewrites


def test_changed_etag_is_fetched_conditionally_on_the_old_etag() -> None:
    old = summary("550e8400-aaaa", etag='W/"1"')
    indexed = {old.id: record_of(old, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    plan = plan_project(PROJECT, "my-app", [summary(old.id, etag='W/"2"')], indexed)
    (fetch,) = plan.fetches
    assert fetch.if_none_match == 'W/"1"'


def test_weak_and_strong_forms_of_one_etag_are_unchanged() -> None:
    s = summary("550e8400-aaaa", etag='"1"')
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    plan = plan_project(PROJECT, "my-app", [summary(s.id, etag='W/"1"')], indexed)
    assert plan.unchanged == [s.id]


def test_rename_without_new_body_moves_the_file_without_download() -> None:
    s = summary("550e8400-aaaa")
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    renamed = summary(s.id, name="Fix the login page")
    plan = plan_project(PROJECT, "my-app", [renamed], indexed)
    (rewrite,) = plan.rewrites
    assert rewrite.path == "my-app/2025-07-20_10-28-48Z-fix-the-login-page-550e8400.md"
    assert not plan.fetches


def test_missing_file_is_fetched_again_unconditionally() -> None:
    s = summary("550e8400-aaaa")
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    plan = plan_project(PROJECT, "my-app", [s], indexed, missing_files=[s.id])
    (fetch,) = plan.fetches
    assert fetch.if_none_match is None


def test_ids_sharing_a_prefix_get_distinct_paths() -> None:
    listed = [summary("sess_0001"), summary("sess_0002")]
    plan = plan_project(PROJECT, "my-app", listed, {})
    paths = [f.path for f in plan.fetches]
    assert len(set(paths)) == 2


def test_not_modified_listing_plans_from_the_index() -> None:
    s = summary("550e8400-aaaa")
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    plan = plan_project(PROJECT, "my-app", None, indexed)
    assert plan.unchanged == [s.id]


def test_project_folder_survives_while_its_name_is_unchanged() -> None:
    indexed = {PROJECT.id: ProjectRecord(PROJECT.id, PROJECT.name, "custom-dir")}
    assert assign_dirnames([PROJECT], indexed) == {PROJECT.id: "custom-dir"}


def test_projects_with_the_same_name_get_distinct_folders() -> None:
    first = Project(id="proj_a", name="App", created_at="2025-01-01T00:00:00Z")
    second = Project(id="proj_b", name="app", created_at="2025-02-01T00:00:00Z")
    dirnames = assign_dirnames([second, first], {})
    assert dirnames["proj_a"] == "app"
    assert dirnames["proj_b"] != "app"


def test_a_tagged_folder_name_already_taken_is_not_given_twice() -> None:
    # "App abcdefgh" slugs to what "App" tagged with its id's first 8 characters gives.
    projects = [
        Project(id="p1", name="App", created_at="2025-01-01T00:00:00Z"),
        Project(id="zz", name="App abcdefgh", created_at="2025-01-02T00:00:00Z"),
        Project(id="abcdefgh1", name="App", created_at="2025-01-03T00:00:00Z"),
    ]
    folders = [name.casefold() for name in assign_dirnames(projects, {}).values()]
    assert len(set(folders)) == 3


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), min_size=1, max_size=8))
def test_every_project_gets_its_own_folder(pairs: list[tuple[str, str]]) -> None:
    projects = [
        Project(id=f"{project_id}#{n}", name=name, created_at=None)
        for n, (project_id, name) in enumerate(pairs)
    ]
    folders = [name.casefold() for name in assign_dirnames(projects, {}).values()]
    assert len(set(folders)) == len(projects)


@given(st.lists(st.text(max_size=40), min_size=1, max_size=8), st.lists(st.text(max_size=12)))
def test_every_session_gets_a_unique_path(names: list[str], ids: list[str]) -> None:
    unique_ids = list(dict.fromkeys(i for i in ids if i)) or ["x"]
    listed = [summary(sid, name=names[i % len(names)]) for i, sid in enumerate(unique_ids)]
    plan = plan_project(PROJECT, "my-app", listed, {})
    paths = [f.path.casefold() for f in plan.fetches]
    assert len(paths) == len(set(paths)) == len(unique_ids)
