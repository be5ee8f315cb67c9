"""Every real SpecStory file in ../shared/corpus/specstory through the brief builder."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.brief import Brief, NoBrief, build_brief
from tests.unit.test_brief import assert_valid_or_reason

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "specstory"
NOT_SESSIONS = {"FORMAT.md", "MANIFEST.tsv"}

pytestmark = pytest.mark.corpus

MARKERS = ["_**User**_", "_**Agent (model x 2026-01-16 16:46:41Z)**_", "_****_", "```"]

# Every corpus session is labelled by hand: either it changes no file (with the reason the
# builder must give and what the session is) or it does (with a file it changed and the
# text that proves it).
# bench/brief_coverage.py reads these labels for its coverage figures.
NO_FILE_SESSIONS = {
    "04": ("no conversation turns", "the 14-byte '## SpecStory' banner"),
    "27": ("no conversation turns", "a hand-written note with a fake header"),
    "29": ("no conversation turns", "a Chinese write-up, not SpecStory output"),
    "38": ("no conversation turns", "header, title and session comment only"),
    "43": ("no conversation turns", "header, title and session comment only"),
    "09": ("no user request", "only <bash-input>/<bash-stdout> turns"),
    "22": ("no user request", "a single empty assistant turn"),
    "31": ("no user request", "empty user and assistant bodies"),
    "44": ("no user request", "only /exit meta turns"),
    "45": ("no user request", "a byte-identical copy of 44"),
    "12": ("touches no file", "a trivia question"),
    "10": ("touches no file", "lists a folder and activates a venv: no file read or written"),
    "16": ("touches no file", "'how is the bot built?', answered in prose (cut off)"),
    "15": ("never answered", "the only reply is '[object Object]', the others are empty"),
    "17": ("never answered", "asks for a plan; the reply is empty"),
    "20": ("never answered", "'salut'; the reply is empty"),
    "25": ("never answered", "asks to run a benchmark; the reply is empty"),
}

# A file each session with changes really changed, and the text in that session that proves
# it ("{}" stands for the file).
EDITED = {
    "01": ("README", "Let me edit the {}:"),  # then a bare block with the new README
    "02": ("HistoryFeed.tsx", "Let me edit the `{}` component"),
    "06": (".vitepress/script/pwa.ts", "Updated `{}` to be compatible"),
    "07": ("/Users/michaelpaulukonis/projects/polychrome.p5/src/undo.layers.js",
           "### [undo.layers.js](file://{})"),
    "13": ("/Users/jakelevirne/dev/specstoryai/tnyOffice/apps/api/package.json",
           "The file {} has been updated"),
    "21": ("/Users/german/EjerciciosProgramación/englishGame/pom.xml", "Edit file: {}"),
    "24": ("scripts/build_knowledge_base.py", "Edit file: {}"),
    "28": ("CHANGELOG.md", "已在 `{}` 记录变更"),  # the edits themselves are not in the export
    "32": ("/Users/kevinlin/code/skillz/tsconfig.eslint.json", "*** Add File: {}"),
    "34": ("README.md", "Created comprehensive `{}` with:"),  # after empty Copilot blocks
    "35": ("/home/mosica/stock/cli-universal/Dockerfile", '"content": "&#96;&#96;&#96;{}'),
    "36": ("/Users/michalhorcic/projects/ELIXIR/cozy_checkout/lib/cozy_checkout/inventory.ex",
           "Created [](file://{})"),
    "39": ("order_item_grouper.ex", "Edited `{}` (1 edit)"),
    "40": ("pkg/cloud/sync.go", "Edit file: {}"),
    "42": ("/Users/sean/Source/SpecStory/getspecstory/specstory-cli/main.go",
           "The file {} has been updated"),
    "46": ("docs/git-provenance/RECOMMENDATIONS.md", "**Add: `{}`**"),
    "48": ("docs/git-provenance/STANDARD-SUMMARY.md", "**Update: `{}`**"),
    "50": ("/Users/sean/Source/SpecStory/getspecstory/specstory-cli/pkg/cmd/resume.go",
           "The file {} has been updated"),
}  # fmt: skip


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.iterdir() if path.name not in NOT_SESSIONS)


def by_number(number: str) -> tuple[Path, str]:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/specstory is not present")
    path = next(p for p in corpus_files() if p.name.startswith(number + "-"))
    return path, path.read_text("utf-8")


def session_names() -> dict[str, str]:
    """What SpecStory Cloud would call each session: its original file name's slug."""
    names: dict[str, str] = {}
    manifest = CORPUS / "MANIFEST.tsv"
    for row in manifest.read_text("utf-8").splitlines()[1:] if manifest.is_file() else []:
        corpus_name, _, source_path, *_ = row.split("\t")
        stem = Path(source_path).stem
        names[corpus_name] = re.sub(r"^\d{4}-\d\d-\d\d_[\d-]+(?:Z|[+-]\d{4})?-?", "", stem)
    return names


@pytest.fixture(scope="module")
def results() -> dict[str, Brief | NoBrief]:
    files = corpus_files()
    if not files:
        pytest.skip("../shared/corpus/specstory is not present")
    names = session_names()
    built: dict[str, Brief | NoBrief] = {}
    timings: list[tuple[float, str, int]] = []
    for path in files:
        text = path.read_text("utf-8")
        started = time.perf_counter()
        built[path.name] = build_brief(text, name=names.get(path.name, "").replace("-", " "))
        timings.append((time.perf_counter() - started, path.name, len(text.encode())))
    total = sum(seconds for seconds, _, _ in timings)
    slowest, name, size = max(timings)
    print(  # noqa: T201 - figures for `pytest -s`, never asserted
        f"\nbrief corpus: {len(files)} files, {sum(s for *_, s in timings) / 1e6:.1f} MB in "
        f"{total:.3f} s ({len(files) / total:.0f} files/s); slowest {name} "
        f"({size / 1e6:.2f} MB) {slowest * 1000:.0f} ms"
    )
    return built


def test_every_corpus_file_gives_a_valid_brief_or_a_reason(
    results: dict[str, Brief | NoBrief],
) -> None:
    for result in results.values():
        assert_valid_or_reason(result)


def test_every_corpus_session_is_labelled_once() -> None:
    numbers = [path.name[:2] for path in corpus_files()]
    if not numbers:
        pytest.skip("../shared/corpus/specstory is not present")
    assert not set(NO_FILE_SESSIONS) & set(EDITED)
    assert sorted(numbers) == sorted({*NO_FILE_SESSIONS, *EDITED}), "label the new session"


@pytest.mark.parametrize(
    ("number", "reason"), sorted((number, label[0]) for number, label in NO_FILE_SESSIONS.items())
)
def test_sessions_without_files_or_requests_give_no_brief(
    results: dict[str, Brief | NoBrief], number: str, reason: str
) -> None:
    path, _ = by_number(number)
    result = results[path.name]
    assert isinstance(result, NoBrief)
    assert reason in result.reason


@pytest.mark.parametrize(("number", "evidence"), sorted(EDITED.items()))
def test_rich_sessions_list_the_files_they_really_edited(
    results: dict[str, Brief | NoBrief], number: str, evidence: tuple[str, str]
) -> None:
    path, text = by_number(number)
    edited, proof = evidence
    assert proof.format(edited) in text, "the expectation itself is wrong"
    result = results[path.name]
    assert isinstance(result, Brief), result
    roles = {item.path: item.role for item in result.files}
    assert roles.get(edited) in ("edited", "created"), roles


def test_every_listed_file_appears_in_its_session(results: dict[str, Brief | NoBrief]) -> None:
    for name, result in results.items():
        if isinstance(result, NoBrief):
            continue
        text = (CORPUS / name).read_text("utf-8")
        for item in result.files:
            basename = re.split(r"[/\\]", item.path)[-1]
            assert basename in text or basename in unquote(text), (name, item.path)


def test_rich_sessions_have_a_full_story(results: dict[str, Brief | NoBrief]) -> None:
    for number in ("21", "24", "36", "42", "50"):
        path, _ = by_number(number)
        result = results[path.name]
        assert isinstance(result, Brief)
        assert len(result.flow) >= 3, path.name
        assert result.highlights, path.name
        assert any(item.excerpt for item in result.files), path.name


def test_the_same_session_under_two_names_gives_the_same_verdict(
    results: dict[str, Brief | NoBrief],
) -> None:
    first, _ = by_number("44")
    second, _ = by_number("45")
    assert results[first.name] == results[second.name]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_cut_of_a_corpus_file_gives_a_valid_brief_or_a_reason(data: st.DataObject) -> None:
    files = corpus_files()
    if not files:
        pytest.skip("../shared/corpus/specstory is not present")
    lines = data.draw(st.sampled_from(files)).read_text("utf-8").split("\n")
    start = data.draw(st.integers(0, max(0, len(lines) - 1)))
    cut = lines[start : start + data.draw(st.integers(1, 400))]
    for _ in range(data.draw(st.integers(0, 3))):
        cut.insert(data.draw(st.integers(0, len(cut))), data.draw(st.sampled_from(MARKERS)))
    assert_valid_or_reason(build_brief("\n".join(cut), name=""))
