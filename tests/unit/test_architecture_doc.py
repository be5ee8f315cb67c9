"""docs/architecture.md matches the code: every module it names exists, and every package
of syncd has its row in the table of packages."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_the_page_names_exists() -> None:
    named = set(re.findall(r"\b([a-z_]+(?:/[a-z_]+)*/[a-z_]+\.py)\b", DOC))
    missing = [p for p in sorted(named) if not (ROOT / "syncd" / p).exists()]
    missing = [p for p in missing if not (ROOT / p).exists()]
    assert named
    assert not missing


def test_every_package_has_its_row() -> None:
    packages = {
        init.parent.name
        for init in (ROOT / "syncd").glob("*/__init__.py")
        if init.parent.name != "migrations"
    }
    rows = set(re.findall(r"^\| `([a-z_]+)/` \|", DOC, flags=re.MULTILINE))
    assert packages <= rows, sorted(packages - rows)
