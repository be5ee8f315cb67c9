"""The deletion guard: what a listing says is gone, and when removing it is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.model import SessionRecord
from syncd.sync.deletions import allowed_count, guard, plan_deletions

ids = st.sets(st.text("abcdef", min_size=1, max_size=3), max_size=12)
shares = st.floats(min_value=0.0, max_value=1.0)


def indexed(project_ids: dict[str, str]) -> dict[str, SessionRecord]:
    return {
        sid: SessionRecord(
            id=sid, project_id=pid, path=f"{pid}/{sid}.md", etag=None, markdown_size=None
        )
        for sid, pid in project_ids.items()
    }


@given(mine=ids, others=ids, listed=ids, share=shares, mass=st.booleans())
def test_only_this_projects_unlisted_sessions_are_candidates(
    mine: set[str], others: set[str], listed: set[str], share: float, mass: bool
) -> None:
    held = indexed({f"o{sid}": "proj_2" for sid in others} | dict.fromkeys(mine, "proj_1"))
    plan = plan_deletions("proj_1", "App", listed, held, max_share=share, allow_mass_delete=mass)
    assert {r.id for r in plan.candidates} == mine - listed
    assert [r.path for r in plan.candidates] == sorted(r.path for r in plan.candidates)


@given(mine=ids, listed=ids, share=shares)
def test_the_guard_refuses_exactly_more_than_the_share(
    mine: set[str], listed: set[str], share: float
) -> None:
    plan = plan_deletions(
        "proj_1",
        "App",
        listed,
        indexed(dict.fromkeys(mine, "proj_1")),
        max_share=share,
        allow_mass_delete=False,
    )
    too_many = len(plan.candidates) > allowed_count(len(mine), share)
    assert (plan.refusal is not None) is too_many


@given(mine=ids, listed=ids, share=shares)
def test_allowing_a_mass_delete_never_refuses(
    mine: set[str], listed: set[str], share: float
) -> None:
    held = indexed(dict.fromkeys(mine, "proj_1"))
    plan = plan_deletions("proj_1", "App", listed, held, max_share=share, allow_mass_delete=True)
    assert plan.refusal is None


@given(total=st.integers(min_value=2, max_value=10_000), share=st.floats(0.0, 0.99))
def test_an_empty_listing_never_empties_a_project(total: int, share: float) -> None:
    assert guard(total, total, "sessions", share) is not None


@given(total=st.integers(min_value=0, max_value=10_000), share=shares)
def test_one_removal_is_always_allowed(total: int, share: float) -> None:
    assert guard(1, max(total, 1), "sessions", share) is None


@given(
    removing=st.integers(min_value=0, max_value=1000),
    total=st.integers(min_value=0, max_value=1000),
    share=shares,
)
def test_a_refusal_says_how_to_go_ahead(removing: int, total: int, share: float) -> None:
    refusal = guard(removing, total, "sessions", share)
    if refusal is not None:
        assert "--allow-mass-delete" in refusal
        assert f"refusing to remove {removing} of {total}" in refusal
