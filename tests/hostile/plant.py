"""Things planted in the mirror before a hostile run (symlinks out of the root), and
their removal before the run that must converge."""

from __future__ import annotations

from collections.abc import Callable

from tests.hostile import checks
from tests.hostile.account import S1
from tests.hostile.perturb import Place


def plant_link(name: str) -> Callable[[Place], None]:
    def prepare(place: Place) -> None:
        place.root.mkdir(exist_ok=True)
        link = place.root / name
        if link.is_dir() and not link.is_symlink():
            link.rename(place.root / f"{name}.moved-by-test")
        link.symlink_to(place.outside)

    return prepare


def unplant(name: str) -> Callable[[Place], None]:
    def undo(place: Place) -> None:
        link = place.root / name
        if link.is_symlink():
            link.unlink()

    return undo


def link_session_file(place: Place) -> None:
    """Replace S1's mirrored file with a symlink to a file outside the root."""
    target = place.outside / "not-yours.md"
    target.write_bytes(b"---\nid: someone else's\n---\nprivate\n")
    path = place.root / checks.mirrored(place.root)[S1][0][0]
    path.unlink()
    path.symlink_to(target)


def unlink_session_file(place: Place) -> None:
    for path in place.root.rglob("*.md"):
        if path.is_symlink():
            path.unlink()
