"""Is the daemon making progress? The watchdog pings only while it is.

A job beats the heartbeat between items and requests. Idle (no job running) counts as
healthy; so does a deliberate wait (for the rate budget) announced in advance. A job
that has been silent for longer than allowed is hung, and the pings stop so the service
manager restarts the daemon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()
        self._busy = False
        self._quiet_until = 0.0

    def beat(self) -> None:
        with self._lock:
            self._last = self._clock()

    def start_job(self) -> None:
        with self._lock:
            self._busy, self._last = True, self._clock()

    def end_job(self) -> None:
        with self._lock:
            self._busy, self._last = False, self._clock()

    def quiet_for(self, seconds: float) -> None:
        """A deliberate pause of `seconds` (e.g. pacing) is not a hang."""
        with self._lock:
            now = self._clock()
            self._last = now
            self._quiet_until = max(self._quiet_until, now + seconds)

    def healthy(self, max_silence: float) -> bool:
        with self._lock:
            now = self._clock()
            if not self._busy or now < self._quiet_until:
                return True
            return now - max(self._last, self._quiet_until) <= max_silence
