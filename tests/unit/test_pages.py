"""Generated pages list the mirror deterministically and survive hostile names."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.mirror.names import GENERATED_MARK
from syncd.mirror.pages import (
    ProjectEntry,
    SessionEntry,
    render_project_index,
    render_root_readme,
)

OLD = SessionEntry(
    filename="2025-07-19_23-13-00Z-who-invented-the-tootsie-pop-1a2b3c4d.md",
    name="Who invented the Tootsie Pop?",
    started="2025-07-19T23:13:00.000Z",
    models=("gpt-4o",),
    tags=(),
)
NEW = SessionEntry(
    filename="2025-07-20_10-28-48Z-read-at-readme-md-550e8400.md",
    name="Read @README.md",
    started="2025-07-20T10:28:48.000Z",
    models=("claude-sonnet-4", "claude-opus-4"),
    tags=("docs", "onboarding"),
)
UNDATED = SessionEntry(
    filename="undated-untitled-9f8e7d6c.md", name="", started=None, models=(), tags=()
)

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/",
    "..",
    "a\x00b",
    "CON",
    "nul.txt",
    "x" * 500,
    "😀🎉",
    "東京タワー",
    "",
    "pipe | in | name",
    "line\nbreak\r\nand\u2028more",
    "[link](javascript:alert(1))",
    "![image](x.png)",
    "<script>alert(1)</script>",
    "*bold* _em_ `code` ~strike~",
    "# heading #",
    "back\\slash\\",
    "\udcff",
]

# Every character, lone surrogates included (JSON can hold them), with the troublesome
# ones drawn often: line breaks, NUL, BOM, path and Markdown punctuation.
TRICKY = "\x00\t\n\r\x85\u2028\u2029\ufeff\udcff\ud800/\\.-_ :#|[]()<>*`'\"&@"
# (st.text would merge the two alphabets and draw mostly ASCII; a list keeps the mix.)
any_text = st.lists(
    st.sampled_from(TRICKY) | st.characters(codec=None, exclude_categories=()), max_size=40
).map("".join)
session_entries = st.builds(
    SessionEntry,
    filename=any_text,
    name=any_text,
    started=st.none() | any_text | st.datetimes().map(lambda d: d.isoformat()),
    models=st.lists(any_text, max_size=3).map(tuple),
    tags=st.lists(any_text, max_size=3).map(tuple),
)
project_entries = st.builds(
    ProjectEntry,
    dirname=any_text,
    name=any_text,
    sessions=st.integers(min_value=0, max_value=10_000),
    last_activity=st.none() | any_text | st.datetimes().map(lambda d: d.isoformat()),
)


def table_rows(page: str) -> list[str]:
    """The body rows of the page's table (after the header and the |---| line)."""
    lines = page.splitlines()
    if "|---|---|---|---|" in lines:
        start = lines.index("|---|---|---|---|") + 1
    elif "|---|---|---|" in lines:
        start = lines.index("|---|---|---|") + 1
    else:
        return []
    rows = lines[start:]
    return rows[: rows.index("")] if "" in rows else rows  # the generated mark follows


def cells(row: str) -> list[str]:
    """Split a table row on its unescaped pipes, as GFM does."""
    found, current, escaped = [], "", False
    for ch in row:
        if ch == "|" and not escaped:
            found.append(current)
            current = ""
        else:
            current += ch
        escaped = ch == "\\" and not escaped
    found.append(current)
    assert found[0] == ""
    assert found[-1] == ""
    return found[1:-1]


def test_project_index_lists_sessions_newest_first() -> None:
    page = render_project_index("My Project", [OLD, UNDATED, NEW])

    assert page == (
        "# My Project\n"
        "\n"
        "3 sessions.\n"
        "\n"
        "| Date | Session | Models | Tags |\n"
        "|---|---|---|---|\n"
        "| 2025-07-20 10:28 | [Read @README.md](2025-07-20_10-28-48Z-read-at-readme-md-550e8400.md)"
        " | claude-sonnet-4, claude-opus-4 | docs, onboarding |\n"
        "| 2025-07-19 23:13 | [Who invented the Tootsie Pop?]"
        "(2025-07-19_23-13-00Z-who-invented-the-tootsie-pop-1a2b3c4d.md) | gpt-4o |  |\n"
        "| — | [(untitled)](undated-untitled-9f8e7d6c.md) |  |  |\n"
        "\n"
        f"{GENERATED_MARK}\n"
    )


def test_project_index_says_one_session_in_the_singular() -> None:
    assert "\n1 session.\n" in render_project_index("p", [NEW])


def test_project_index_without_sessions_has_no_table() -> None:
    assert render_project_index("Empty", []) == f"# Empty\n\n0 sessions.\n\n{GENERATED_MARK}\n"


def test_project_index_breaks_ties_in_start_time_by_file_name() -> None:
    b = SessionEntry("b.md", "B", "2025-07-20T10:28:48Z", (), ())
    a = SessionEntry("a.md", "A", "2025-07-20T12:28:48+02:00", (), ())

    rows = table_rows(render_project_index("p", [b, a]))

    assert [row.split("](")[1].split(")")[0] for row in rows] == ["a.md", "b.md"]


def test_project_index_shows_times_in_utc() -> None:
    entry = SessionEntry("a.md", "A", "2025-07-20T01:30:00-05:00", (), ())

    assert "| 2025-07-20 06:30 |" in render_project_index("p", [entry])


def test_project_index_takes_naive_times_as_utc() -> None:
    entry = SessionEntry("a.md", "A", "2025-07-20T01:30:00", (), ())

    assert "| 2025-07-20 01:30 |" in render_project_index("p", [entry])


def test_project_index_shows_a_time_it_cannot_parse_as_text_and_sorts_it_last() -> None:
    odd = SessionEntry("a.md", "A", "last Tuesday", (), ())

    rows = table_rows(render_project_index("p", [odd, NEW]))

    assert rows[1].startswith("| last Tuesday | [A](a.md)")


def test_project_index_percent_encodes_link_targets() -> None:
    entry = SessionEntry("my file (1)%.md", "x", None, (), ())

    assert "[x](my%20file%20%281%29%25.md)" in render_project_index("p", [entry])


@pytest.mark.parametrize(
    ("filename", "target"),
    [("caf\udce9.md", "caf%E9.md"), ("\ud800.md", "%3F.md"), ("a/b.md", "a%2Fb.md")],
)
def test_project_index_links_names_that_are_not_valid_utf8(filename: str, target: str) -> None:
    page = render_project_index("p", [SessionEntry(filename, "x", None, (), ())])

    assert f"[x]({target})" in page
    assert_well_formed(page)


def test_root_readme_links_a_folder_name_that_is_not_valid_utf8() -> None:
    page = render_root_readme([ProjectEntry("caf\udce9", "P", 1, None)])

    assert "[P](caf%E9/INDEX.md)" in page


def test_project_index_escapes_markdown_in_names() -> None:
    entry = SessionEntry("a.md", "[x](javascript:alert(1)) | *b*\nnext", None, ("a|b",), ())

    row = table_rows(render_project_index("p", [entry]))[0]

    assert row == r"| — | [\[x\](javascript:alert(1)) \| \*b\* next](a.md) | a\|b |  |"


def test_project_index_drops_blank_models_and_tags() -> None:
    entry = SessionEntry("a.md", "x", None, ("", " ", "gpt-4o"), ("\n",))

    assert table_rows(render_project_index("p", [entry]))[0].endswith("| gpt-4o |  |")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_project_index_with_hostile_names_keeps_one_row_per_session(name: str) -> None:
    entry = SessionEntry("a.md", name, name, (name,), (name,))

    page = render_project_index(name, [entry, NEW])

    assert_well_formed(page)
    assert page.startswith("# ")
    assert len(page.splitlines()) == 10  # title, count, header, 2 rows, the mark, blanks
    assert [len(cells(row)) for row in table_rows(page)] == [4, 4]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_root_readme_with_hostile_names_keeps_one_row_per_project(name: str) -> None:
    page = render_root_readme([ProjectEntry("dir", name, 1, name)])

    assert_well_formed(page)
    assert len(page.splitlines()) == 7
    row = table_rows(page)[0]
    assert row.startswith("| [")
    assert "](dir/INDEX.md) | 1 | " in row
    assert len(cells(row)) == 3


def test_root_readme_lists_projects_by_name() -> None:
    page = render_root_readme(
        [
            ProjectEntry("zeta", "zeta", 2, None),
            ProjectEntry("alpha-2", "Alpha", 1, "2025-07-19T23:13:00.000Z"),
            ProjectEntry("alpha-1", "alpha", 3, "2025-07-20T10:28:48.000Z"),
        ]
    )

    assert page == (
        "# SpecStory sessions\n"
        "\n"
        "6 sessions in 3 projects, mirrored by syncd.\n"
        "\n"
        "| Project | Sessions | Last activity |\n"
        "|---|---|---|\n"
        "| [alpha](alpha-1/INDEX.md) | 3 | 2025-07-20 10:28 |\n"
        "| [Alpha](alpha-2/INDEX.md) | 1 | 2025-07-19 23:13 |\n"
        "| [zeta](zeta/INDEX.md) | 2 | — |\n"
    )


def test_root_readme_uses_the_singular_for_one() -> None:
    page = render_root_readme([ProjectEntry("p", "P", 1, None)])

    assert "\n1 session in 1 project, mirrored by syncd.\n" in page


def test_root_readme_of_an_empty_mirror_has_no_table() -> None:
    assert render_root_readme([]) == (
        "# SpecStory sessions\n\n0 sessions in 0 projects, mirrored by syncd.\n"
    )


def test_root_readme_percent_encodes_folder_links() -> None:
    page = render_root_readme([ProjectEntry("my proj", "P", 1, None)])

    assert "[P](my%20proj/INDEX.md)" in page


def assert_well_formed(page: str) -> None:
    assert page.endswith("\n")
    assert not page.endswith("\n\n")
    page.encode("utf-8")  # no lone surrogates
    assert "\x00" not in page
    assert "\r" not in page
    assert page.splitlines() == page.split("\n")[:-1]


@given(st.lists(session_entries, max_size=6), st.randoms())
def test_project_index_is_well_formed_and_independent_of_input_order(
    sessions: list[SessionEntry], rnd: random.Random
) -> None:
    shuffled = list(sessions)
    rnd.shuffle(shuffled)

    page = render_project_index("p", sessions)

    assert render_project_index("p", shuffled) == page
    assert_well_formed(page)
    assert [len(cells(row)) for row in table_rows(page)] == [4] * len(sessions)


@given(st.lists(project_entries, max_size=6), st.randoms())
def test_root_readme_is_well_formed_and_independent_of_input_order(
    projects: list[ProjectEntry], rnd: random.Random
) -> None:
    shuffled = list(projects)
    rnd.shuffle(shuffled)

    page = render_root_readme(projects)

    assert render_root_readme(shuffled) == page
    assert_well_formed(page)
    assert [len(cells(row)) for row in table_rows(page)] == [3] * len(projects)
    # A link's "](" is never escaped; an escaped "\\]" inside a name is not a link.
    links = re.findall(r"(?<!\\)\]\(([^)]*)/INDEX\.md\)", page)
    assert all("/" not in link and " " not in link for link in links)
