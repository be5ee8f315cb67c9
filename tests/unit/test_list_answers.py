"""Reading list answers item by item: repeated ids, lone surrogates, totals and cursors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.cloud.answers import next_cursor, recent_items, stated_total
from syncd.cloud.models import (
    PROJECT_VOLATILE,
    ListCount,
    Project,
    SessionSummary,
    parse_items,
    printable,
    repaired,
)
from syncd.errors import BadResponseError

URL = "http://cloud/api/v1/projects"


def session(sid: str, name: str = "n", **extra: object) -> dict[str, object]:
    return {"id": sid, "projectId": "proj_1", "name": name, **extra}


def test_identical_copies_are_kept_once() -> None:
    items: list[object] = [session("a"), session("b"), session("a")]
    parsed, errors, arrived = parse_items(SessionSummary, items)
    assert [s.id for s in parsed] == ["a", "b"]
    assert errors == []
    assert arrived == 2


def test_differing_copies_are_left_out_with_one_error_naming_the_id() -> None:
    items: list[object] = [session("a"), session("b"), session("a", name="other")]
    parsed, errors, arrived = parse_items(SessionSummary, items)
    assert [s.id for s in parsed] == ["b"]
    (error,) = errors
    assert error.item_id == "a"
    assert error.position == 0
    assert "listed 2 times with different content" in error.problem
    assert arrived == 2


def test_a_copy_that_cannot_be_read_makes_the_id_doubtful_too() -> None:
    items: list[object] = [session("a"), {"id": "a", "projectId": 5}]
    parsed, errors, _ = parse_items(SessionSummary, items)
    assert parsed == []
    assert {e.item_id for e in errors} == {"a"}
    assert len(errors) == 2  # the unreadable copy, and the doubt it casts on the other


def test_the_same_broken_item_twice_is_one_error() -> None:
    broken = {"id": "x", "projectId": None}
    parsed, errors, arrived = parse_items(SessionSummary, [broken, dict(broken)])
    assert parsed == []
    assert len(errors) == 1
    assert arrived == 1


def test_projects_differing_only_in_server_set_times_are_the_same() -> None:
    items: list[object] = [
        {"id": "p", "name": "P", "createdAt": "2026-01-01T00:00:00.001Z"},
        {"id": "p", "name": "P", "createdAt": "2026-01-01T00:00:00.002Z"},
    ]
    parsed, errors, _ = parse_items(Project, items, volatile=PROJECT_VOLATILE)
    assert [p.id for p in parsed] == ["p"]
    assert errors == []
    assert parse_items(Project, items)[1]  # without the exception they differ


def test_lone_surrogates_in_text_become_replacement_characters() -> None:
    item = session("a", name="x\ud800y", metadata={"tags": ["t\udfff"], "deviceId": "\udc00"})
    (parsed,), errors, _ = parse_items(SessionSummary, [item])
    assert errors == []
    assert parsed.name == "x\ufffdy"
    assert parsed.metadata.tags == ["t\ufffd"]
    assert parsed.metadata.device_id == "\ufffd"


@pytest.mark.parametrize("field", ["id", "projectId"])
def test_a_lone_surrogate_in_an_id_is_an_item_error_naming_it_printably(field: str) -> None:
    item = {**session("ok"), field: "bad\ud800"}
    parsed, (error,), _ = parse_items(SessionSummary, [item])
    assert parsed == []
    assert "lone surrogate" in error.problem
    assert error.item_id == ("bad\\ud800" if field == "id" else "ok")
    error.problem.encode("utf-8")  # loggable and storable
    (error.item_id or "").encode("utf-8")


@given(st.text())
def test_repaired_and_printable_text_is_always_utf8(text: str) -> None:
    repaired(text).encode("utf-8")
    printable(text).encode("utf-8")
    assert repaired(text) == text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def test_missing_counts_only_what_the_total_says_beyond_what_arrived() -> None:
    assert ListCount(10, 8).missing == 2
    assert ListCount(5, 8).missing == 0
    assert ListCount(None, 8).missing == 0


@pytest.mark.parametrize(
    ("data", "total"),
    [({"total": 7}, 7), ({"total": 0}, 0), ({}, None), ({"total": True}, None),
     ({"total": -1}, None), ({"total": "7"}, None), ({"total": 7.0}, None)],
)  # fmt: skip
def test_only_a_count_is_a_total(data: dict[str, object], total: int | None) -> None:
    assert stated_total(data) == total


def test_the_next_cursor_is_found_in_data_or_beside_it() -> None:
    assert next_cursor({}, {"nextCursor": "c1"}, URL) == "c1"
    assert next_cursor({"nextCursor": "c2"}, {}, URL) == "c2"
    assert next_cursor({"nextCursor": None}, {"nextCursor": ""}, URL) is None
    assert next_cursor({}, {}, URL) is None


@pytest.mark.parametrize("cursor", [7, "x" * 5000, "c\ud800"])
def test_a_cursor_that_cannot_be_sent_back_fails_the_listing(cursor: object) -> None:
    with pytest.raises(BadResponseError):
        next_cursor({}, {"nextCursor": cursor}, URL)


def test_recent_items_come_in_three_shapes() -> None:
    items = [session("a")]
    assert recent_items({"success": True, "data": {"sessions": items}}, URL) == items
    assert recent_items({"success": True, "data": items}, URL) == items
    assert recent_items(list(items), URL) == items
    with pytest.raises(BadResponseError):
        recent_items({"success": True, "data": "nope"}, URL)
