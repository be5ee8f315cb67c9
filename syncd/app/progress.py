"""What a one-shot sync tells a terminal while it works, and how a budget wait is said."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from syncd.cloud.budget import BudgetWait
from syncd.daemon.status_text import duration

__all__ = ["BudgetWait", "ProgressDisplay", "budget_wait_text"]


class ProgressDisplay(Protocol):
    """Each step of the sync with the bytes received so far, and each budget wait."""

    def step(self, done: int, total: int, label: str, received: int) -> None: ...

    def budget_wait(self, wait: BudgetWait) -> None: ...


def budget_wait_text(wait: BudgetWait) -> str:
    """'waiting for the rate budget until 14:50 (resets hourly); 1,234 requests left:
    about 1 h 22 min at 900 an hour', in local clock time."""
    until = datetime.fromtimestamp(wait.until).astimezone()
    text = f"waiting for the rate budget until {until:%H:%M} (resets hourly)"
    backlog = wait.backlog_seconds()
    if backlog is None or wait.per_hour is None:
        return text
    return (
        f"{text}; {wait.backlog:,} requests left: about {duration(backlog)} "
        f"at {wait.per_hour:,.0f} an hour"
    )
