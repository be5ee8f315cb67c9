"""The mirror's reserved names: the spellings the on-disk format promises."""

from __future__ import annotations

from syncd.mirror import names


def test_temp_name_is_hidden_and_recognised_as_temp() -> None:
    temp = names.temp_name("a.md", "0a1b2c3d")
    assert temp == ".a.md.0a1b2c3d.syncd-tmp"
    assert names.is_temp(temp)
    assert not names.is_temp("a.md")


def test_local_copy_suffix_counts_from_the_second_copy() -> None:
    assert names.local_copy_suffix("20260116T164641Z") == ".local-20260116T164641Z.md"
    assert names.local_copy_suffix("20260116T164641Z", 2) == ".local-20260116T164641Z-2.md"
    assert names.is_local_copy("x.local-20260116T164641Z.md")


def test_state_path_is_the_first_part_in_any_case() -> None:
    assert names.is_state_path((".syncd", "index.db"))
    assert names.is_state_path((".SyncD", "outbox", "x.md"))
    assert not names.is_state_path(("project", ".syncd"))
    assert not names.is_state_path(())


def test_own_dirs_are_found_at_any_depth() -> None:
    assert names.in_own_dir(["project", ".git", "HEAD"])
    assert names.in_own_dir([".trash", "project", "a.md"])
    assert not names.in_own_dir(["project", "a.md"])


def test_outbox_path_is_inside_the_state_folder() -> None:
    assert names.OUTBOX_PATH == ".syncd/outbox"
