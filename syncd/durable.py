"""Named points right after each durable step (a file renamed into place, an index
transaction committed, a git command finished).

Production code only announces them; nothing listens unless a test installs an observer,
which is how the crash tests stop a real process at every durable step in turn.
"""

from __future__ import annotations

from collections.abc import Callable

_observer: Callable[[str], None] | None = None


def reached(step: str) -> None:
    """Announce that `step` is now durable (a no-op unless observed)."""
    if _observer is not None:
        _observer(step)


def observe(observer: Callable[[str], None] | None) -> None:
    """Install (or remove, with None) the one observer of durable steps."""
    global _observer
    _observer = observer
