"""Where a story stands and why it was queued: the words the index stores for each story.

StrEnums, so the stored values, `syncd status --json` and the CLI's output are these
very strings.
"""

from __future__ import annotations

from enum import StrEnum


class StoryStatus(StrEnum):
    """A story's place in the push queue's life."""

    QUEUED = "queued"  # waiting to be posted
    GENERATING = "generating"  # posted; PullStory is writing it
    READY = "ready"  # written: the story URL is known
    FAILED = "failed"  # PullStory or the network failed; may be posted again
    REJECTED = "rejected"  # PullStory refused the brief: posting it again cannot help
    SUPERSEDED = "superseded"  # a smaller brief of the same session took its place


#: Stories the queue still works on.
OPEN_STATUSES = (StoryStatus.QUEUED, StoryStatus.GENERATING)


class StorySource(StrEnum):
    """What put a session's brief in the queue."""

    PUSH = "push"  # `syncd push`
    MARK = "mark"  # `pullstory: true` in the file's front matter
    OUTBOX = "outbox"  # dropped or linked into the outbox
    RULE = "rule"  # matched a configured rule
