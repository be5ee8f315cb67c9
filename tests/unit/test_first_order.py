"""sync.first orders a plan's steps: the chosen downloads lead, everything else keeps its
order, and no step is dropped or doubled."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.models import Project
from syncd.model import Session, SessionRecord
from syncd.sync.plan import CyclePlan, Fetch, ProjectPlan, Rewrite


def _fetch(session_id: str, project_id: str) -> Fetch:
    return Fetch(Session(session_id, project_id), f"{project_id}/{session_id}.md", None, None)


def _rewrite(session_id: str, project_id: str) -> Rewrite:
    session = Session(session_id, project_id)
    previous = SessionRecord(id=session_id, project_id=project_id, path=f"{project_id}/old.md")
    return Rewrite(session, f"{project_id}/{session_id}.md", previous)


def _plan(layout: list[list[str]]) -> CyclePlan:
    projects = [
        ProjectPlan(
            Project(id=f"p{n}", name=f"P{n}"),
            f"p{n}",
            fetches=[_fetch(s, f"p{n}") for s in ids],
            rewrites=[_rewrite(f"r{n}", f"p{n}")],
        )
        for n, ids in enumerate(layout)
    ]
    return CyclePlan(projects=projects)


def _ids(plan: CyclePlan) -> list[str]:
    return [step.session.id for _, step in plan.session_steps()]


def test_chosen_downloads_lead_in_project_order() -> None:
    plan = dataclasses.replace(_plan([["a", "b"], ["c", "d"]]), first=frozenset({"d", "b"}))
    assert _ids(plan) == ["b", "d", "r0", "a", "r1", "c"]
    # Each step keeps its own project's plan (the executor writes under its folder).
    assert [p.project.id for p, _ in plan.session_steps()][:2] == ["p0", "p1"]


def test_a_rewrite_is_never_moved_ahead() -> None:
    plan = dataclasses.replace(_plan([["a"]]), first=frozenset({"r0", "zzz"}))
    assert _ids(plan) == ["r0", "a"]


@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=4), max_size=3),
    st.frozensets(st.sampled_from("abcdefghxy")),
)
def test_no_step_is_dropped_or_doubled(layout: list[list[str]], first: frozenset[str]) -> None:
    seen: set[str] = set()
    layout = [[s for s in ids if not (s in seen or seen.add(s))] for ids in layout]
    plain = _plan(layout)
    ordered = dataclasses.replace(plain, first=first)
    assert sorted(_ids(ordered)) == sorted(_ids(plain))
    leading = [s for s in _ids(ordered) if s in first]
    assert _ids(ordered)[: len(leading)] == leading
    rest = [s for s in _ids(plain) if s not in leading]
    assert _ids(ordered)[len(leading) :] == rest
