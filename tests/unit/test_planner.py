"""The planner decides from index state and listings alone; these pin its decisions."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.models import Project
from syncd.index.store import ProjectRecord
from syncd.mirror.paths import id_tag
from syncd.model import Session, SessionMetadata, SessionRecord
from syncd.sync.plan import CloudView, CyclePlan, Fetch
from syncd.sync.planner import DeletionRules, assign_dirnames, plan_cycle, plan_project

PROJECT = Project(id="proj_1", name="My App", created_at="2025-01-01T00:00:00.000Z")


def summary(session_id: str, name: str = "fix login", etag: str = 'W/"1"') -> Session:
    return Session(
        id=session_id,
        project_id=PROJECT.id,
        name=name,
        markdown_size=10,
        created_at="2025-07-20T10:28:48.000Z",
        updated_at="2025-07-20T11:00:00.000Z",
        etag=etag,
    )


def record_of(s: Session, path: str) -> SessionRecord:
    return SessionRecord.of(
        s,
        path=path,
        etag=s.etag,
        markdown_size=s.markdown_size,
        body_sha256=None,
        file_sha256=None,
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


def test_a_new_client_id_rewrites_the_front_matter_without_download() -> None:
    s = summary("550e8400-aaaa")
    indexed = {s.id: record_of(s, "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md")}
    listed = dataclasses.replace(s, client_id="cursor-8f3a")
    plan = plan_project(PROJECT, "my-app", [listed], indexed)
    assert not plan.fetches
    (rewrite,) = plan.rewrites
    assert rewrite.session.client_id == "cursor-8f3a"


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
    unchanged = CloudView([PROJECT], {PROJECT.id: "my-app"}, {PROJECT.id: None}, complete=True)
    plan = plan_cycle(unchanged, {}, indexed, (), DeletionRules(allowed=True))
    (project,) = plan.projects
    assert project.unchanged == [s.id]
    assert plan.removals == []


def test_project_folder_survives_while_its_name_is_unchanged() -> None:
    tagged = f"my-app-{id_tag(PROJECT.id)}"  # the name it got when "my-app" was taken
    indexed = {PROJECT.id: ProjectRecord(PROJECT.id, PROJECT.name, tagged)}
    assert assign_dirnames([PROJECT], indexed) == {PROJECT.id: tagged}


def test_a_folder_named_by_an_older_naming_moves_once() -> None:
    # Named before names were transliterated: "Проект Альфа" was "untitled".
    project = Project(id="proj_7ed", name="Проект Альфа", created_at="2025-01-01T00:00:00Z")
    indexed = {project.id: ProjectRecord(project.id, project.name, "untitled-proj_7ed")}
    moved = assign_dirnames([project], indexed)
    assert moved == {project.id: "proekt-alfa"}
    settled = {project.id: ProjectRecord(project.id, project.name, "proekt-alfa")}
    assert assign_dirnames([project], settled) == moved


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


# --- the whole cycle: which listings may be skipped next time ----------------------------

OTHER = Project(id="proj_2", name="Other", created_at="2025-02-01T00:00:00.000Z")
DELETE = DeletionRules(allowed=True, max_share=1.0)
NO_DELETE = DeletionRules(allowed=False)


def in_project(s: Session, project: Project) -> Session:
    return dataclasses.replace(s, project_id=project.id)


def indexed_of(*pairs: tuple[Session, str]) -> dict[str, SessionRecord]:
    return {s.id: record_of(s, f"{folder}/{s.id}.md") for s, folder in pairs}


def folders(*projects: Project) -> dict[str, ProjectRecord]:
    return {p.id: ProjectRecord(p.id, p.name, p.name.lower().replace(" ", "-")) for p in projects}


def view(listings: dict[str, list[Session] | None], **flags: Any) -> CloudView:
    projects = [p for p in (PROJECT, OTHER) if p.id in listings]
    dirnames = {p.id: p.name.lower().replace(" ", "-") for p in projects}
    etags = {project_id: f'W/"list-{project_id}"' for project_id in listings}
    complete = flags.pop("complete", True)
    return CloudView(projects, dirnames, listings, etags, complete=complete, **flags)


def settled(plan: CyclePlan) -> set[str]:
    return {record.id for record in plan.settle}


def test_a_complete_listing_settles_every_project_with_its_etag() -> None:
    a, b = summary("a1"), in_project(summary("b1"), OTHER)
    plan = plan_cycle(view({PROJECT.id: [a], OTHER.id: [b]}), {}, {}, (), DELETE)
    assert {(r.id, r.list_etag) for r in plan.settle} == {
        (PROJECT.id, 'W/"list-proj_1"'),
        (OTHER.id, 'W/"list-proj_2"'),
    }


def test_a_missing_session_keeps_its_project_unsettled_until_it_is_removed() -> None:
    kept, gone = summary("a1"), summary("a2")
    indexed = indexed_of((kept, "my-app"), (gone, "my-app"))
    projects = folders(PROJECT)
    for rules, complete in ((NO_DELETE, True), (DELETE, False)):
        plan = plan_cycle(
            view({PROJECT.id: [kept]}, complete=complete), projects, indexed, (), rules
        )
        assert plan.removals == []
        assert PROJECT.id in plan.unsettled
        assert PROJECT.id not in settled(plan)
    plan = plan_cycle(view({PROJECT.id: [kept]}), projects, indexed, (), DELETE)
    assert [r.record.id for r in plan.removals] == ["a2"]
    assert settled(plan) == {PROJECT.id}  # settled once the removal lands (the executor checks)


def test_a_guard_refusal_leaves_the_project_unsettled() -> None:
    sessions = [summary(f"a{n}") for n in range(4)]
    indexed = indexed_of(*((s, "my-app") for s in sessions))
    rules = DeletionRules(allowed=True, max_share=0.25)
    plan = plan_cycle(view({PROJECT.id: sessions[:1]}), folders(PROJECT), indexed, (), rules)
    assert plan.removals == []
    assert plan.refusals
    assert PROJECT.id in plan.unsettled


def test_an_incremental_change_unsettles_every_project_it_touches() -> None:
    moved = summary("a1")
    indexed = indexed_of((moved, "my-app"))
    changed = view({OTHER.id: [in_project(moved, OTHER)]}, partial=True, complete=False)
    plan = plan_cycle(changed, folders(PROJECT, OTHER), indexed, (), NO_DELETE)
    assert plan.settle == []
    assert set(plan.unsettled) == {PROJECT.id, OTHER.id}  # where it was, and where it went


def test_a_not_modified_listing_gives_up_a_session_another_listing_now_holds() -> None:
    moved = summary("a1")
    indexed = indexed_of((moved, "my-app"))
    listings = {PROJECT.id: None, OTHER.id: [in_project(moved, OTHER)]}
    plan = plan_cycle(view(listings), folders(PROJECT, OTHER), indexed, (), DELETE)
    (other,) = [p for p in plan.projects if p.project.id == OTHER.id]
    (mine,) = [p for p in plan.projects if p.project.id == PROJECT.id]
    assert [r.path.split("/")[0] for r in other.rewrites] == ["other"]  # it moves, no download
    assert mine.unchanged == []
    assert plan.removals == []


def test_a_session_listed_by_two_projects_is_planned_once() -> None:
    twice = summary("a1")
    listings = {PROJECT.id: [twice], OTHER.id: [in_project(twice, OTHER)]}
    plan = plan_cycle(view(listings), {}, {}, (), DELETE)
    assert sum(len(p.fetches) for p in plan.projects) == 1
    assert OTHER.id in plan.unsettled


def test_a_project_gone_from_the_cloud_goes_with_its_last_session() -> None:
    gone = in_project(summary("b1"), OTHER)
    indexed = indexed_of((gone, "other"))
    plan = plan_cycle(view({PROJECT.id: []}), folders(PROJECT, OTHER), indexed, (), DELETE)
    assert [r.record.id for r in plan.removals] == ["b1"]
    assert [(d.project_id, d.dirname) for d in plan.drops] == [(OTHER.id, "other")]


def test_a_short_listing_removes_nothing_and_is_never_settled() -> None:
    listed, missing = summary("a1"), summary("a2")
    elsewhere = in_project(summary("b1"), OTHER)
    indexed = indexed_of((listed, "my-app"), (missing, "my-app"), (elsewhere, "other"))
    short = view({PROJECT.id: [listed], OTHER.id: []}, incomplete=frozenset({PROJECT.id}))
    plan = plan_cycle(short, folders(PROJECT, OTHER), indexed, (), DELETE)
    assert plan.removals == []
    assert plan.drops == []
    assert plan.refusals == []
    assert PROJECT.id in plan.unsettled
    assert PROJECT.id not in settled(plan)
    assert OTHER.id in plan.unsettled  # its missing session waits for a whole listing


def test_what_a_short_listing_holds_is_still_mirrored() -> None:
    fresh = summary("a1")
    short = view({PROJECT.id: [fresh]}, incomplete=frozenset({PROJECT.id}))
    plan = plan_cycle(short, folders(PROJECT), {}, (), DELETE)
    assert [f.session.id for p in plan.projects for f in p.fetches] == ["a1"]
    assert settled(plan) == set()


def test_a_short_project_list_drops_no_project() -> None:
    gone = in_project(summary("b1"), OTHER)
    indexed = indexed_of((gone, "other"))
    short = view({PROJECT.id: []}, projects_incomplete=True)
    plan = plan_cycle(short, folders(PROJECT, OTHER), indexed, (), DELETE)
    assert plan.removals == []
    assert plan.drops == []
    assert OTHER.id in plan.unsettled


def test_a_flawed_listing_removes_nothing_even_in_a_view_called_complete() -> None:
    kept, gone = summary("a1"), summary("a2")
    indexed = indexed_of((kept, "my-app"), (gone, "my-app"))
    flawed = view({PROJECT.id: [kept]}, flawed=frozenset({PROJECT.id}))
    plan = plan_cycle(flawed, folders(PROJECT), indexed, (), DELETE)
    assert plan.removals == []
    assert PROJECT.id in plan.unsettled


listed_ids = st.lists(st.sampled_from(["s1", "s2", "s3", "s4"]), unique=True)


@given(
    listed=st.tuples(listed_ids, listed_ids),
    held=st.tuples(listed_ids, listed_ids),
    complete=st.booleans(),
    partial=st.booleans(),
    allowed=st.booleans(),
    short=st.frozensets(st.sampled_from([PROJECT.id, OTHER.id])),
    projects_short=st.booleans(),
)
def test_a_settled_project_is_left_with_nothing_missing(
    listed: tuple[list[str], list[str]],
    held: tuple[list[str], list[str]],
    complete: bool,
    partial: bool,
    allowed: bool,
    short: frozenset[str],
    projects_short: bool,
) -> None:
    """Whatever the listings, a listing ETag is only saved for a project whose indexed
    sessions are all listed by it, or moved to another listing, or removed by the plan."""
    projects = (PROJECT, OTHER)
    claimed: set[str] = set()
    pairs = []
    for project, ids in zip(projects, held, strict=True):
        for sid in ids:
            if sid not in claimed:
                claimed.add(sid)
                pairs.append((in_project(summary(sid), project), project.name.lower()))
    indexed = indexed_of(*pairs)
    listings: dict[str, list[Session] | None] = {
        project.id: [in_project(summary(sid), project) for sid in ids]
        for project, ids in zip(projects, listed, strict=True)
    }
    rules = DeletionRules(allowed=allowed, max_share=1.0)
    plan = plan_cycle(
        view(
            listings,
            complete=complete,
            partial=partial,
            incomplete=short,
            projects_incomplete=projects_short,
        ),
        folders(*projects),
        indexed,
        (),
        rules,
    )
    assert not settled(plan) & set(plan.unsettled)
    seen = {sid for ids in listed for sid in ids}
    removed = {r.record.id for r in plan.removals}
    for record in plan.settle:
        mine = {r.id for r in indexed.values() if r.project_id == record.id}
        assert mine <= seen | removed
    if partial or not complete or short or projects_short:
        assert not plan.removals
        assert not plan.drops
    assert not settled(plan) & short  # a short listing's ETag is never saved


# --- convergence: a plan carried out leaves nothing to do --------------------------------

listed_sessions = st.lists(
    st.builds(
        Session,
        id=st.text("abcdef0123", min_size=1, max_size=10),
        project_id=st.just(PROJECT.id),
        name=st.text(max_size=30),
        created_at=st.none() | st.just("2025-07-20T10:28:48.000Z"),
        started_at=st.none() | st.just("2025-07-21T08:00:00.000Z"),
        metadata=st.builds(
            SessionMetadata,
            device_id=st.none() | st.text(max_size=5),
            tags=st.lists(st.text(max_size=5), max_size=2).map(tuple),
        ),
        # (A session listed without an etag is always fetched: nothing tells it unchanged.)
        etag=st.sampled_from(['W/"1"', '"2"']),
    ),
    unique_by=lambda s: s.id,
    max_size=6,
)


def carried_out(plan_steps: list[Fetch]) -> dict[str, SessionRecord]:
    """The records the steps leave; a file named from its body is named by its words, which
    a body with no user message leaves `untitled` (its stand-in path is then its name)."""
    return {
        f.session.id: dataclasses.replace(
            record_of(f.session, f.path), name_words=None if f.body_name is None else "untitled"
        )
        for f in plan_steps
    }


@given(listed_sessions)
def test_a_plan_carried_out_leaves_nothing_to_do(listed: list[Session]) -> None:
    indexed = carried_out(plan_project(PROJECT, "my-app", listed, {}).fetches)
    again = plan_project(PROJECT, "my-app", listed, indexed)
    assert (again.fetches, again.rewrites, again.reindex) == ([], [], [])
    assert sorted(again.unchanged) == sorted(s.id for s in listed)


@given(listed_sessions, st.text(max_size=5))
def test_a_change_no_file_shows_only_refreshes_the_index(
    listed: list[Session], device: str
) -> None:
    indexed = carried_out(plan_project(PROJECT, "my-app", listed, {}).fetches)
    changed = [
        dataclasses.replace(s, metadata=dataclasses.replace(s.metadata, device_id=device))
        for s in listed
    ]
    again = plan_project(PROJECT, "my-app", changed, indexed)
    assert (again.fetches, again.rewrites) == ([], [])
    refreshed = {step.session.id for step in again.reindex}
    assert refreshed == {s.id for s in listed if s.metadata.device_id != device}
