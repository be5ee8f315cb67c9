"""PullStory REST client: create a story from a brief, follow it, read the usage.

No retries and no sleeping here: the push queue decides when to call (it owns the pacing
within PullStory's per-endpoint limits). httpx errors become syncd.errors at this edge;
the token is only ever in the Authorization header.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from syncd.errors import (
    BriefRejectedError,
    PullStoryAuthError,
    PullStoryRateLimitedError,
    PullStoryUnavailableError,
    QuotaExhaustedError,
    StoryNotFoundError,
    redact_url,
)
from syncd.index.statuses import StoryStatus

logger = logging.getLogger(__name__)

_STORY_ID = re.compile(r"brief_[a-f0-9]{16}")
# What GET /stories/{id} may answer; queued, rejected and superseded are syncd's own.
_ANSWERED = frozenset({StoryStatus.GENERATING, StoryStatus.READY, StoryStatus.FAILED})


@dataclass(frozen=True)
class Story:
    id: str
    status: StoryStatus  # generating | ready | failed
    url: str | None
    cached: bool
    message: str | None
    estimated_seconds: int | None
    duration_seconds: int | None
    error: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any], url: str) -> Story:
        story_id, status = data.get("id"), data.get("status")
        if not isinstance(story_id, str) or status not in _ANSWERED:
            raise PullStoryUnavailableError(url, "the answer is not a story")
        return cls(
            id=story_id,
            status=StoryStatus(status),
            url=_text(data.get("url")),
            cached=data.get("cached") is True,
            message=_text(data.get("message")),
            estimated_seconds=_number(data.get("estimated_seconds")),
            duration_seconds=_number(data.get("duration_seconds")),
            error=_text(data.get("error")),
        )


@dataclass(frozen=True)
class Usage:
    plan: str | None
    minutes_included: float | None
    minutes_used: float | None
    minutes_remaining: float
    period_end: float | None = None  # epoch seconds; None when absent or unreadable


class PullStoryClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        # Shown in messages and logs: never a password the URL may carry.
        self.base_url = redact_url(base_url)
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "syncd"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PullStoryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_story(self, brief: dict[str, Any]) -> Story:
        return Story.from_json(self._call("POST", "/stories", brief), self._url("/stories"))

    def get_story(self, story_id: str) -> Story:
        if not _STORY_ID.fullmatch(story_id):
            raise StoryNotFoundError(self._url("/stories/") + repr(story_id))
        path = f"/stories/{story_id}"
        return Story.from_json(self._call("GET", path, None), self._url(path))

    def usage(self) -> Usage:
        data = self._call("GET", "/me/usage", None)
        remaining = _float(data.get("minutes_remaining"))
        if remaining is None:
            raise PullStoryUnavailableError(self._url("/me/usage"), "no minutes_remaining")
        return Usage(
            plan=_text(data.get("plan")),
            minutes_included=_float(data.get("minutes_included")),
            minutes_used=_float(data.get("minutes_used")),
            minutes_remaining=remaining,
            period_end=_moment(data.get("period_end")),
        )

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = self._url(path)
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise PullStoryUnavailableError(url, type(exc).__name__) from exc
        logger.debug("%s %s -> %d", method, url, response.status_code)
        data = _json(response)
        status = response.status_code
        if 200 <= status < 300:
            return data
        raw_error = data.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        explained = _text(error.get("message"))
        message = explained or f"HTTP {status}"
        if status == 401:
            raise PullStoryAuthError(self.base_url)
        if status == 402:
            raise QuotaExhaustedError(
                _float(error.get("minutes_remaining")),
                _float(error.get("minutes_required")),
                _text(error.get("upgrade_url")),
            )
        if status == 429:
            raise PullStoryRateLimitedError(url, _retry_after(response, error))
        if status == 404 and method == "GET" and path.startswith("/stories/"):
            raise StoryNotFoundError(url)
        if 400 <= status < 500 and status not in (408, 425):
            # Any other refusal of the request itself: sending it again would not help.
            raise BriefRejectedError(status, message)
        raise PullStoryUnavailableError(
            url, f"HTTP {status}: {explained}" if explained else message
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(response: httpx.Response, error: dict[str, Any]) -> float:
    header = response.headers.get("retry-after")
    if header and header.strip().isdigit():
        return float(header)
    if header:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(header).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return _float(error.get("retry_after")) or 60.0


def _moment(value: object) -> float | None:
    """An ISO 8601 time ("2026-02-01T00:00:00Z") as epoch seconds; None if it is not one.
    A time without a zone is taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
