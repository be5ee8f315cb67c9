"""The push queue: briefs in the index, moved along by PullStory's answers.

queued -> (POST) -> generating -> (GET, paced by estimated_seconds) -> ready | failed
queued -> (POST refused as invalid) -> rejected   (never sent again)

A brief is identified by its content hash and is never posted twice; a restart resumes
polling the stories it had started. Requests keep to PullStory's per-endpoint limits (10
POSTs and 120 GETs a minute) by spacing them; a 429 holds everything until its
Retry-After; a 402 pauses pushing until the usage endpoint shows minutes again.
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
from syncd.index.store import PushState, Store, StoryRecord
from syncd.push.pullstory import PullStoryClient, Story

logger = logging.getLogger(__name__)

POST_SPACING = 60.0 / 10  # POST /stories: 10 a minute
GET_SPACING = 60.0 / 120  # GET /stories/{id}: 120 a minute
USAGE_RECHECK = 600.0  # while paused for quota, look at the usage every 10 minutes
MIN_POLL = 5.0
MAX_ATTEMPTS = 20  # then the story is recorded as failed with the last error
STORY_URL = "https://pullstory.com/s/"
MAX_BACKOFF = 600.0
OPEN = ("queued", "generating")


@dataclass
class PushQueue:
    store: Store
    client: PullStoryClient
    on_ready: Callable[[StoryRecord], None] = lambda story: None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # Asked before each request: a daemon that is stopping sends nothing more.
    stopping: Callable[[], bool] = lambda: False
    _last_post: float = field(default=-1e18, init=False)
    _last_get: float = field(default=-1e18, init=False)

    def drain(self, *, max_seconds: float = 60.0, until_final: str | None = None) -> None:
        """Work the queue until nothing is due, `max_seconds` passed, or (with
        `until_final`) that story is ready, failed or rejected."""
        deadline = self.clock() + max_seconds
        while self.clock() < deadline and not self.stopping():
            if until_final is not None and self._is_final(until_final):
                return
            if until_final is not None and self._held_by_pause(until_final):
                return  # waiting for a new month's minutes is not something to block on
            wake = self.step()
            if wake is None:
                return
            wait = wake - self.clock()
            if wait > 0:
                if until_final is None and self.clock() + wait > deadline:
                    return
                self.sleep(min(wait, max(0.0, deadline - self.clock())))

    def step(self) -> float | None:
        """Do what is due now (at most one request); the time of the next action, if any."""
        now = self.clock()
        state = self.store.push_state()
        if state.not_before is not None and now < state.not_before:
            return state.not_before
        open_stories = self.store.stories(statuses=OPEN)
        if not open_stories:
            return None
        paused = state.paused_reason is not None
        if paused and (state.next_usage_check is None or now >= state.next_usage_check):
            self._check_usage(state, now)
            state = self.store.push_state()
            paused = state.paused_reason is not None
        due = [s for s in open_stories if (s.next_poll_at or 0.0) <= now]
        # A quota pause holds new briefs only: stories already paid for are still followed.
        polls = [s for s in due if s.status == "generating"]
        posts = [] if paused else [s for s in due if s.status == "queued"]
        try:
            if polls and now - self._last_get >= GET_SPACING:
                self._last_get = now
                self._poll(polls[0], now)
            elif posts and now - self._last_post >= POST_SPACING:
                self._last_post = now
                self._post(posts[0], now)
        except PullStoryRateLimitedError as exc:
            self.store.save_push_state(dataclasses.replace(state, not_before=now + exc.retry_after))
            logger.warning("%s", exc.message)
        return self._next_wake()

    # --- actions -----------------------------------------------------------------------

    def _post(self, story: StoryRecord, now: float) -> None:
        try:
            answer = self.client.create_story(story.brief)
        except QuotaExhaustedError as exc:
            self.store.save_push_state(
                PushState(paused_reason=exc.message, next_usage_check=now + USAGE_RECHECK)
            )
            logger.error("%s", exc.message)
            return
        except BriefRejectedError as exc:
            self._save(story, status="rejected", last_error=exc.problem, next_poll_at=None)
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
            self._save(story, status="failed", last_error=exc.message, next_poll_at=None)
            return
        except (PullStoryUnavailableError, PullStoryAuthError) as exc:
            self._retry_later(story, exc, now)
            return
        self._apply(story, answer, now)

    def _apply(self, story: StoryRecord, answer: Story, now: float) -> None:
        if answer.status == "ready":
            url = answer.url or STORY_URL + answer.id
            ready = self._save(
                story,
                status="ready",
                story_id=answer.id,
                url=url,
                next_poll_at=None,
                last_error=None,
            )
            self.store.set_pullstory_url(story.session_id, url)
            logger.info("session %s: story ready at %s", story.session_id, url)
            self.on_ready(ready)
        elif answer.status == "failed":
            self._save(
                story,
                status="failed",
                story_id=answer.id,
                next_poll_at=None,
                last_error=answer.error or "story generation failed",
            )
            logger.error(
                "session %s: story %s failed: %s", story.session_id, answer.id, answer.error
            )
        else:
            self._save(
                story,
                status="generating",
                story_id=answer.id,
                next_poll_at=now + _poll_interval(answer, first=story.status == "queued"),
                last_error=None,  # it names the current trouble, and PullStory answered
            )

    def _retry_later(self, story: StoryRecord, exc: PullStoryError, now: float) -> None:
        attempts = story.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._save(
                story, status="failed", attempts=attempts, last_error=exc.message, next_poll_at=None
            )
            logger.error("session %s: giving up: %s", story.session_id, exc.message)
            return
        backoff = min(MAX_BACKOFF, 30.0 * 2 ** (attempts - 1))
        self._save(story, attempts=attempts, last_error=exc.message, next_poll_at=now + backoff)
        logger.warning(
            "session %s: %s; trying again in %.0f s", story.session_id, exc.message, backoff
        )

    def _check_usage(self, state: PushState, now: float) -> float:
        try:
            usage = self.client.usage()
        except PullStoryError as exc:
            logger.warning("cannot read the PullStory usage: %s", exc.message)
            usage = None
        if usage is not None and usage.minutes_remaining > 0:
            self.store.save_push_state(PushState())
            logger.info(
                "PullStory minutes available again (%g): pushing resumes", usage.minutes_remaining
            )
            return now
        self.store.save_push_state(dataclasses.replace(state, next_usage_check=now + USAGE_RECHECK))
        return now + USAGE_RECHECK

    # --- helpers -----------------------------------------------------------------------

    def _save(self, story: StoryRecord, **changes: object) -> StoryRecord:
        updated = dataclasses.replace(story, updated_at=self.clock(), **changes)  # type: ignore[arg-type]
        self.store.save_story(updated)
        return updated

    def _held_by_pause(self, brief_hash: str) -> bool:
        if self.store.push_state().paused_reason is None:
            return False
        queued = self.store.stories(statuses=("queued",))
        return any(s.brief_hash == brief_hash for s in queued)

    def _is_final(self, brief_hash: str) -> bool:
        return not any(s.brief_hash == brief_hash for s in self.store.stories(statuses=OPEN))

    def _next_wake(self) -> float | None:
        state = self.store.push_state()
        if state.not_before is not None and state.not_before > self.clock():
            return state.not_before
        times = []
        for story in self.store.stories(statuses=OPEN):
            if story.status == "queued" and state.paused_reason is not None:
                times.append(state.next_usage_check or self.clock())
                continue
            due = story.next_poll_at or 0.0
            spacing = POST_SPACING if story.status == "queued" else GET_SPACING
            last = self._last_post if story.status == "queued" else self._last_get
            times.append(max(due, last + spacing))
        return min(times) if times else None


def _poll_interval(answer: Story, *, first: bool) -> float:
    """The first look after the estimated time, then a few times per estimate."""
    estimate = float(answer.estimated_seconds or 90)
    return max(MIN_POLL, estimate if first else estimate / 6)
