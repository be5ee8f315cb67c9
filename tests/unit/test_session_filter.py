"""SessionFilter: the one definition of what `ls` and `search` keep."""

from __future__ import annotations

from syncd.index.filters import SessionFilter

SESSION = {
    "projects": ["proj_app", "App"],
    "tags": ["auth", "Bug"],
    "models": ["claude-sonnet-4", "gpt-5"],
    "started": "2026-01-10T09:00:00Z",
}


def test_no_filter_keeps_every_session() -> None:
    assert not SessionFilter()
    assert SessionFilter().keeps(projects=[], tags=[], models=[], started=None)


def test_an_empty_value_filters_nothing() -> None:
    assert not SessionFilter(project="", tag="", model="", since="")
    assert SessionFilter(project="", tag="").keeps(**SESSION)


def test_project_matches_a_name_or_the_id_in_any_case() -> None:
    assert SessionFilter(project="app").keeps(**SESSION)
    assert SessionFilter(project="PROJ_APP").keeps(**SESSION)
    assert not SessionFilter(project="ap").keeps(**SESSION)


def test_tag_matches_one_whole_tag_in_any_case() -> None:
    assert SessionFilter(tag="bug").keeps(**SESSION)
    assert not SessionFilter(tag="au").keeps(**SESSION)


def test_model_matches_part_of_a_model_name() -> None:
    assert SessionFilter(model="Claude").keeps(**SESSION)
    assert not SessionFilter(model="opus").keeps(**SESSION)


def test_since_keeps_sessions_started_on_or_after_it() -> None:
    assert SessionFilter(since="2026-01-10").keeps(**SESSION)
    assert not SessionFilter(since="2026-01-11").keeps(**SESSION)
    assert not SessionFilter(since="2026-01-01").keeps(**(SESSION | {"started": None}))


def test_every_filter_given_must_pass() -> None:
    assert SessionFilter(project="app", tag="auth", model="gpt").keeps(**SESSION)
    assert not SessionFilter(project="app", tag="ops").keeps(**SESSION)
