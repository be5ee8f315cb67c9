"""SpecStory Cloud REST client: bearer auth, conditional requests, bounded retries, streaming.

httpx exceptions are translated here, once, into syncd.errors; nothing above this module
sees them. The API key lives only in the Authorization header and is never formatted into
a message. What the server sends is bounded before it is used: its headers by `headers`,
a body's size by `body`, every body's pace and a JSON answer's size and depth by `transfer`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

import syncd
from syncd.cloud import head_deadline
from syncd.cloud.answers import (
    JsonBody,
    data_object,
    list_field,
    next_cursor,
    recent_items,
    stated_total,
)
from syncd.cloud.body import DEFAULT_MAX_BODY_BYTES, SessionBody, describe_error
from syncd.cloud.budget import BudgetWait, RateBudget, budget_wait
from syncd.cloud.headers import ServerHeaders
from syncd.cloud.models import (
    PROJECT_VOLATILE,
    ItemError,
    ListCount,
    Project,
    ProjectListing,
    SessionListing,
    SessionSummary,
    etags_match,
    parse_items,
    valid_etag,
)
from syncd.cloud.transfer import MAX_JSON_BYTES, Pace, keep_pace, parse_json, read_limited
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
from syncd.model import Session

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: Most pages one listing may take before it is taken for a server paging forever. The
#: API's hourly budget (1000 requests) would be gone long before; the listing fails.
MAX_LIST_PAGES = 500
DEFAULT_MIN_TRANSFER_RATE = 1024.0
"""Bytes per second a body must average, after the timeout's grace, unless told otherwise."""
# A budget wait at least this long is announced (on_budget_wait); shorter pacing is not.
NOTICEABLE_WAIT = 1.0


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
    bytes_received: int = 0  # bodies as they came over the wire, for progress displays

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
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_json_bytes: int = MAX_JSON_BYTES,
        min_transfer_rate: float = DEFAULT_MIN_TRANSFER_RATE,
        clock: Callable[[], float] = time.monotonic,
        on_budget_wait: Callable[[BudgetWait], None] | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        # Shown in messages, logs and front matter: never a password the URL may carry.
        self.base_url = redact_url(base_url)
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        # Every request passes through one budget; interactive when nobody says otherwise.
        self.budget = budget or RateBudget(interactive=True)
        self.max_budget_wait = max_budget_wait
        # Told before every wait for the budget that a person would notice (a progress bar).
        self.on_budget_wait = on_budget_wait
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_json_bytes
        self._min_rate = min_transfer_rate
        self._grace = timeout  # a body may start as slowly as one read may take
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock  # times transfers; the budget keeps its own (wall) clock
        self._headers = ServerHeaders(self.budget)
        # Bodies may be fetched on a few threads at once; the budget stays one gate that
        # lets one request through at a time and counts each.
        self._gate = threading.Lock()
        # The last recent page's bytes and what they parsed to (see recent_sessions).
        self._last_recent: tuple[bytes, tuple[list[Session], list[ItemError]]] | None = None
        self._http = httpx.Client(
            base_url=base_url + API_PREFIX,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": user_agent()},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )
        head_deadline.install(self._http)

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

    #: Most pages one listing may take (tests lower it on their client).
    max_pages: int = MAX_LIST_PAGES

    def list_projects(self) -> ProjectListing:
        """Every project, every page followed; `count` tells whether the cloud counts more
        than arrived (a listing missing any must never be taken as complete)."""
        pages = self._every_page("/projects", "projects", self._get_json("/projects"))
        projects, errors, arrived = parse_items(Project, pages.items, volatile=PROJECT_VOLATILE)
        return ProjectListing(projects, errors, ListCount(pages.total, arrived))

    def list_sessions(self, project_id: str, etag: str | None = None) -> SessionListing | None:
        """A project's session summaries, or None when the listing still matches `etag`."""
        path = _sessions_path(project_id)
        etag = valid_etag(etag)  # one an older syncd saved may not be sendable
        answer = self._get_json_unless(path, etag) if etag else self._get_json(path)
        return None if answer is None else self._listing(project_id, answer)

    def list_sessions_afresh(self, project_id: str) -> SessionListing:
        """A project's session summaries, asked for without any ETag (never a 304)."""
        return self._listing(project_id, self._get_json(_sessions_path(project_id)))

    def _listing(self, project_id: str, first: _JsonAnswer) -> SessionListing:
        pages = self._every_page(_sessions_path(project_id), "sessions", first)
        summaries, errors, arrived = parse_items(SessionSummary, pages.items)
        sessions = [summary.to_session() for summary in summaries]
        count = ListCount(pages.total, arrived)
        return SessionListing(project_id, sessions, pages.etag, errors, count)

    def _every_page(self, path: str, key: str, first: _JsonAnswer) -> _Pages:
        """The listing's items over every page, from `first` on: each `nextCursor` (in
        `data`, or beside it) is sent back as the `cursor` query parameter, one budgeted
        and retried request per page. A cursor seen before, or more than `max_pages`
        pages, fails the listing: it would never end."""
        url = self._url(path)
        answer = first
        items: list[object] = []
        totals: list[int | None] = []
        cursors: set[str] = set()
        while True:
            data = data_object(answer.body, url)
            items.extend(list_field(data, key, url))
            totals.append(stated_total(data))
            cursor = next_cursor(answer.body, data, url)
            if cursor is None:
                break
            if cursor in cursors:
                raise BadResponseError(url, f"page {len(cursors) + 1} sent a cursor seen before")
            if len(cursors) + 1 >= self.max_pages:
                raise BadResponseError(url, f"more than {self.max_pages} pages")
            cursors.add(cursor)
            answer = self._get_json(f"{path}?cursor={urllib.parse.quote(cursor, safe='')}")
        counted = [total for total in totals if total is not None]
        # One page's ETag cannot vouch for pages it does not cover: only a listing that came
        # in one piece may be skipped on a 304 next time.
        etag = first.etag if not cursors else None
        return _Pages(items, max(counted) if counted else None, etag)

    def recent_sessions(self, limit: int = 100) -> tuple[list[Session], list[ItemError]]:
        """The recently updated sessions: `data.sessions`, `data` as the array, or a bare
        top-level array (the SDKs disagree on the shape)."""
        answer = self._get_json(f"/sessions/recent?limit={limit}")
        # The daemon asks every cycle and the page seldom changes: the same bytes are not
        # validated again (what they parse to is frozen).
        if self._last_recent is None or self._last_recent[0] != answer.raw:
            items = recent_items(answer.body, self._url("/sessions/recent"))
            summaries, errors, _ = parse_items(SessionSummary, items)
            parsed = ([summary.to_session() for summary in summaries], errors)
            self._last_recent = (answer.raw, parsed)
        sessions, errors = self._last_recent[1]
        return list(sessions), list(errors)

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
            url = self._url(path)
            self._keep_pace(response, url)
            yield SessionBody(
                response,
                session_id,
                url,
                listed_size=listed_size if same_version else None,
                max_bytes=self.max_body_bytes,
            )

    def post_json_once(self, path: str, payload: bytes) -> RawAnswer:
        """POST `payload` (JSON) once, outside the REST budget and retries: for an API with a
        budget of its own (GraphQL), which the caller keeps. The answer's head is bounded by
        the head deadline, its body by the JSON size limit and the transfer pace."""
        url = self._url(path)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        request = self._http.build_request("POST", path, headers=headers, content=payload)
        try:
            with head_deadline.head_deadline(self._grace, self._clock):
                response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise CloudUnavailableError(url, describe_error(exc)) from exc
        try:
            logger.debug("POST %s -> %d", url, response.status_code)
            self._keep_pace(response, url)
            try:
                body = read_limited(response, url, self.max_json_bytes)
            except httpx.HTTPError as exc:
                raise TransferInterruptedError(url, describe_error(exc)) from exc
            return RawAnswer(url, response.status_code, response.headers, body)
        finally:
            response.close()

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
                return self._read_json(response, url, etag)
            except _BrokenBody as exc:
                if last:
                    raise exc.error from exc
                logger.warning("%s; trying again", exc.error.message)
            finally:
                self._close(response)
            self._sleep(self.retry.backoff(attempt, self._jitter()))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_json(self, response: httpx.Response, url: str, etag: str | None) -> _JsonAnswer:
        """The whole answer, read within the size, depth and pace limits (a breach is a
        BadResponseError or TransferTooSlowError, not tried again in this run)."""
        self._keep_pace(response, url)
        try:
            body = read_limited(response, url, self.max_json_bytes)
        except httpx.HTTPError as exc:
            raise _BrokenBody(TransferInterruptedError(url, describe_error(exc))) from exc
        try:
            payload = parse_json(body, url)
        except ValueError as exc:
            error = BadResponseError(url, f"body is not JSON ({describe_error(exc)})")
            raise _BrokenBody(error) from exc
        if isinstance(payload, list):
            return _JsonAnswer(payload, etag, body)  # a bare array: the endpoint decides
        if not isinstance(payload, dict) or payload.get("success") is not True:
            raise BadResponseError(url, "missing {'success': true} wrapper")
        return _JsonAnswer(payload, etag, body)

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
                self._close(response)
            return

    def _close(self, response: httpx.Response) -> None:
        """Close a final response, counting the bytes it brought (for progress displays)."""
        response.close()
        with self._gate:
            self.stats.bytes_received += response.num_bytes_downloaded

    def _attempt(
        self, method: str, path: str, headers: dict[str, str], attempt: int, last: bool
    ) -> httpx.Response | None:
        """Send once: the response when it is final, None after waiting to try again.

        On the last attempt a failure is raised instead (translated into syncd.errors).
        """
        url = self._url(path)
        with self._gate:
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
            # A head dripped a byte at a time ends by the deadline (bodies are paced apart).
            with head_deadline.head_deadline(self._grace, self._clock):
                response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            with self._gate:
                self.stats.record(0)
            logger.debug("%s %s failed: %s", method, url, describe_error(exc))
            if last:
                raise CloudUnavailableError(url, describe_error(exc)) from exc
            self._sleep(self.retry.backoff(attempt, self._jitter()))
            return None
        logger.debug("%s %s -> %d", method, url, response.status_code)
        try:
            with self._gate:
                self._observe(response)
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
            retry_after = self._headers.retry_after(response.headers)
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
            if self.on_budget_wait is not None and wait >= NOTICEABLE_WAIT:
                self.on_budget_wait(budget_wait(self.budget, wait))
            self._sleep(wait)

    def _observe(self, response: httpx.Response) -> None:
        self.stats.record(response.status_code)
        self._headers.observe(response.headers)
        if response.status_code < 400:
            self.budget.note_success()

    def _keep_pace(self, response: httpx.Response, url: str) -> None:
        keep_pace(response, Pace(url, self._min_rate, self._grace, self._clock))


@dataclass(frozen=True)
class RawAnswer:
    """One answer read whole and bounded, not yet interpreted."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class _JsonAnswer:
    body: JsonBody
    etag: str | None
    raw: bytes  # the bytes the body was parsed from


@dataclass(frozen=True)
class _Pages:
    items: list[object]
    total: int | None  # the largest `total` a page stated
    etag: str | None


class _BrokenBody(Exception):
    """A body that broke off or arrived garbled: worth another attempt, unlike a wrong shape."""

    def __init__(self, error: CloudError) -> None:
        super().__init__(error.message)
        self.error = error


def _sessions_path(project_id: str) -> str:
    return f"/projects/{_quote(project_id)}/sessions"


def _session_path(project_id: str, session_id: str) -> str:
    return f"/projects/{_quote(project_id)}/sessions/{_quote(session_id)}"


def _quote(segment: str) -> str:
    """One path segment, percent-encoded; ids are opaque and may hold '/', '?' or '..'."""
    quoted = urllib.parse.quote(segment, safe="")
    return quoted.replace(".", "%2E") if set(quoted) <= {"."} else quoted


def user_agent() -> str:
    """`syncd/<version>`, the installed package's version (the source tree's otherwise)."""
    try:
        version = importlib.metadata.version("syncd")
    except importlib.metadata.PackageNotFoundError:
        version = syncd.__version__
    return f"syncd/{version}"
