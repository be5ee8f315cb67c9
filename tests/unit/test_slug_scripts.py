"""Names in every script become readable ASCII file names (transliterated, never lost)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from anyascii import anyascii
from hypothesis import given
from hypothesis import strategies as st

from syncd.mirror.paths import (
    SESSION_FILENAME_MAX_BYTES,
    SLUG_MAX_BYTES,
    UNTITLED,
    check_relative,
    id_tag,
    project_dirname,
    session_filename,
    slugify,
)

SCRIPTS = {
    "cyrillic": (0x0400, 0x04FF),
    "greek": (0x0370, 0x03FF),
    "cjk": (0x4E00, 0x9FFF),
    "arabic": (0x0600, 0x06FF),
    "hebrew": (0x05D0, 0x05EA),
    "devanagari": (0x0900, 0x097F),
    "thai": (0x0E01, 0x0E5B),
    "emoji": (0x1F300, 0x1FAFF),
}
LETTERS = ("Lu", "Ll", "Lt", "Lo")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_WINDOWS_DEVICES = re.compile(r"(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?")


def script_text(
    low: int, high: int, categories: tuple[str, ...] | None = None
) -> st.SearchStrategy[str]:
    """Words of one script's characters (anything in the block, or only its letters)."""
    chars = st.characters(min_codepoint=low, max_codepoint=high, categories=categories)
    if categories is not None:
        # Letters anyascii spells with a letter or digit (Hebrew aleph is only a quote mark).
        chars = chars.filter(lambda ch: any(c.isalnum() for c in anyascii(ch)))
    words = st.text(chars, min_size=1, max_size=12)
    return st.lists(words, min_size=1, max_size=8).map(" ".join)


any_script = st.one_of(*(script_text(low, high) for low, high in SCRIPTS.values()))
# A name mixing scripts, with ASCII, punctuation and spacing between the runs.
mixed = st.lists(
    any_script | st.text(max_size=10) | st.sampled_from([" ", "-", "…", "/", ".", "\x00"]),
    min_size=1,
    max_size=6,
).map("".join)
budgets = st.integers(min_value=1, max_value=SLUG_MAX_BYTES)


@given(mixed | any_script, budgets)
def test_a_slug_in_any_script_is_non_empty_ascii_within_its_budget(name: str, budget: int) -> None:
    slug = slugify(name, budget)

    assert slug
    assert slug.isascii()
    assert len(slug.encode()) <= budget
    assert _SLUG.fullmatch(slug)
    assert slugify(name, budget) == slug  # the same name, the same slug
    assert slugify(slug, budget) == slug


@given(mixed | any_script)
def test_names_in_any_script_make_safe_folder_and_file_names(name: str) -> None:
    folder = project_dirname(name)
    filename = session_filename(datetime(2025, 1, 14, tzinfo=UTC), name, id_tag("7f3c2a10-x"))

    for made in (folder, filename):
        check_relative(made)  # one component, no "..", no NUL, within 255 bytes
        assert "/" not in made
        assert not made.startswith(".")
        assert made.isascii()
    assert not _WINDOWS_DEVICES.fullmatch(folder)
    assert len(filename.encode()) <= SESSION_FILENAME_MAX_BYTES


@pytest.mark.parametrize(("script", "block"), sorted(SCRIPTS.items()))
@given(data=st.data())
def test_letters_of_a_transliterated_script_are_never_untitled(
    script: str, block: tuple[int, int], data: st.DataObject
) -> None:
    categories = LETTERS if script != "emoji" else ("So",)
    name = data.draw(script_text(*block, categories=categories), label=script)

    slug = slugify(name)

    assert slug != UNTITLED
    assert len(slug) >= min(3, len(name.replace(" ", "")))


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("Проект Альфа", "proekt-alfa"),
        ("Проект Бета", "proekt-beta"),
        ("日本語プロジェクト", "ribenyupurojiekuto"),
        ("3D建物生成…", "3djianwushengcheng"),
        ("Ελληνικά έγγραφα", "ellinika-eggrafa"),
        ("שלום עולם", "slvm-vlm"),
        ("🚀 launch", "rocket-launch"),
        ("Объём", "obem"),  # the hard sign's quote does not split the word
    ],
)
def test_example_names_become_readable_folders(name: str, folder: str) -> None:
    assert project_dirname(name) == folder


def test_a_cyrillic_session_title_names_its_file() -> None:
    when = datetime(2025, 1, 14, 10, 22, 3, tzinfo=UTC)

    filename = session_filename(when, "Настройка сборки проекта", id_tag("7f3c2a10-0000"))

    assert filename == "2025-01-14_10-22-03Z-nastroyka-sborki-proekta-7f3c2a10.md"


def test_a_quote_in_the_name_itself_still_separates_words() -> None:
    assert slugify("don't stop") == "don-t-stop"
