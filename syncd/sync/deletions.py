"""Which sessions a complete listing says are gone, and whether removing them is sane. Pure.

A session missing from a listing is only a candidate: the engine confirms each one with
its own request (404) before anything happens, and a guard refuses to remove more than a
set share of a project's sessions in one cycle, so a broken, partial or empty listing can
never wipe the archive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syncd.model import SessionRecord


@dataclass(frozen=True)
class DeletionPlan:
    project_id: str
    candidates: list[SessionRecord]
    refusal: str | None  # why the guard refuses, when it does


def allowed_count(total: int, max_share: float) -> int:
    """The most sessions one cycle may remove from a project of `total` (at least one)."""
    return max(1, math.floor(total * max_share))


def plan_deletions(
    project_id: str,
    project_name: str,
    listed_ids: Iterable[str],
    indexed: Mapping[str, SessionRecord],
    *,
    max_share: float,
    allow_mass_delete: bool,
) -> DeletionPlan:
    listed = set(listed_ids)
    mine = [r for r in indexed.values() if r.project_id == project_id]
    candidates = sorted((r for r in mine if r.id not in listed), key=lambda r: r.path)
    what = f"sessions of project {project_name!r}"
    refusal = None if allow_mass_delete else guard(len(candidates), len(mine), what, max_share)
    return DeletionPlan(project_id, candidates, refusal)


def guard(removing: int, total: int, what: str, max_share: float) -> str | None:
    """Why removing `removing` of `total` in one cycle is refused; None when it is not."""
    limit = allowed_count(total, max_share)
    if removing <= limit:
        return None
    return (
        f"refusing to remove {removing} of {total} {what} in one cycle (the limit is "
        f"{limit}, {max_share:.0%}); if they really were deleted, stop syncd run and run: "
        "syncd sync --once --allow-mass-delete"
    )
