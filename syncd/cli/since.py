"""`--since`: the start of the period `ls` and `search` keep, from the forms people type.

The mirror's times are UTC ISO 8601 strings (`2025-07-20T10:28:48.000Z`), compared as
text, so every form becomes the UTC moment it names in that shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

ACCEPTED = (
    "a date (2025-07-20), a time (2025-07-20T10:30, 2025-07-20 10:30+02:00), "
    "a span back from now (30m, 12h, 7d, 2w), today or yesterday; "
    "dates and times without an offset are UTC"
)

_SPAN = re.compile(r"(?P<count>\d+)\s*(?P<unit>[mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_since(text: str, now: datetime) -> str:
    """The UTC moment `text` names, as the index writes times; ValueError names the
    accepted forms. `now` is an aware datetime (spans and days count back from it)."""
    value = text.strip().lower()
    if value in ("today", "yesterday"):
        day = now.astimezone(UTC).date() - timedelta(days=1 if value == "yesterday" else 0)
        return day.isoformat()
    if span := _SPAN.fullmatch(value):
        back = timedelta(**{_UNITS[span["unit"]]: int(span["count"])})
        return _utc_text(now - back)
    if _DATE.fullmatch(value):
        try:
            return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date; use {ACCEPTED}") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date, time or span; use {ACCEPTED}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _utc_text(moment)


def _utc_text(moment: datetime) -> str:
    # Seconds, no offset: "2025-07-20T10:28:48" sorts before "2025-07-20T10:28:48.000Z".
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
