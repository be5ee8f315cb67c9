"""How far the daemon's running cycle is, for the state file `syncd status` reads.

The executor reports each step; the counts are put on top of the sessions the index held
when the cycle's first step began, so a first sync cut into several cycles by the rate
budget still reads as one count ("1,234 of 20,000 sessions").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from syncd.daemon.state import CycleProgress


class ProgressNotes:
    def __init__(
        self,
        count_sessions: Callable[[], int],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._count_sessions = count_sessions
        self._clock = clock
        self._base: int | None = None
        # Replaced whole on each step: the main thread reads it without a lock.
        self.latest: CycleProgress | None = None

    def new_cycle(self) -> None:
        self._base = None

    def step(self, position: int, total: int, label: str) -> None:
        """The executor's progress callback: step `position` of `total` begins."""
        if self._base is None:
            self._base = self._count_sessions()
        done = self._base + position - 1  # the steps before this one have landed
        self.latest = CycleProgress(done, self._base + total, self._clock())
