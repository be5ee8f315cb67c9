"""The README's settings table names every bound a setting has, so a limit cannot change
without the table saying so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import annotated_types
from pydantic import BaseModel

from syncd.config import MAX_SECONDS, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BOUNDS = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)


def bounds(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, float]]:
    """(setting, bound) for every numeric bound, nested tables included; the 30-day
    ceiling of every *_seconds setting is said once above the table."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from bounds(field.annotation, f"{prefix}{name}.")
            continue
        for item in field.metadata:
            for kind in BOUNDS:
                if isinstance(item, kind):
                    value = getattr(item, kind.__name__.lower())
                    if value != MAX_SECONDS:
                        yield prefix + name, value


def row(setting: str) -> str:
    found = [line for line in README.splitlines() if line.startswith(f"| `{setting}` |")]
    assert len(found) == 1, f"README.md has no row for {setting}"
    return found[0]


def test_every_bound_of_every_setting_is_in_its_row() -> None:
    checked = list(bounds(Settings))
    assert ("retry.attempts", 10) in checked
    for setting, value in checked:
        assert re.search(rf"`{value:g}`", row(setting)), f"{setting}: bound {value:g}"


def test_the_ceiling_of_durations_is_said_once() -> None:
    assert f"most `{MAX_SECONDS}` (30 days)" in README
