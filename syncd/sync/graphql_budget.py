"""The GraphQL budget kept in the index beside REST's (its own row), so a restart and
`syncd status` know what the last query was told."""

from __future__ import annotations

import dataclasses
import logging

from syncd.cloud.budget import BudgetSnapshot, RateBudget
from syncd.index.records import BudgetRecord
from syncd.index.store import Store

logger = logging.getLogger(__name__)


def restore(store: Store, budget: RateBudget) -> None:
    """Resume `budget` from what the index saved, unless it already knows better."""
    saved = store.budget("graphql")
    if budget.known or saved is None:
        return
    if budget.restore(BudgetSnapshot(**dataclasses.asdict(saved))):
        logger.warning("the saved GraphQL budget held a wait or figures out of range: clamped")


def save(store: Store, budget: RateBudget) -> None:
    """Keep what the server last said of the GraphQL budget (nothing when it said nothing)."""
    snapshot = budget.snapshot()
    if snapshot is not None:
        store.save_budget(BudgetRecord(**dataclasses.asdict(snapshot)), "graphql")
