"""Every sub-package of syncd ships: the explicit package list in pyproject.toml names it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_in_the_installed_package_list() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "syncd").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"not installed: {sorted(found - listed)}"
