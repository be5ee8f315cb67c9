"""Conditions that end a cycle early without failing its items: they are done later."""

from __future__ import annotations

from dataclasses import dataclass

from syncd.errors import BudgetExhaustedError, RateLimitedError, StopRequested, SyncdError

HALTS = (RateLimitedError, BudgetExhaustedError, StopRequested)


@dataclass(frozen=True)
class Halt:
    """What ended a cycle early, and how many of its steps it left for later."""

    cause: SyncdError
    pending: int = 0
