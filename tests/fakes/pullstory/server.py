"""PullStoryServer: a local PullStory API on 127.0.0.1 that tests drive directly."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from syncd.devserver.faults import Fault, FaultBook
from syncd.devserver.loopback import BackgroundServing, LoopbackService
from syncd.devserver.requestlog import RequestLog, RequestRecord
from tests.fakes.pullstory.http import PullStoryContext, PullStoryHTTPServer, PullStoryRecord
from tests.fakes.pullstory.routes import API_PREFIX, PullStoryApi, RateLimits
from tests.fakes.pullstory.state import DEFAULT_FAILURE, Generation, Quota, StoryBook

logger = logging.getLogger(__name__)


class PullStoryServer(LoopbackService):
    """The PullStory API (POST /stories, GET /stories/{id}, GET /me/usage) over real HTTP.

    `clock` drives generation, the quota period, the rate windows and the request log's
    `at`, so tests move time instead of sleeping. A story is ready `generation_seconds`
    after it started, or on its `generation_polls`-th GET, whichever comes first (None
    turns a trigger off). Limits are per minute; None means unlimited.
    """

    def __init__(
        self,
        token: str = "ps_live_test",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        *,
        generation_seconds: float | None = 90.0,
        generation_polls: int | None = None,
        estimated_seconds: int | None = None,
        minutes_included: float = 120.0,
        plan: str = "pro",
        post_limit_per_minute: int | None = 10,
        get_limit_per_minute: int | None = 120,
        other_limit_per_minute: int | None = 60,
    ) -> None:
        self._token = token
        self._address = (host, port)
        self._clock = clock
        self._book = StoryBook(
            clock,
            Generation(generation_seconds, generation_polls, estimated_seconds),
            Quota.for_month(plan, minutes_included, clock()),
        )
        self._faults = FaultBook()
        self._log = RequestLog()
        limits = RateLimits(
            clock,
            create_story=post_limit_per_minute,
            get_story=get_limit_per_minute,
            other=other_limit_per_minute,
        )
        self._context = PullStoryContext(
            api=PullStoryApi(token, self._book, limits),
            faults=self._faults,
            log=self._log,
            clock=clock,
        )
        self._serving = BackgroundServing(
            lambda: PullStoryHTTPServer(self._address, self._context), "pullstory-devserver"
        )

    # Lifecycle

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT/api/v1`: the base URL a PullStory client is configured with."""
        host, port = self._serving.address
        return f"http://{host}:{port}{API_PREFIX}"

    @property
    def token(self) -> str:
        return self._token

    # Stories and quota

    @property
    def stories(self) -> dict[str, dict[str, object]]:
        """Every story by id, as GET /stories/{id} would show it now (without counting a poll)."""
        return self._book.snapshot()

    @property
    def usage(self) -> dict[str, object]:
        """What GET /me/usage would answer now."""
        return self._book.usage()

    def fail_next_story(self, error: str = DEFAULT_FAILURE, *, times: int = 1) -> None:
        """The next `times` generations to start (new briefs, or failed ones posted again)
        end as `failed` with `error` instead of `ready`; each call arms more."""
        self._book.fail_next(error, times)

    def fail_briefs_larger_than(self, size: int | None, error: str = DEFAULT_FAILURE) -> None:
        """Every generation of a brief whose canonical JSON is longer than `size`
        characters ends as `failed` with `error` ("Retry with a smaller brief."); None
        lifts the limit. Failures armed with fail_next_story come first."""
        self._book.fail_larger_than(size, error)

    def set_minutes_remaining(self, minutes: float) -> None:
        """Set minutes_used so that `minutes` remain (0 to minutes_included): 0 answers
        new briefs with 402 until minutes are set again, and /me/usage shows them."""
        self._book.set_minutes_remaining(minutes)

    def exhaust_quota(self) -> None:
        """No minutes left: every new brief is answered 402 until restore_quota."""
        self._book.set_minutes_remaining(0)

    def restore_quota(self) -> None:
        """The quota is back in full (as if paid for): new briefs generate again."""
        self._book.restore_quota()

    # Observation and faults

    @property
    def requests(self) -> list[PullStoryRecord]:
        """Requests answered so far (401s and 429s included), oldest first; a copy.

        Each is recorded before its response is written; `body` is the request's JSON, or
        None when it had none or it did not parse.
        """
        return _pullstory_records(self._log.snapshot())

    def clear_requests(self) -> None:
        self._log.clear()

    def wait_for_requests(
        self, predicate: Callable[[list[PullStoryRecord]], bool], timeout: float = 10.0
    ) -> bool:
        """Wait (on a condition, not by polling) until the request log satisfies `predicate`."""
        return self._log.wait_for(lambda records: predicate(_pullstory_records(records)), timeout)

    def inject(self, fault: Fault) -> None:
        """Make matching requests fail; faults are tried in the order injected.

        Kinds: status (a PullStory error body, or exactly `body`), latency, reset (before
        the request is handled), truncate (after: a POST still creates its story), body.
        """
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()


def _pullstory_records(records: list[RequestRecord]) -> list[PullStoryRecord]:
    return [record for record in records if isinstance(record, PullStoryRecord)]
