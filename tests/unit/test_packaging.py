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


def test_the_license_is_an_spdx_expression_shipped_with_its_text() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # A table ({text = ...}) is deprecated by setuptools and warned about on every build.
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 The syncd authors" in text
    assert not any(c.startswith("License ::") for c in project["classifiers"])


def test_the_metadata_says_what_syncd_runs_on_and_where_it_lives() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    classifiers = set(project["classifiers"])
    assert {
        "Environment :: Console",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Typing :: Typed",
    } <= classifiers
    assert set(project["urls"]) == {"Homepage", "Documentation", "Changelog", "Issues"}
    homepage = project["urls"]["Homepage"]
    assert all(url.startswith(homepage) for url in project["urls"].values())
