"""Failed stories, tried again: by `syncd push` at once, by the push worker with backoff.

A failed story costs no minutes, and posting its brief again starts a new generation
(shared/api/pullstory.md). When the failure asks for a smaller brief, the retry posts a
smaller one (`syncd.push.shrink`) as a new story that keeps the hash of the brief as built,
so `syncd push` finds it again, and the failed one is marked `superseded`; any other
failure queues the same brief again. A brief refused as invalid (400/422, `rejected`) is
never sent again unchanged, so it is never retried here.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

from syncd.index.statuses import StoryStatus
from syncd.index.store import Store, StoryRecord
from syncd.push.shrink import brief_from_json, describe_cut, shrink

logger = logging.getLogger(__name__)

# PullStory's failure text is the only place it says what to change ("Retry with a
# smaller brief."); reading it is the documented way, not a guess about an error code.
_ASKS_FOR_SMALLER = re.compile(r"smaller brief|brief is too (?:large|long|big)", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """How the push worker tries a failed story again on its own: `retries` times after
    the first failure, `first_delay` seconds after it, doubling each time."""

    retries: int = 2
    first_delay: float = 300.0

    def next_retry(self, failures: int, now: float) -> float | None:
        """When the worker retries a story that has failed `failures` times; None: never."""
        if failures < 1 or failures > self.retries:
            return None
        return now + self.first_delay * 2.0 ** (failures - 1)


@dataclass(frozen=True)
class Retried:
    """The story now queued (or the one that already stood for this brief), what was
    done, in words for the log and `syncd push`, and the failure that led to it."""

    story: StoryRecord
    action: str
    error: str | None = None


def asks_for_smaller(error: str | None) -> bool:
    """Whether a failure's text asks for a smaller brief."""
    return bool(error and _ASKS_FOR_SMALLER.search(error))


def retry(store: Store, story: StoryRecord, now: float, *, manual: bool) -> Retried | None:
    """Queue a failed story again: a smaller brief when the failure asked for one, else the
    same brief. Without a smaller brief to send, a `manual` retry (syncd push) posts the
    same one again and the worker's own retry gives up (None, and it is not tried again)."""
    if story.status != StoryStatus.FAILED:
        return None
    if asks_for_smaller(story.last_error):
        smaller = _smaller(store, story, now)
        if smaller is not None:
            return smaller
        if not manual:
            store.save_story(dataclasses.replace(story, next_poll_at=None, updated_at=now))
            logger.error(
                "session %s: PullStory asked for a smaller brief, and this one cannot be "
                "made any smaller; not retrying (syncd push posts it again)",
                story.session_id,
            )
            return None
        action = "posting the same brief again: it cannot be made any smaller"
    else:
        action = "posting the same brief again"
    queued = dataclasses.replace(
        story, status=StoryStatus.QUEUED, next_poll_at=now, attempts=0, updated_at=now
    )
    store.save_story(queued)
    _log(story, action)
    return Retried(queued, action, story.last_error)


def _smaller(store: Store, story: StoryRecord, now: float) -> Retried | None:
    current = brief_from_json(story.brief)
    smaller = shrink(current) if current is not None else None
    if current is None or smaller is None:
        return None
    added = store.add_story(
        StoryRecord(
            session_id=story.session_id,
            brief_hash=smaller.content_hash(),
            brief=smaller.to_json(),
            status=StoryStatus.QUEUED,
            source=story.source,
            created_at=now,
            updated_at=now,
            next_poll_at=now,
            built_hash=story.built_hash or story.brief_hash,
            failures=story.failures,
        )
    )
    if added.id != story.id:
        store.save_story(
            dataclasses.replace(
                story, status=StoryStatus.SUPERSEDED, next_poll_at=None, updated_at=now
            )
        )
    action = f"retrying with a smaller brief: {describe_cut(current, smaller)}"
    _log(story, action)
    return Retried(added, action, story.last_error)


def _log(story: StoryRecord, action: str) -> None:
    logger.info(
        "session %s: story failed (%s); %s", story.session_id, story.last_error or "?", action
    )
