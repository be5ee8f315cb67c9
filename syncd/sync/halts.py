"""Conditions that end a cycle early without failing its items: they are done later."""

from __future__ import annotations

from syncd.errors import BudgetExhaustedError, RateLimitedError, StopRequested, SyncdError

HALTS = (RateLimitedError, BudgetExhaustedError, StopRequested)


class CycleHalted(Exception):
    """Carries a halt out of a cycle together with how many steps it left undone."""

    def __init__(self, cause: SyncdError, pending: int) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.pending = pending
