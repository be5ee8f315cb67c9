"""`syncd brief` and `syncd push`: a session's brief, shown or sent to PullStory."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from syncd.cli.options import SessionArg, settings_of
from syncd.errors import EXIT_ITEMS_FAILED, PushPausedError, PushWaitTimeoutError
from syncd.index.statuses import StoryStatus

# `push --wait` gives up after this long by default: generation takes 60-120 s, and
# PullStory failing for 15 minutes is an outage to report, not to wait out.
WAIT_DEFAULT_SECONDS = 900.0


def brief_command(
    ctx: typer.Context,
    session: SessionArg,
) -> None:
    """Print the PullStory brief a session makes, as JSON, without sending it."""
    from syncd.app.pushing import brief_json

    print(json.dumps(brief_json(settings_of(ctx), session), indent=2, ensure_ascii=False))


def push_command(
    ctx: typer.Context,
    session: SessionArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Block until the story is ready or failed.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1.0,
            metavar="SECONDS",
            help="With --wait: give up after this long (generation takes 1-2 minutes).",
        ),
    ] = WAIT_DEFAULT_SECONDS,
) -> None:
    """Send a session to PullStory as a brief (never the same brief twice).

    Without a running daemon the story is posted at once; with --wait, syncd follows
    it and prints the story URL (exit 0) or its error (exit 1). A story that failed is
    posted again, as a smaller brief when PullStory asked for one. When PullStory's
    minutes are used up, --wait ends at once with exit 7 and the date they come back.
    --wait gives up after --timeout: with exit 4 when PullStory kept failing or could
    not be reached, exit 1 when the story is simply not finished; it stays queued either
    way. While `syncd run` owns the root, the brief is queued for it.
    """
    from syncd.app.pushing import push, story_line

    pushed = push(settings_of(ctx), session, wait=wait, timeout=timeout, say=print)
    story, state = pushed.story, pushed.state
    print(story_line(story))
    if story.status == StoryStatus.FAILED:
        print(f"`syncd push {session}` posts it again.", file=sys.stderr)
    if story.status in (StoryStatus.FAILED, StoryStatus.REJECTED):
        raise typer.Exit(EXIT_ITEMS_FAILED)
    if story.status == StoryStatus.QUEUED and state.paused_reason:
        if wait:
            raise PushPausedError(state.paused_reason, state.next_usage_check)
        print(state.paused_reason, file=sys.stderr)
    if wait and story.status != StoryStatus.READY:
        raise PushWaitTimeoutError(pushed.followed_seconds, story.status, story.last_error)
