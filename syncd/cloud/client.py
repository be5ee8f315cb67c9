"""SpecStory Cloud REST client: bearer auth, conditional requests, bounded retries, streaming.

httpx exceptions are translated here, once, into syncd.errors; nothing above this module
sees them. The API key lives only in the Authorization header and is never formatted into
a message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from syncd.cloud.body import SessionBody, describe_error, int_header
from syncd.cloud.budget import RateBudget
from syncd.cloud.models import (
    ItemError,
    Project,
    SessionListing,
    SessionSummary,
    etags_match,
    parse_items,
    valid_etag,
)
from syncd.errors import (
    AuthError,
    BadResponseError,
    BudgetExhaustedError,
    CloudError,
    CloudUnavailableError,
    NotFoundError,
    RateLimitedError,
    RequestNotSentError,
    TransferInterruptedError,
    redact_url,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request tries before its item is reported as failed."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Longest Retry-After a run will sit through; longer ones fail the item instead.
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Exponential backoff with full jitter; jitter is a number in [0, 1)."""
        return float(min(self.max_delay, self.base_delay * 2**attempt) * jitter)


@dataclass
class RequestStats:
    """What a run spent; the sync run record is built from it."""

    requests: int = 0
    not_modified: int = 0

    def record(self, status: int) -> None:
        self.requests += 1
        if status == 304:
            self.not_modified += 1


class CloudClient:
    """Talks to one SpecStory Cloud base URL with one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        budget: RateBudget | None = None,
        max_budget_wait: float = 60.0,
    ) -> None:
        base_url = base_url.rstrip("/")
        # Shown in messages, logs and front matter: never a password the URL may carry.
        self.base_url = redact_url(base_url)
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        # Every request passes through one budget; interactive when nobody says otherwise.
        self.budget = budget or RateBudget(interactive=True)
        self.max_budget_wait = max_budget_wait
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            base_url=base_url + API_PREFIX,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "syncd"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def session_url(self, project_id: str, session_id: str) -> str:
        """Where a session lives on the server (recorded in front matter as its source)."""
        return self._url(_session_path(project_id, session_id))

    def session_exists(self, project_id: str, session_id: str) -> bool:
        """HEAD on the session: False only on a clear 404 (how deletions are confirmed)."""
        path = _session_path(project_id, session_id)
        try:
            with self._send("HEAD", path, {}):
                return True
        except NotFoundError:
            return False

    # --- endpoints -------------------------------------------------------------------

    def list_projects(self) -> tuple[list[Project], list[ItemError]]:
        answer = self._get_json("/projects")
        return parse_items(Project, _list_field(answer.data, "projects", self._url("/projects")))

    def list_sessions(self, project_id: str, etag: str | None = None) -> SessionListing | None:
        """A project's session summaries, or None when the listing still matches `etag`."""
        path = _sessions_path(project_id)
        etag = valid_etag(etag)  # one an older syncd saved may not be sendable
        answer = self._get_json_unless(path, etag) if etag else self._get_json(path)
        return None if answer is None else self._listing(project_id, answer)

    def list_sessions_afresh(self, project_id: str) -> SessionListing:
        """A project's session summaries, asked for without any ETag (never a 304)."""
        return self._listing(project_id, self._get_json(_sessions_path(project_id)))

    def _listing(self, project_id: str, answer: _JsonAnswer) -> SessionListing:
        url = self._url(_sessions_path(project_id))
        sessions, errors = parse_items(SessionSummary, _list_field(answer.data, "sessions", url))
        return SessionListing(project_id, sessions, answer.etag, errors)

    def recent_sessions(self, limit: int = 100) -> tuple[list[SessionSummary], list[ItemError]]:
        answer = self._get_json(f"/sessions/recent?limit={limit}")
        url = self._url("/sessions/recent")
        return parse_items(SessionSummary, _list_field(answer.data, "sessions", url))

    @contextmanager
    def session_body(
        self,
        project_id: str,
        session_id: str,
        *,
        if_none_match: str | None = None,
        listed_etag: str | None = None,
        listed_size: int | None = None,
    ) -> Iterator[SessionBody | None]:
        """Open a session's Markdown for streaming; yields None when unchanged (304).

        The listing's size is enforced only when the body is the version the listing
        described (same etag); a newer body is checked against its Content-Length.
        """
        path = _session_path(project_id, session_id)
        # identity: the size checks and the bytes on disk must be the body itself, never a
        # compressed form of it (a gzip-ing proxy would otherwise corrupt files).
        headers = {"Accept": "text/markdown", "Accept-Encoding": "identity"}
        if_none_match = valid_etag(if_none_match)  # one an older syncd saved may not be sendable
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        with self._send("GET", path, headers) as response:
            if response.status_code == 304:
                yield None
                return
            same_version = listed_etag is None or etags_match(
                valid_etag(response.headers.get("etag")), listed_etag
            )
            expected = listed_size if same_version else None
            yield SessionBody(response, session_id, self._url(path), expected)

    # --- transport -------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path.split('?')[0]}"

    def _get_json(self, path: str) -> _JsonAnswer:
        answer = self._get_json_unless(path, None)
        if answer is None:
            raise BadResponseError(self._url(path), "304 Not Modified for an unconditional GET")
        return answer

    def _get_json_unless(self, path: str, etag: str | None) -> _JsonAnswer | None:
        """GET a JSON answer, None when it still matches `etag` (304); a body that broke or
        arrived garbled is retried like any failed attempt (each one a budgeted request)."""
        url = self._url(path)
        headers = {"If-None-Match": etag} if etag else {}
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            response = self._attempt("GET", path, headers, attempt, last)
            if response is None:
                continue
            try:
                if response.status_code == 304:
                    return None
                etag = valid_etag(response.headers.get("etag"))
                return _JsonAnswer(self._read_json(response, url), etag)
            except _BrokenBody as exc:
                if last:
                    raise exc.error from exc
                logger.warning("%s; trying again", exc.error.message)
            finally:
                response.close()
            self._sleep(self.retry.backoff(attempt, self._jitter()))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_json(self, response: httpx.Response, url: str) -> dict[str, Any]:
        try:
            response.read()
        except httpx.HTTPError as exc:
            raise _BrokenBody(TransferInterruptedError(url, describe_error(exc))) from exc
        try:
            payload = response.json()
        except ValueError as exc:
            error = BadResponseError(url, f"body is not JSON ({describe_error(exc)})")
            raise _BrokenBody(error) from exc
        if not isinstance(payload, dict) or payload.get("success") is not True:
            raise BadResponseError(url, "missing {'success': true} wrapper")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise BadResponseError(url, "'data' is not an object")
        return data

    @contextmanager
    def _send(self, method: str, path: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One logical request whose body the caller streams: retried on connection errors,
        5xx and short 429 waits until an answer is final."""
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            response = self._attempt(method, path, headers, attempt, last)
            if response is None:
                continue
            try:
                yield response
            finally:
                response.close()
            return

    def _attempt(
        self, method: str, path: str, headers: dict[str, str], attempt: int, last: bool
    ) -> httpx.Response | None:
        """Send once: the response when it is final, None after waiting to try again.

        On the last attempt a failure is raised instead (translated into syncd.errors).
        """
        url = self._url(path)
        self._await_budget()
        self.budget.note_send()
        try:
            request = self._http.build_request(method, path, headers=headers)
        except (ValueError, httpx.HTTPError) as exc:  # a header value that cannot be sent
            # from None: the exception's text could quote our headers (the key).
            raise RequestNotSentError(
                url, f"a header cannot be sent ({type(exc).__name__})"
            ) from None
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            self.stats.record(0)
            logger.debug("%s %s failed: %s", method, url, describe_error(exc))
            if last:
                raise CloudUnavailableError(url, describe_error(exc)) from exc
            self._sleep(self.retry.backoff(attempt, self._jitter()))
            return None
        self._observe(response)
        logger.debug("%s %s -> %d", method, url, response.status_code)
        try:
            wait = self._retry_wait(response, url, attempt, last)
        except BaseException:
            response.close()
            raise
        if wait is None:
            return response
        response.close()
        if wait > 0:
            self._sleep(wait)
        return None

    def _retry_wait(
        self, response: httpx.Response, url: str, attempt: int, last: bool
    ) -> float | None:
        """None when the response is final; else how long to wait before trying again."""
        status = response.status_code
        if status in (200, 304):
            return None
        if status == 401:
            raise AuthError(self.base_url)
        if status == 404:
            raise NotFoundError(url)
        if status == 429:
            retry_after = _retry_after_seconds(
                response.headers.get("retry-after"), self.budget.now()
            )
            self.budget.block(retry_after)
            if last or retry_after > self.retry.max_retry_after:
                raise RateLimitedError(url, retry_after)
            return 0.0  # the budget now holds every request until Retry-After has passed
        if status >= 500:
            if last:
                raise CloudUnavailableError(url, f"HTTP {status} after {attempt + 1} attempts")
            return self.retry.backoff(attempt, self._jitter())
        raise BadResponseError(url, f"HTTP {status}")

    def _await_budget(self) -> None:
        """Wait until the budget lets a request go, or give up when that is too long."""
        for _ in range(3):  # a wait can end a hair early; never spin
            wait = self.budget.delay()
            if wait <= 0:
                return
            # Pacing waits are part of the plan; only a spent budget ends the cycle early.
            if wait > self.max_budget_wait and self.budget.waiting_for_reset():
                raise BudgetExhaustedError(self.budget.now() + wait, wait)
            self._sleep(wait)

    def _observe(self, response: httpx.Response) -> None:
        self.stats.record(response.status_code)
        limit = int_header(response.headers.get("x-ratelimit-limit"))
        remaining = int_header(response.headers.get("x-ratelimit-remaining"))
        reset = int_header(response.headers.get("x-ratelimit-reset"))
        if limit is not None and remaining is not None and reset is not None:
            self.budget.observe(limit, remaining, float(reset))
        if response.status_code < 400:
            self.budget.note_success()


@dataclass(frozen=True)
class _JsonAnswer:
    data: dict[str, Any]  # the envelope's `data` object
    etag: str | None


class _BrokenBody(Exception):
    """A body that broke off or arrived garbled: worth another attempt, unlike a wrong shape."""

    def __init__(self, error: CloudError) -> None:
        super().__init__(error.message)
        self.error = error


def _list_field(data: dict[str, Any], key: str, url: str) -> list[object]:
    items = data.get(key)
    if not isinstance(items, list):
        raise BadResponseError(url, f"'data.{key}' is not a list")
    return items


def _sessions_path(project_id: str) -> str:
    return f"/projects/{_quote(project_id)}/sessions"


def _session_path(project_id: str, session_id: str) -> str:
    return f"/projects/{_quote(project_id)}/sessions/{_quote(session_id)}"


def _quote(segment: str) -> str:
    """One path segment, percent-encoded; ids are opaque and may hold '/', '?' or '..'."""
    quoted = urllib.parse.quote(segment, safe="")
    return quoted.replace(".", "%2E") if set(quoted) <= {"."} else quoted


def _retry_after_seconds(value: str | None, now: float) -> float:
    """Retry-After as seconds: an integer or an HTTP date; unreadable means a cautious 60 s."""
    if value is None:
        return 60.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 60.0
    return max(0.0, when.timestamp() - now)
