"""The daemon's one SpecStory Cloud client: its connection pool and TLS context are built
once and serve every cycle; a reload (SIGHUP) has the next cycle build a new one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient, RequestStats
from syncd.config import Settings
from syncd.daemon.runtime import build_client


class ClientFactory(Protocol):
    def __call__(
        self,
        settings: Settings,
        api_key: str,
        *,
        budget: RateBudget,
        sleep: Callable[[float], None],
    ) -> CloudClient: ...


def daemon_client(
    settings: Settings,
    api_key: str,
    *,
    budget: RateBudget,
    sleep: Callable[[float], None],
) -> CloudClient:
    """The client `syncd run` uses: never spends the interactive reserve."""
    return build_client(
        settings, settings.base_url, api_key, interactive=False, sleep=sleep, budget=budget
    )


class CloudConnection:
    """Hands the sync thread one long-lived client; `renew()` (from any thread) makes the
    next `for_cycle()` close it and build another from the settings of that moment."""

    def __init__(
        self,
        factory: ClientFactory,
        budget: RateBudget,
        sleep: Callable[[float], None],
    ) -> None:
        self._factory = factory
        self._budget = budget  # the daemon's: pacing and 429 back-off outlive a client
        self._sleep = sleep
        self._client: CloudClient | None = None
        self._renew = threading.Event()

    def for_cycle(self, settings: Settings, api_key: str) -> CloudClient:
        """The client for the cycle about to start, its request counts at zero."""
        if self._renew.is_set():
            self._renew.clear()
            self.close()
        if self._client is None:
            self._client = self._factory(settings, api_key, budget=self._budget, sleep=self._sleep)
        self._client.stats = RequestStats()  # the cycle's report counts the cycle's requests
        return self._client

    def renew(self) -> None:
        self._renew.set()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
