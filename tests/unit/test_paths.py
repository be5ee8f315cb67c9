"""Names in the mirror tree stay safe and stable whatever the cloud calls things."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.errors import UnsafePathError
from syncd.mirror.paths import (
    TEMP_SUFFIX_BYTES,
    check_relative,
    format_stamp,
    id_tag,
    project_dirname,
    session_filename,
    slugify,
)

SAFE_FILENAME = re.compile(r"^[0-9a-zA-Z_.-]+\.md$")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
UUID = "550e8400-e29b-41d4-a716-446655440000"
WHEN = datetime(2025, 7, 20, 10, 28, 48, tzinfo=UTC)

WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {
    f"{d}{n}" for d in ("com", "lpt") for n in range(10)
}
HOSTILE_NAMES = [
    "../../etc/passwd",
    "/",
    "..",
    ".",
    ".git",
    ".syncd",
    ".trash",
    "a\x00b",
    "\x00",
    "CON",
    "nul.txt",
    "x" * 500,
    "é" * 500,
    "😀🎉🔥",
    "東京タワー",
    "",
    "   ",
    "\u202eevil\u202c.md",
    "\udcff",
    "-leading-dash-",
    "C:\\Windows\\system32",
    "name\nwith\nnewlines",
]

# Every character, lone surrogates included (JSON can hold them), with the troublesome
# ones drawn often: line breaks, NUL, BOM, path and Markdown punctuation.
TRICKY = "\x00\t\n\r\x85\u2028\u2029\ufeff\udcff\ud800/\\.-_ :#|[]()<>*`'\"&@"
# (st.text would merge the two alphabets and draw mostly ASCII; a list keeps the mix.)
any_text = st.lists(
    st.sampled_from(TRICKY) | st.characters(codec=None, exclude_categories=()), max_size=40
).map("".join)
names = any_text | st.text(min_size=200, max_size=600)
any_time = st.none() | st.datetimes() | st.datetimes(timezones=st.timezones())


def test_design_example_file_name() -> None:
    name = session_filename(WHEN, "Read @README.md", id_tag(UUID))

    assert name == "2025-07-20_10-28-48Z-read-at-readme-md-550e8400.md"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Read @README.md", "read-at-readme-md"),
        ("Café crème", "cafe-creme"),
        ("Straße", "strasse"),
        ("\u210cello   Wörld!!!", "hello-world"),
        ("R&D notes", "r-and-d-notes"),
        ("../../etc/passwd", "etc-passwd"),
        ("UPPER_snake_Case", "upper-snake-case"),
        ("---", "untitled"),
        ("", "untitled"),
        ("😀🎉🔥", "grinning-tada-fire"),
        ("東京タワー", "dongjingtawa"),
        ("\udcff", "untitled"),
        ("a\x00b", "a-b"),
        ("\u202eevil\u202c.md", "evil-md"),
    ],
)
def test_slugify_examples(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugify_cuts_long_names_at_a_word_boundary() -> None:
    name = " ".join(["word"] * 100)

    slug = slugify(name, max_bytes=22)

    assert slug == "word-word-word-word"


def test_slugify_cuts_mid_word_when_the_only_boundary_is_near_the_start() -> None:
    assert slugify("a " + "b" * 100, max_bytes=10) == "a-bbbbbbbb"


def test_slugify_of_500_characters_fits_the_default_budget() -> None:
    assert slugify("x" * 500) == "x" * 80


def test_slugify_fallback_fits_a_tiny_budget() -> None:
    assert slugify("\u2028", max_bytes=3) == "unt"


def test_slugify_rejects_a_budget_below_one_byte() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        slugify("name", max_bytes=0)


@given(names, st.integers(min_value=1, max_value=300))
def test_slug_is_nonempty_ascii_within_budget_and_stable(name: str, max_bytes: int) -> None:
    slug = slugify(name, max_bytes)

    assert 1 <= len(slug.encode("utf-8")) <= max_bytes
    assert slug.isascii()
    assert SLUG.match(slug)
    assert slugify(slug, max_bytes) == slug


def test_id_tag_of_a_uuid_is_its_first_eight_characters() -> None:
    assert id_tag(UUID) == "550e8400"


def test_id_tag_honours_length() -> None:
    assert id_tag(UUID, length=12) == "550e8400-e29"


@pytest.mark.parametrize("session_id", ["../../x", "a/b", "", "\x00", "abc", "..", "\udcff"])
def test_id_tag_of_a_hostile_id_is_safe_and_hashed(session_id: str) -> None:
    tag = id_tag(session_id)

    assert re.fullmatch(r"[A-Za-z0-9_-]{0,8}-[0-9a-f]{8}", tag)
    assert tag == id_tag(session_id)


def test_hostile_ids_that_share_safe_characters_get_distinct_tags() -> None:
    tags = {id_tag(i) for i in ["a/b", "a\\b", "ab/", "/ab", "a b"]}

    assert len(tags) == 5


@given(any_text, st.integers(min_value=1, max_value=40))
def test_id_tag_is_file_name_safe_and_stable(session_id: str, length: int) -> None:
    tag = id_tag(session_id, length)

    assert re.fullmatch(r"[A-Za-z0-9_-]+", tag)
    assert len(tag) <= length + 9
    assert id_tag(session_id, length) == tag


@given(any_text, any_text)
def test_equal_tags_come_from_ids_sharing_their_first_characters(a: str, suffix: str) -> None:
    # Ids sharing their first 8 characters share a tag exactly when those are plain (a plain
    # tag is 8 long, a hashed one longer, so the two forms never meet); else only equal ids.
    b = a[:8] + suffix
    plain = re.fullmatch(r"[A-Za-z0-9_-]{8}", a[:8]) is not None
    assert (id_tag(a) == id_tag(b)) == (plain or a == b)


def test_format_stamp_uses_utc() -> None:
    paris = timezone(timedelta(hours=2))

    assert format_stamp(datetime(2025, 7, 20, 12, 28, 48, 999_999, tzinfo=paris)) == (
        "2025-07-20_10-28-48Z"
    )


def test_format_stamp_takes_naive_times_as_utc() -> None:
    assert format_stamp(datetime(2025, 7, 20, 10, 28, 48)) == "2025-07-20_10-28-48Z"


def test_format_stamp_without_a_time_is_undated() -> None:
    assert format_stamp(None) == "undated"


def test_format_stamp_pads_early_years() -> None:
    assert format_stamp(datetime(5, 1, 2, 3, 4, 5)) == "0005-01-02_03-04-05Z"


def test_format_stamp_clamps_times_beyond_the_calendar() -> None:
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    late = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))

    assert format_stamp(early) == "0001-01-01_00-00-00Z"
    assert format_stamp(late) == "9999-12-31_23-59-59Z"


def test_session_filename_without_a_time_is_undated() -> None:
    assert session_filename(None, "Hello", "550e8400") == "undated-hello-550e8400.md"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_session_filename_of_hostile_name_is_safe(name: str) -> None:
    filename = session_filename(WHEN, name, id_tag(UUID))

    assert SAFE_FILENAME.match(filename)
    assert filename.startswith("2025-07-20_10-28-48Z-")
    assert filename.endswith("-550e8400.md")
    assert len(filename.encode("utf-8")) <= 255 - TEMP_SUFFIX_BYTES


def test_session_filename_gives_a_long_name_all_remaining_bytes() -> None:
    filename = session_filename(WHEN, "x" * 500, "550e8400", max_bytes=100)

    assert len(filename) == 100


@pytest.mark.parametrize("tag", ["", "../x", "a/b", "a\x00", ".hidden"])
def test_session_filename_refuses_an_unsafe_tag(tag: str) -> None:
    with pytest.raises(UnsafePathError):
        session_filename(WHEN, "name", tag)


def test_session_filename_refuses_a_budget_with_no_room_for_a_slug() -> None:
    with pytest.raises(ValueError, match="no room"):
        session_filename(WHEN, "name", "550e8400", max_bytes=33)


# 43 bytes: a stamp (20), the longest tag (17: 8 safe characters, "-", 8 hex), ".md" and
# two separators leave one byte of slug; any smaller budget is refused by design.
@given(any_time, names, any_text, st.integers(min_value=43, max_value=255))
def test_session_filename_is_always_a_safe_name_within_budget(
    when: datetime | None, name: str, session_id: str, max_bytes: int
) -> None:
    filename = session_filename(when, name, id_tag(session_id), max_bytes=max_bytes)

    assert len(filename.encode("utf-8")) <= max_bytes
    assert SAFE_FILENAME.match(filename)
    assert "/" not in filename
    assert "\x00" not in filename
    assert not filename.startswith(".")


@pytest.mark.parametrize(
    ("name", "dirname"),
    [
        ("My Project", "my-project"),
        ("CON", "con-project"),
        ("con", "con-project"),
        ("Aux", "aux-project"),
        ("COM1", "com1-project"),
        ("lpt9", "lpt9-project"),
        ("COM¹", "com1-project"),
        ("nul.txt", "nul-txt"),
        ("console", "console"),
        ("../../etc/passwd", "etc-passwd"),
        ("/", "untitled"),
        ("..", "untitled"),
        (".git", "git"),
        ("", "untitled"),
        ("😀", "grinning"),
        ("\u3000", "untitled"),
    ],
)
def test_project_dirname_examples(name: str, dirname: str) -> None:
    assert project_dirname(name) == dirname


def test_project_dirname_appends_the_tag() -> None:
    assert project_dirname("My Project", "proj_abc") == "my-project-proj_abc"
    assert project_dirname("CON", "proj_abc") == "con-project-proj_abc"


def test_project_dirname_refuses_an_unsafe_tag() -> None:
    with pytest.raises(UnsafePathError):
        project_dirname("My Project", "../x")


@given(names, st.none() | any_text.map(id_tag))
def test_project_dirname_is_always_a_safe_folder_name(name: str, tag: str | None) -> None:
    dirname = project_dirname(name, tag)

    assert re.fullmatch(r"[a-z0-9][A-Za-z0-9_-]*", dirname)
    assert len(dirname.encode("utf-8")) <= 255
    assert dirname not in WINDOWS_DEVICES


@pytest.mark.parametrize(
    "rel",
    [
        "proj/2025-07-20_10-28-48Z-x-550e8400.md",
        "README.md",
        "proj/INDEX.md",
        "a/b/c",
        "...",
        "..a",
        "a..",
    ],
)
def test_check_relative_accepts_paths_below_the_root(rel: str) -> None:
    assert check_relative(rel) == PurePosixPath(rel)


@pytest.mark.parametrize(
    "rel",
    [
        "",
        "/",
        "/etc/passwd",
        "..",
        ".",
        "../x",
        "a/../../x",
        "a/..",
        "./a",
        "a/./b",
        "a\\b",
        "..\\x",
        "a\x00b",
        "a//b",
        "a/",
        "x" * 256,
        "proj/" + "é" * 128,
        "\udcff",
    ],
)
def test_check_relative_rejects_unsafe_paths(rel: str) -> None:
    with pytest.raises(UnsafePathError) as raised:
        check_relative(rel)

    assert raised.value.path == rel
    assert "outside the mirror root" in raised.value.message


def test_check_relative_accepts_a_component_of_exactly_255_bytes() -> None:
    assert check_relative("x" * 255) == PurePosixPath("x" * 255)


@given(
    st.lists(st.sampled_from(["a", "b.md", "..", "."]), min_size=1, max_size=6).filter(
        lambda parts: ".." in parts or "." in parts
    ),
    st.sampled_from(["", "/"]),
)
def test_check_relative_rejects_every_traversal(parts: list[str], prefix: str) -> None:
    with pytest.raises(UnsafePathError):
        check_relative(prefix + "/".join(parts))


@given(any_text)
def test_check_relative_accepts_only_paths_that_stay_below_the_root(rel: str) -> None:
    try:
        path = check_relative(rel)
    except UnsafePathError:
        return
    assert not path.is_absolute()
    assert ".." not in path.parts
    assert str(path) == rel
    assert "\x00" not in rel
    assert "\\" not in rel


def test_local_copy_name_keeps_the_stem_and_fits_the_name_limit() -> None:
    from syncd.mirror.paths import SESSION_FILENAME_MAX_BYTES, local_copy_name

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert local_copy_name("2026-x-abc.md", when) == "2026-x-abc.local-20260102T030405Z.md"
    long_name = "a" * (SESSION_FILENAME_MAX_BYTES - 3) + ".md"
    kept = local_copy_name(long_name, when)
    assert len(kept.encode()) <= SESSION_FILENAME_MAX_BYTES
    assert kept.endswith(".local-20260102T030405Z.md")
