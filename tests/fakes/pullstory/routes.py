"""The PullStory endpoints under /api/v1: auth, per-endpoint rate limits, and routing.

Bodies are the API's own: the story object or usage as is, and errors as
`{"error": {"code", "message", ...}}` (no SpecStory success/data envelope).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from syncd.devserver.headers import bearer_matches
from syncd.devserver.ratelimit import RateDecision, RateWindow
from syncd.devserver.responses import Response, json_response
from tests.fakes.pullstory.brief import InvalidBriefError, brief_facts, validate_brief
from tests.fakes.pullstory.state import UPGRADE_URL, QuotaExceededError, StoryBook

API_PREFIX = "/api/v1"
STORIES = f"{API_PREFIX}/stories"
USAGE = f"{API_PREFIX}/me/usage"
STORY_ID = re.compile(r"brief_[a-f0-9]{16}")
WINDOW_SECONDS = 60.0
# The docs give 202 for a brief already generating; a new generation answers the same
# (they give it no status of its own), which makes clients accept any 2xx.
GENERATING_STATUS = 202

Endpoint = Literal["create_story", "get_story", "other"]
_ENDPOINT_NAMES: dict[Endpoint, str] = {
    "create_story": "POST /stories",
    "get_story": "GET /stories/{id}",
    "other": "this endpoint",
}


def endpoint_of(method: str, path: str) -> Endpoint:
    """Which rate limit a request counts against."""
    if method == "POST" and path == STORIES:
        return "create_story"
    if method == "GET" and path.startswith(STORIES + "/"):
        return "get_story"
    return "other"


class RateLimits:
    """One fixed 60 s window per endpoint group; a None limit never refuses."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        create_story: int | None,
        get_story: int | None,
        other: int | None,
    ) -> None:
        self._windows: dict[Endpoint, RateWindow] = {
            "create_story": RateWindow(create_story, WINDOW_SECONDS, clock),
            "get_story": RateWindow(get_story, WINDOW_SECONDS, clock),
            "other": RateWindow(other, WINDOW_SECONDS, clock),
        }

    def hit(self, endpoint: Endpoint) -> RateDecision:
        return self._windows[endpoint].hit()


def error_response(
    status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = (), **extra: object
) -> Response:
    """`{"error": {"code": code, "message": message, **extra}}` with the given status."""
    return json_response(status, {"error": {"code": code, "message": message, **extra}}, headers)


class _Refusal(Exception):
    """Ends a request with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class PullStoryApi:
    token: str
    book: StoryBook
    limits: RateLimits

    def gate(self, method: str, path: str, authorization: str | None) -> Response | None:
        """401 or 429 for a request that may not be served, else None.

        Only authenticated requests count against the rate limits (they are per key).
        """
        if not bearer_matches(authorization, self.token):
            message = "Missing or invalid API key; send 'Authorization: Bearer ps_live_...'"
            return error_response(401, "unauthorized", message, [("WWW-Authenticate", "Bearer")])
        endpoint = endpoint_of(method, path)
        decision = self.limits.hit(endpoint)
        if decision.allowed:
            return None
        message = (
            f"Rate limit of {decision.limit} requests per minute exceeded for "
            f"{_ENDPOINT_NAMES[endpoint]}; retry in {decision.retry_after} s"
        )
        headers = [("Retry-After", str(decision.retry_after))]
        return error_response(
            429, "rate_limit_exceeded", message, headers, retry_after=decision.retry_after
        )

    def handle(self, method: str, path: str, body: bytes) -> Response:
        """Answer one authorized, unthrottled request; never raises for a bad request."""
        try:
            return self._route(method, path, body)
        except _Refusal as refusal:
            return refusal.response

    def _route(self, method: str, path: str, body: bytes) -> Response:
        if path == STORIES:
            _allow(method, "POST")
            return self._create(body)
        if path.startswith(STORIES + "/") and "/" not in path[len(STORIES) + 1 :]:
            _allow(method, "GET")
            return self._get(unquote(path[len(STORIES) + 1 :]))
        if path == USAGE:
            _allow(method, "GET")
            return json_response(200, self.book.usage())
        raise _Refusal(error_response(404, "not_found", f"No such endpoint: {method} {path}"))

    def _create(self, body: bytes) -> Response:
        try:
            facts = brief_facts(validate_brief(_parse_json(body)))
        except InvalidBriefError as exc:
            return error_response(422, "invalid_brief", str(exc))
        try:
            submission = self.book.submit(facts)
        except QuotaExceededError as exc:
            return error_response(
                402,
                "insufficient_minutes",
                str(exc),
                minutes_remaining=exc.remaining,
                minutes_required=exc.required,
                upgrade_url=UPGRADE_URL,
            )
        return json_response(GENERATING_STATUS if submission.generating else 200, submission.story)

    def _get(self, story_id: str) -> Response:
        if STORY_ID.fullmatch(story_id) is None:
            message = f"Story id must match ^brief_[a-f0-9]{{16}}$, got {story_id!r}"
            return error_response(400, "invalid_story_id", message)
        story = self.book.poll(story_id)
        if story is None:
            return error_response(404, "story_not_found", f"No story with id {story_id}")
        return json_response(200, story)


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        message = f"Method {method} not allowed here; use {allowed}"
        headers = [("Allow", allowed)]
        raise _Refusal(error_response(405, "method_not_allowed", message, headers))


def _parse_json(body: bytes) -> object:
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Refusal(
            error_response(400, "invalid_json", f"Request body is not valid JSON: {exc}")
        ) from exc


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
