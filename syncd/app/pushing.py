"""`syncd push` and `syncd brief`: a session's brief, queued for PullStory and followed
here, or handed to the daemon that owns the root."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncd.app.browsing import open_mirror
from syncd.brief import NoBrief
from syncd.config import Settings
from syncd.daemon.lock import RootLock, holder
from syncd.daemon.runtime import push_policy, write_story_url
from syncd.errors import ConfigError, NoBriefError
from syncd.index.records import PushState, StoryRecord
from syncd.index.statuses import OPEN_STATUSES, StoryStatus
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.push.pullstory import PullStoryClient
from syncd.push.queue import PushQueue, check_usage_soon
from syncd.push.selection import brief_for, push_session, resolve_session

# Without --wait, a push posts the brief and polls this long at most.
NO_WAIT_SECONDS = 30.0
# How often a wait on the daemon reads the index.
DAEMON_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Pushed:
    """Where the story stands after `syncd push`, the push queue's state, and how long
    the push followed it (seconds, from when the brief was queued)."""

    story: StoryRecord
    state: PushState
    followed_seconds: float


def brief_json(settings: Settings, session: str) -> dict[str, Any]:
    """The brief a session makes, as PullStory would receive it; NoBriefError says why a
    session makes none."""
    store, mirror = open_mirror(settings)
    with store:
        record = resolve_session(store, mirror, session)
        brief = brief_for(mirror, record)
    if isinstance(brief, NoBrief):
        raise NoBriefError(record.name or record.id, brief.reason)
    return brief.to_json()


def push(
    settings: Settings, session: str, *, wait: bool, timeout: float, say: Callable[[str], None]
) -> Pushed:
    """Queue the session's brief (again, maybe smaller, when its story failed) and post it
    here, following it to the end with `wait`; while a daemon owns the root it is left to
    the daemon, and `wait` only watches the index. `say` hears what was done on the way."""
    token = settings.pullstory.resolve_api_key()
    if token is None:
        raise ConfigError("SYNCD_PULLSTORY__API_KEY", "no PullStory token is configured")
    store, mirror = open_mirror(settings)
    with store:
        record = resolve_session(store, mirror, session)
        pushed = push_session(store, mirror, record, time.time())
        story = pushed.story
        if pushed.action:
            say(f"The last story failed ({pushed.error}); {pushed.action}.")
        owner = holder(settings.state_dir)
        started = time.monotonic()
        if owner is not None:
            say(f"Queued; the running syncd (pid {owner or '?'}) pushes it.")
            if wait:
                story = _wait_for_daemon(store, settings, story.brief_hash, timeout)
        elif story.status in OPEN_STATUSES:
            story = _push_here(settings, token, store, mirror, story, wait, timeout)
        return Pushed(story, store.push_state(), time.monotonic() - started)


def story_line(story: StoryRecord) -> str:
    """Where a story stands, in one line: its URL, its error, or what happens next."""
    if story.status == StoryStatus.READY:
        return f"ready: {story.url}"
    if story.status in (StoryStatus.FAILED, StoryStatus.REJECTED, StoryStatus.SUPERSEDED):
        return f"{story.status}: {story.last_error}"
    if story.status == StoryStatus.GENERATING:
        return f"generating: story {story.story_id} (syncd run or push --wait follows it)"
    return "queued"


def _push_here(
    settings: Settings,
    token: str,
    store: Store,
    mirror: Mirror,
    story: StoryRecord,
    wait: bool,
    timeout: float,
) -> StoryRecord:
    """Post and follow the story in this process (no daemon owns the root)."""
    # A request that hangs must not outlast the wait either.
    request_timeout = min(settings.timeout_seconds, timeout) if wait else settings.timeout_seconds
    with (
        RootLock(settings.state_dir),
        PullStoryClient(settings.pullstory.base_url, token, timeout=request_timeout) as client,
    ):
        key = settings.resolve_api_key() or ""  # builds source URLs; never sent

        def on_ready(ready: StoryRecord) -> None:
            write_story_url(settings, store, mirror, ready.session_id, key)

        # A stored quota pause may be over: the usage is looked at before anything waits.
        check_usage_soon(store, time.time())
        queue = PushQueue(store, client, on_ready=on_ready, policy=push_policy(settings))
        queue.drain(
            max_seconds=timeout if wait else NO_WAIT_SECONDS,
            until_final=story.brief_hash if wait else None,
        )
    return _story(store, story.brief_hash)


def _wait_for_daemon(
    store: Store, settings: Settings, brief_hash: str, timeout: float
) -> StoryRecord:
    deadline = time.monotonic() + timeout
    story = _story(store, brief_hash)
    while story.status in OPEN_STATUSES and time.monotonic() < deadline:
        held = story.status == StoryStatus.QUEUED and store.push_state().paused_reason is not None
        if holder(settings.state_dir) is None or held:
            break  # the daemon is gone, or the quota holds the brief: say so, not hang
        # The daemon does the work; this only reads the index.
        time.sleep(min(DAEMON_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        story = _story(store, brief_hash)
    return story


def _story(store: Store, brief_hash: str) -> StoryRecord:
    return next(s for s in store.stories() if s.brief_hash == brief_hash)
