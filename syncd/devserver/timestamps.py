"""Time as the protocol writes it: epoch milliseconds inside, ISO 8601 and HTTP dates outside."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate


def to_millis(epoch_seconds: float) -> int:
    """Epoch seconds (as a clock returns them) to whole epoch milliseconds."""
    return round(epoch_seconds * 1000)


def iso_ms(millis: int) -> str:
    """`2024-01-15T14:45:30.000Z`: UTC, millisecond precision, `Z` suffix."""
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def http_date(millis: int) -> str:
    """An RFC 9110 IMF-fixdate, as Last-Modified carries it."""
    return formatdate(millis / 1000, usegmt=True)


def parse_iso(value: str) -> int:
    """Epoch milliseconds of an ISO 8601 timestamp; a value without a zone is taken as UTC.

    Raises ValueError when the text is not a timestamp.
    """
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)
