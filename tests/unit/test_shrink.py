"""Smaller briefs: every cut is valid and smaller, and cutting ends."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from syncd.brief.model import LIMITS, Brief, BriefFile, validate
from syncd.push.shrink import brief_from_json, describe_cut, shrink, size_of

WORDS = st.text(alphabet="abcdefghij klmnop\n", min_size=3, max_size=400).filter(
    lambda text: len(text.strip()) >= 3
)


@st.composite
def briefs(draw: st.DrawFn) -> Brief:
    count = draw(st.integers(1, LIMITS.files_items[1]))
    files = []
    for index in range(count):
        excerpt = draw(st.none() | WORDS)
        start = draw(st.integers(1, 50))
        lines = excerpt.count("\n") + 1 if excerpt is not None else draw(st.integers(1, 9))
        files.append(
            BriefFile(
                path=f"src/module_{index}.py",
                role=draw(st.sampled_from(["edited", "created", "read"])),
                excerpt=excerpt,
                start_line=start,
                end_line=start + lines - 1,
            )
        )
    brief = Brief(
        title="Rework the pipeline",
        summary="The pipeline " + draw(st.text(alphabet="abc def", max_size=1900)),
        files=tuple(files),
        flow=tuple(draw(st.lists(WORDS.map(lambda t: t[:500]), min_size=3, max_size=7))),
        highlights=tuple(draw(st.lists(WORDS.map(lambda t: t[:200]), max_size=8))),
    )
    return brief


def long_brief(files: int = 8) -> Brief:
    excerpt = "\n".join(f"    value_{n} = compute(batch, option_{n})" for n in range(9))
    return Brief(
        title="Rework the pipeline",
        summary="Rework every stage of the pipeline so that empty batches pass. " * 10,
        files=tuple(
            BriefFile(f"src/stage_{n}.py", "edited", "python", excerpt, 10, 18)
            for n in range(files)
        ),
        flow=tuple(
            f"Step {n}: rework stage {n} so that it handles empty batches" for n in range(7)
        ),
        highlights=tuple(f"Stage {n} handles empty batches" for n in range(6)),
    )


@settings(max_examples=150, deadline=None)
@given(briefs())
def test_every_cut_is_valid_and_smaller_until_none_is_left(brief: Brief) -> None:
    assume(validate(brief) == [])  # the builder never makes a brief the API refuses
    current, cuts = brief, 0
    while (smaller := shrink(current)) is not None:
        assert validate(smaller) == []
        assert size_of(smaller) < size_of(current)
        assert smaller.title == brief.title
        current, cuts = smaller, cuts + 1
        assert cuts < 40, "shrinking never ends"


def test_a_cut_halves_files_and_keeps_the_first_steps_and_the_outcome() -> None:
    brief = long_brief()
    smaller = shrink(brief)
    assert smaller is not None
    assert [f.path for f in smaller.files] == [f"src/stage_{n}.py" for n in range(4)]
    assert smaller.flow[0] == brief.flow[0]
    assert smaller.flow[-1] == brief.flow[-1]
    assert len(smaller.flow) == 4
    assert len(smaller.highlights) == 3
    first = smaller.files[0]
    assert first.excerpt is not None
    assert first.excerpt.count("\n") + 1 == 5
    assert (first.start_line, first.end_line) == (10, 14)  # the range follows the excerpt


def test_a_brief_with_nothing_left_to_cut_gives_none() -> None:
    brief = Brief(
        title="Fix it",
        summary="Fix the parser.",
        files=(BriefFile("src/parser.py", "edited"),),
        flow=("Find it", "Fix it", "Test it"),
    )
    assert shrink(brief) is None


def test_a_stored_body_round_trips_and_describes_its_cut() -> None:
    brief = long_brief()
    assert brief_from_json(brief.to_json()) == brief
    assert brief_from_json({"title": "x"}) is None
    smaller = shrink(brief)
    assert smaller is not None
    words = describe_cut(brief, smaller)
    assert words.startswith("4 files instead of 8, 4 flow steps instead of 7, ")
    assert "bytes instead of" in words
