"""Ctrl-C while the mirror's folders are opened one by one: the interrupt stays an
interrupt, and no folder number is closed twice (a second close could close a file another
thread had just opened, and its EBADF would replace the interrupt: the sync went on)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.mirror import nofollow


def test_ctrl_c_right_after_a_parent_folder_is_closed_stays_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    real_close = os.close
    closed: list[int] = []

    def close_then_interrupt(fd: int) -> None:
        real_close(fd)
        closed.append(fd)
        if len(closed) == 1:  # the signal lands as the first close returns
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "close", close_then_interrupt)
    with (
        pytest.raises(KeyboardInterrupt),
        nofollow.folder(tmp_path, ["a", "b"], create=False, path="a/b/x.md"),
    ):
        pytest.fail("the interrupt came before the folder was open")
    monkeypatch.undo()
    assert len(closed) == len(set(closed)) == 2  # the root's fd, then a/'s: each once


def test_folders_opened_on_the_way_are_all_closed(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    before = set(Path("/proc/self/fd").iterdir())
    with nofollow.folder(tmp_path, ["a", "b"], create=False, path="a/b/x.md") as fd:
        assert fd is not None
        assert os.path.samestat(os.fstat(fd), (tmp_path / "a" / "b").stat())
    assert set(Path("/proc/self/fd").iterdir()) == before
