"""PullStory stories and the video-minute quota, moved along by an injected clock.

A story generates until `Generation` says it is done, judged lazily whenever the book is
read, so a test moves its fake clock (or polls) instead of waiting.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from tests.fakes.pullstory.brief import BriefFacts

StoryStatus = Literal["generating", "ready", "failed"]

STORY_URL = "https://pullstory.com/s/"
UPGRADE_URL = "https://pullstory.com/pricing"
ALREADY_GENERATING = "Another request is already generating this story"
DEFAULT_FAILURE = "Story generation failed. Retry with a smaller brief."


@dataclass(frozen=True)
class Generation:
    """When a generating story is done: `seconds` of server clock after it started, or on
    its `polls`-th GET, whichever comes first. None turns a trigger off; with both off a
    story generates forever."""

    seconds: float | None
    polls: int | None
    # What stories report as estimated_seconds; None derives it from the brief's size.
    estimate: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds < 0:
            raise ValueError(f"generation_seconds must be >= 0 or None, got {self.seconds}")
        if self.polls is not None and self.polls < 1:
            raise ValueError(f"generation_polls must be >= 1 or None, got {self.polls}")

    def done(self, elapsed: float, polls: int) -> bool:
        by_clock = self.seconds is not None and elapsed >= self.seconds
        by_polls = self.polls is not None and polls >= self.polls
        return by_clock or by_polls


@dataclass
class Story:
    """One brief's story; `fate` is the error it will fail with (fail_next_story, or
    fail_briefs_larger_than), if any."""

    facts: BriefFacts
    started_at: float
    status: StoryStatus = "generating"
    polls: int = 0
    fate: str | None = None
    error: str | None = None

    def to_json(self, *, cached: bool = False, message: str | None = None) -> dict[str, object]:
        """The story object of the API: every field present, null where it does not apply."""
        ready = self.status == "ready"
        return {
            "id": self.facts.story_id,
            "status": self.status,
            "url": STORY_URL + self.facts.story_id,
            "cached": cached,
            "message": message,
            "estimated_seconds": (
                self.facts.estimated_seconds if self.status == "generating" else None
            ),
            "duration_seconds": self.facts.duration_seconds if ready else None,
            "scenes": self.facts.scenes if ready else None,
            "title": self.facts.title,
            "error": self.error,
        }


class QuotaExceededError(Exception):
    """A new story needs more minutes than the period has left (402)."""

    def __init__(self, remaining: float, required: float) -> None:
        super().__init__(
            f"This story needs {required:.2f} video minutes but only {remaining:.2f} remain "
            "this period; upgrade or wait for the next period"
        )
        self.remaining = remaining
        self.required = required


@dataclass(frozen=True)
class Submission:
    """The answer to a POST: the story object, and whether it is generating (202: started
    now, or already running for an earlier request) rather than a cached hit (200)."""

    story: dict[str, object]
    generating: bool


@dataclass
class Quota:
    """Monthly (calendar month, UTC) video minutes; a new period starts with none used."""

    plan: str
    included: float
    used: float
    period_start: datetime
    period_end: datetime

    @classmethod
    def for_month(cls, plan: str, included: float, now: float) -> Quota:
        start, end = month_bounds(now)
        return cls(plan, included, 0.0, start, end)

    @property
    def remaining(self) -> float:
        return max(0.0, self.included - self.used)

    def roll(self, now: float) -> None:
        if now >= self.period_end.timestamp():
            self.period_start, self.period_end = month_bounds(now)
            self.used = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "period_start": _iso(self.period_start),
            "period_end": _iso(self.period_end),
            "minutes_included": self.included,
            "minutes_used": self.used,
            "minutes_remaining": self.remaining,
        }


class StoryBook:
    """Every story by id, the quota, and the failures armed for the next generations."""

    def __init__(self, clock: Callable[[], float], generation: Generation, quota: Quota) -> None:
        self._clock = clock
        self._generation = generation
        self._quota = quota
        self._lock = threading.Lock()
        self._stories: dict[str, Story] = {}
        self._failures: deque[str] = deque()
        self._size_limit: tuple[int, str] | None = None

    def submit(self, facts: BriefFacts) -> Submission:
        """POST /stories for a valid brief: cached, already generating, or a new generation.

        Raises QuotaExceededError when a generation would start without enough minutes.
        """
        with self._lock:
            now = self._tick()
            story = self._stories.get(facts.story_id)
            if story is not None and story.status == "ready":
                return Submission(story.to_json(cached=True), generating=False)
            if story is not None and story.status == "generating":
                return Submission(story.to_json(message=ALREADY_GENERATING), generating=True)
            required = facts.duration_seconds / 60
            if self._quota.remaining < required:
                raise QuotaExceededError(self._quota.remaining, required)
            fate = self._fate(facts)
            if self._generation.estimate is not None:
                facts = dataclasses.replace(facts, estimated_seconds=self._generation.estimate)
            story = Story(facts, started_at=now, fate=fate)
            self._stories[facts.story_id] = story
            return Submission(story.to_json(), generating=True)

    def poll(self, story_id: str) -> dict[str, object] | None:
        """GET /stories/{id}: counts the poll, then answers; None for an unknown id."""
        with self._lock:
            now = self._tick()
            story = self._stories.get(story_id)
            if story is None:
                return None
            if story.status == "generating":
                story.polls += 1
                self._advance(story, now)
            return story.to_json()

    def usage(self) -> dict[str, object]:
        with self._lock:
            self._tick()
            return self._quota.to_json()

    def snapshot(self) -> dict[str, dict[str, object]]:
        with self._lock:
            self._tick()
            return {story_id: story.to_json() for story_id, story in self._stories.items()}

    def fail_next(self, error: str, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([error] * times)

    def fail_larger_than(self, size: int | None, error: str) -> None:
        with self._lock:
            self._size_limit = None if size is None else (size, error)

    def _fate(self, facts: BriefFacts) -> str | None:
        """How a generation starting now ends: an armed failure, then the size limit."""
        if self._failures:
            return self._failures.popleft()
        if self._size_limit is not None and facts.size > self._size_limit[0]:
            return self._size_limit[1]
        return None

    def set_minutes_remaining(self, minutes: float) -> None:
        with self._lock:
            self._tick()
            if not 0 <= minutes <= self._quota.included:
                limit = self._quota.included
                raise ValueError(f"minutes remaining must be 0-{limit} (minutes_included)")
            self._quota.used = self._quota.included - minutes

    def restore_quota(self) -> None:
        with self._lock:
            self._tick()
            self._quota.used = 0.0

    def _tick(self) -> float:
        """Bring the quota period and every story up to the clock; returns the time used."""
        now = self._clock()
        self._quota.roll(now)
        for story in self._stories.values():
            self._advance(story, now)
        return now

    def _advance(self, story: Story, now: float) -> None:
        if story.status != "generating":
            return
        if not self._generation.done(now - story.started_at, story.polls):
            return
        if story.fate is not None:
            story.status, story.error = "failed", story.fate
            return
        story.status = "ready"
        self._quota.used += story.facts.duration_seconds / 60


def month_bounds(now: float) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `now`: its first instant and the next month's."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
