"""The push queue: briefs in the index, moved along by PullStory's answers.

queued -> (POST) -> generating -> (GET, paced by estimated_seconds) -> ready | failed
queued -> (POST refused as invalid) -> rejected   (never sent again)
failed -> (the worker, with backoff; or syncd push) -> queued, or superseded by a smaller brief

A brief is identified by its content hash and is never posted twice, unless its story
failed: a failed story costs no minutes and is retried (see `retry`). A restart resumes
polling the stories it had started. Requests keep to PullStory's per-endpoint limits (10
POSTs and 120 GETs a minute) by spacing them; a 429 holds everything until its
Retry-After; a 402 pauses new briefs until the usage endpoint shows minutes again, looked
at with backoff from the pause and at the period's end (`next_usage_check`).
All waiting goes through the injected `sleep`, so tests drive a clock instead.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from syncd.errors import (
    BriefRejectedError,
    PullStoryAuthError,
    PullStoryError,
    PullStoryRateLimitedError,
    PullStoryUnavailableError,
    QuotaExhaustedError,
    StoryNotFoundError,
)
from syncd.index.statuses import OPEN_STATUSES, StoryStatus
from syncd.index.store import PushState, Store, StoryRecord
from syncd.push.pullstory import PullStoryClient, Story, Usage
from syncd.push.retry import RetryPolicy, retry

logger = logging.getLogger(__name__)

POST_SPACING = 60.0 / 10  # POST /stories: 10 a minute
GET_SPACING = 60.0 / 120  # GET /stories/{id}: 120 a minute
MIN_POLL = 5.0
MAX_ATTEMPTS = 20  # then the story is recorded as failed with the last error
STORY_URL = "https://pullstory.com/s/"
MAX_BACKOFF = 600.0
# After a 402 the usage is first looked at again this soon, then twice as long each time
# (up to PushPolicy.usage_check_max), and at the period's end.
FIRST_USAGE_CHECK = 120.0
# The usage period ends by PullStory's clock: look a little after ours says it has.
RESET_GRACE = 5.0


@dataclass(frozen=True)
class PushPolicy:
    """How patient the queue is: failed stories (`retry`) and the quota pause."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    usage_check_first: float = FIRST_USAGE_CHECK
    usage_check_max: float = 3600.0


def next_usage_check(state: PushState, now: float, policy: PushPolicy) -> float:
    """When to look at the usage again while paused: as long after now as the pause has
    lasted (so the waits double from `usage_check_first`, up to `usage_check_max`), and no
    later than the period's end. After that end, the doubling starts again from it."""
    since = state.paused_at if state.paused_at is not None else now
    resets_at = state.resets_at
    if resets_at is not None and now >= resets_at:
        since = max(since, resets_at)
    wait = min(policy.usage_check_max, max(policy.usage_check_first, now - since))
    when = now + wait
    if resets_at is not None and now < resets_at + RESET_GRACE < when:
        when = resets_at + RESET_GRACE
    return when


def check_usage_soon(store: Store, now: float) -> bool:
    """Make a stored quota pause look at the usage at the next step (start-up, SIGHUP,
    `syncd push`); whether pushing is paused."""
    state = store.push_state()
    if state.paused_reason is None:
        return False
    if state.next_usage_check is None or state.next_usage_check > now:
        store.save_push_state(dataclasses.replace(state, next_usage_check=now))
    return True


@dataclass
class PushQueue:
    store: Store
    client: PullStoryClient
    on_ready: Callable[[StoryRecord], None] = lambda story: None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # Asked before each request: a daemon that is stopping sends nothing more.
    stopping: Callable[[], bool] = lambda: False
    policy: PushPolicy = field(default_factory=PushPolicy)
    # The daemon's worker retries failed stories on its own; `syncd push` does not wait.
    retry_failed: bool = False
    _last_post: float = field(default=-1e18, init=False)
    _last_get: float = field(default=-1e18, init=False)

    def drain(self, *, max_seconds: float = 60.0, until_final: str | None = None) -> None:
        """Work the queue until nothing is due, `max_seconds` passed, or (with
        `until_final`) that story is ready, failed or rejected, or held by a quota pause
        (waiting for a new month's minutes is not something to block on)."""
        deadline = self.clock() + max_seconds
        while self.clock() < deadline and not self.stopping():
            if until_final is not None and self._is_final(until_final):
                return
            wake = self.step()
            if until_final is not None and (
                self._is_final(until_final) or self._held_by_pause(until_final)
            ):
                return
            if wake is None:
                return
            wait = wake - self.clock()
            if wait > 0:
                if until_final is None and self.clock() + wait > deadline:
                    return
                self.sleep(min(wait, max(0.0, deadline - self.clock())))

    def step(self) -> float | None:
        """Do what is due now (at most one request to a story, and a look at the usage when
        one is due); the time of the next action, if any."""
        now = self.clock()
        state = self.store.push_state()
        if state.not_before is not None and now < state.not_before:
            return state.not_before
        if self.retry_failed:
            for failed in self.store.stories(statuses=(StoryStatus.FAILED,), due_by=now):
                retry(self.store, failed, now, manual=False)
        paused = state.paused_reason is not None
        if paused and (state.next_usage_check is None or now >= state.next_usage_check):
            try:
                self._check_usage(state, now)
            except PullStoryRateLimitedError as exc:
                self._hold(exc, now)
                return self._next_wake()
            state = self.store.push_state()
            paused = state.paused_reason is not None
        open_stories = self.store.stories(statuses=OPEN_STATUSES)
        if not open_stories:
            return self._next_wake()
        due = [s for s in open_stories if (s.next_poll_at or 0.0) <= now]
        # A quota pause holds new briefs only: stories already paid for are still followed.
        polls = [s for s in due if s.status == StoryStatus.GENERATING]
        posts = [] if paused else [s for s in due if s.status == StoryStatus.QUEUED]
        try:
            if polls and now - self._last_get >= GET_SPACING:
                self._last_get = now
                self._poll(polls[0], now)
            elif posts and now - self._last_post >= POST_SPACING:
                self._last_post = now
                self._post(posts[0], now)
        except PullStoryRateLimitedError as exc:
            self._hold(exc, now)
        return self._next_wake()

    def _hold(self, exc: PullStoryRateLimitedError, now: float) -> None:
        state = self.store.push_state()
        self.store.save_push_state(dataclasses.replace(state, not_before=now + exc.retry_after))
        logger.warning("%s", exc.message)

    # --- actions -----------------------------------------------------------------------

    def _post(self, story: StoryRecord, now: float) -> None:
        try:
            answer = self.client.create_story(story.brief)
        except QuotaExhaustedError as exc:
            self._pause(exc, now)
            return
        except BriefRejectedError as exc:
            self._save(
                story, status=StoryStatus.REJECTED, last_error=exc.problem, next_poll_at=None
            )
            logger.error("session %s: %s", story.session_id, exc.message)
            return
        except (PullStoryUnavailableError, PullStoryAuthError) as exc:
            self._retry_later(story, exc, now)
            return
        logger.info(
            "session %s: story %s %s%s",
            story.session_id,
            answer.id,
            answer.status,
            f" ({answer.message})" if answer.message else "",
        )
        self._apply(story, answer, now)

    def _poll(self, story: StoryRecord, now: float) -> None:
        assert story.story_id is not None
        try:
            answer = self.client.get_story(story.story_id)
        except StoryNotFoundError as exc:
            self._save(story, status=StoryStatus.FAILED, last_error=exc.message, next_poll_at=None)
            return
        except (PullStoryUnavailableError, PullStoryAuthError) as exc:
            self._retry_later(story, exc, now)
            return
        self._apply(story, answer, now)

    def _apply(self, story: StoryRecord, answer: Story, now: float) -> None:
        if answer.status == StoryStatus.READY:
            url = answer.url or STORY_URL + answer.id
            ready = self._save(
                story,
                status=StoryStatus.READY,
                story_id=answer.id,
                url=url,
                next_poll_at=None,
                last_error=None,
            )
            self.store.set_pullstory_url(story.session_id, url)
            logger.info("session %s: story ready at %s", story.session_id, url)
            self.on_ready(ready)
        elif answer.status == StoryStatus.FAILED:
            failures = story.failures + 1
            retry_at = self.policy.retry.next_retry(failures, now)
            self._save(
                story,
                status=StoryStatus.FAILED,
                story_id=answer.id,
                next_poll_at=retry_at,
                failures=failures,
                last_error=answer.error or "story generation failed",
            )
            later = (
                f"; tried again in {retry_at - now:.0f} s by the push worker"
                if retry_at is not None
                else ""
            )
            logger.error(
                "session %s: story %s failed: %s%s",
                story.session_id,
                answer.id,
                answer.error,
                later,
            )
        else:
            self._save(
                story,
                status=StoryStatus.GENERATING,
                story_id=answer.id,
                next_poll_at=now + _poll_interval(answer, first=story.status == StoryStatus.QUEUED),
                last_error=None,  # it names the current trouble, and PullStory answered
            )

    def _retry_later(self, story: StoryRecord, exc: PullStoryError, now: float) -> None:
        attempts = story.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._save(
                story,
                status=StoryStatus.FAILED,
                attempts=attempts,
                last_error=exc.message,
                next_poll_at=None,
            )
            logger.error("session %s: giving up: %s", story.session_id, exc.message)
            return
        backoff = min(MAX_BACKOFF, 30.0 * 2 ** (attempts - 1))
        self._save(story, attempts=attempts, last_error=exc.message, next_poll_at=now + backoff)
        logger.warning(
            "session %s: %s; trying again in %.0f s", story.session_id, exc.message, backoff
        )

    def _pause(self, exc: QuotaExhaustedError, now: float) -> None:
        """Hold new briefs after a 402, until the usage shows the minutes the refused one
        needed; the usage also tells when the period resets."""
        try:
            usage = self._usage()
        except PullStoryRateLimitedError:
            usage = None  # the period's end is learnt at the next look
        resets_at = usage.period_end if usage is not None else None
        said = QuotaExhaustedError(exc.remaining, exc.required, exc.upgrade_url, resets_at)
        before = self.store.push_state()
        state = PushState(
            paused_reason=said.message,
            not_before=before.not_before,
            paused_at=now,
            resets_at=resets_at,
            minutes_needed=exc.required,
        )
        check = next_usage_check(state, now, self.policy)
        self.store.save_push_state(dataclasses.replace(state, next_usage_check=check))
        logger.error("%s; the usage is looked at again in %.0f s", said.message, check - now)

    def _check_usage(self, state: PushState, now: float) -> None:
        usage = self._usage()
        needed = state.minutes_needed or 0.0
        if usage is not None and usage.minutes_remaining > 0 and usage.minutes_remaining >= needed:
            self.store.save_push_state(PushState(not_before=state.not_before))
            logger.info(
                "PullStory minutes available again (%g): pushing resumes", usage.minutes_remaining
            )
            return
        if usage is not None and usage.period_end is not None:
            state = dataclasses.replace(state, resets_at=usage.period_end)
        check = next_usage_check(state, now, self.policy)
        self.store.save_push_state(dataclasses.replace(state, next_usage_check=check))
        logger.info(
            "PullStory minutes still used up; next look at the usage in %.0f s", check - now
        )

    def _usage(self) -> Usage | None:
        """The usage, or None when it cannot be read now (a 429 is left to the caller)."""
        try:
            return self.client.usage()
        except PullStoryRateLimitedError:
            raise
        except PullStoryError as exc:
            logger.warning("cannot read the PullStory usage: %s", exc.message)
            return None

    # --- helpers -----------------------------------------------------------------------

    def _save(self, story: StoryRecord, **changes: object) -> StoryRecord:
        updated = dataclasses.replace(story, updated_at=self.clock(), **changes)  # type: ignore[arg-type]
        self.store.save_story(updated)
        return updated

    def _held_by_pause(self, brief_hash: str) -> bool:
        if self.store.push_state().paused_reason is None:
            return False
        queued = self.store.stories(statuses=(StoryStatus.QUEUED,))
        return any(s.brief_hash == brief_hash for s in queued)

    def _is_final(self, brief_hash: str) -> bool:
        return not any(
            s.brief_hash == brief_hash for s in self.store.stories(statuses=OPEN_STATUSES)
        )

    def _next_wake(self) -> float | None:
        state = self.store.push_state()
        now = self.clock()
        if state.not_before is not None and state.not_before > now:
            return state.not_before
        paused = state.paused_reason is not None
        times = []
        if paused:
            times.append(state.next_usage_check or now)
        if (
            self.retry_failed
            and (retry_at := self.store.earliest_poll((StoryStatus.FAILED,))) is not None
        ):
            times.append(retry_at)
        for story in self.store.stories(statuses=OPEN_STATUSES):
            if story.status == StoryStatus.QUEUED and paused:
                continue  # sent once the usage shows minutes: its time is the next check
            due = story.next_poll_at or 0.0
            spacing = POST_SPACING if story.status == StoryStatus.QUEUED else GET_SPACING
            last = self._last_post if story.status == StoryStatus.QUEUED else self._last_get
            times.append(max(due, last + spacing))
        return min(times) if times else None


def _poll_interval(answer: Story, *, first: bool) -> float:
    """The first look after the estimated time, then a few times per estimate."""
    estimate = float(answer.estimated_seconds or 90)
    return max(MIN_POLL, estimate if first else estimate / 6)
