"""`--since` forms: each becomes the UTC moment it names, in the index's text shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncd.cli.since import parse_since

NOW = datetime(2026, 3, 10, 14, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2025-07-20", "2025-07-20"),
        ("2025-07-20T10:30", "2025-07-20T10:30:00"),
        ("2025-07-20 10:30:05", "2025-07-20T10:30:05"),
        ("2025-07-20T12:30+02:00", "2025-07-20T10:30:00"),
        ("2025-07-20T10:30:00Z", "2025-07-20T10:30:00"),
        ("30m", "2026-03-10T14:00:15"),
        ("12h", "2026-03-10T02:30:15"),
        ("7d", "2026-03-03T14:30:15"),
        ("2w", "2026-02-24T14:30:15"),
        (" 7D ", "2026-03-03T14:30:15"),
        ("today", "2026-03-10"),
        ("Yesterday", "2026-03-09"),
    ],
)
def test_each_form_names_a_utc_moment(text: str, moment: str) -> None:
    assert parse_since(text, NOW) == moment


def test_days_are_utc_days_whatever_the_clock_zone() -> None:
    late_evening_west = datetime(2026, 3, 9, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_since("today", late_evening_west) == "2026-03-10"


def test_a_session_started_at_the_moment_itself_is_kept() -> None:
    # Compared as text with the index's "2026-03-03T14:30:15.000Z".
    assert parse_since("7d", NOW) <= "2026-03-03T14:30:15.000Z"
    assert parse_since("7d", NOW) > "2026-03-03T14:30:14.999Z"


@pytest.mark.parametrize(
    "text", ["last week", "7", "7 days", "-7d", "2025-13-01", "2025-02-30", "", "1y"]
)
def test_anything_else_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"7d, 2w\), today or yesterday") as raised:
        parse_since(text, NOW)
    assert repr(text) in str(raised.value)
