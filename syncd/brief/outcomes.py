"""The brief's highlights: what changed, what the tests and builds said, what got done."""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable

from syncd.brief.model import LIMITS, BriefFile
from syncd.brief.scan import Findings
from syncd.brief.text import fit
from syncd.brief.tools import CREATED, EDITED

MAX_TESTS = 3
MAX_DONE = 4
_NAMED_FILES = 3

Summarise = Callable[[re.Match[str]], str]

_RESULTS: tuple[tuple[str, str, re.Pattern[str], Summarise], ...] = (
    (
        "pytest",
        "s ==",
        re.compile(r"^=+ (\d+ (?:passed|failed)[^=\n]*?) in [\d.]+s\b[^=\n]*=+[ \t]*$", re.M),
        lambda m: f"pytest: {m.group(1)}",
    ),
    (
        "tests",
        "Tests run:",
        re.compile(
            r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)[ \t]*$", re.M
        ),
        lambda m: "Tests run: {}, failures: {}, errors: {}, skipped: {}".format(*m.groups()),
    ),
    (
        "build",
        "BUILD ",
        re.compile(r"\bBUILD (SUCCESS|FAILURE)\b"),
        lambda m: "Build succeeded" if m.group(1) == "SUCCESS" else "Build failed",
    ),
    (
        "jest",
        "Tests:",
        re.compile(r"^[ \t]*Tests:[ \t]+((?:\d+ \w+, )*\d+ (?:passed|failed)[^\n]*)$", re.M),
        lambda m: f"Tests: {m.group(1).strip()}",
    ),
    (
        "mocha",
        " passing",
        re.compile(r"^[ \t]*(\d+) passing\b(?:[^\n]*\n[ \t]*(\d+) failing)?", re.M),
        lambda m: f"{m.group(1)} tests passing" + (f", {m.group(2)} failing" if m.group(2) else ""),
    ),
    (
        "cargo",
        "test result:",
        re.compile(r"test result: (ok|FAILED)\. (\d+) passed; (\d+) failed"),
        lambda m: f"cargo test: {m.group(2)} passed, {m.group(3)} failed",
    ),
)
_GO_OK = re.compile(r"^ok\s+\S+", re.M)
_GO_FAIL = re.compile(r"^FAIL\s+\S+", re.M)


def make_highlights(files: list[BriefFile], findings: Findings) -> tuple[str, ...]:
    """Up to eight notable outcomes: files edited and created, the last test and build
    results, the most recent tasks ticked off, and how many commands ran."""
    items = _file_counts(files) + test_results(findings.outputs) + _done(findings.done)
    if findings.commands:
        items.append(_plural(findings.commands, "Ran {} shell command"))
    low, high = LIMITS.highlight_chars
    fitted = [fit(item, high) for item in items]
    unique = list(dict.fromkeys(item for item in fitted if len(item) >= low))
    return tuple(unique[: LIMITS.highlights_items[1]])


def test_results(outputs: list[str]) -> list[str]:
    """The last result of each kind of test run or build found in tool output, in order."""
    last: dict[str, tuple[int, str]] = {}
    for index, output in enumerate(outputs):
        for kind, keyword, pattern, summarise in _RESULTS:
            if keyword not in output:
                continue
            tail = deque(pattern.finditer(output), maxlen=1)
            if tail:
                last[kind] = (index, summarise(tail[0]))
        if "ok  \t" not in output and "FAIL\t" not in output:
            continue
        ok, failed = len(_GO_OK.findall(output)), len(_GO_FAIL.findall(output))
        if ok or failed:
            text = (
                _plural(ok, "Go tests: {} package")
                + " ok"
                + (f", {failed} failed" if failed else "")
            )
            last["go"] = (index, text)
    ordered = sorted(last.values())
    return [text for _, text in ordered[-MAX_TESTS:]]


def _file_counts(files: list[BriefFile]) -> list[str]:
    items = []
    for role, verb in ((EDITED, "Edited"), (CREATED, "Created")):
        paths = [item.path for item in files if item.role == role]
        if paths:
            text = _plural(len(paths), verb + " {} file")
            if len(paths) <= _NAMED_FILES:
                text += ": " + ", ".join(re.split(r"[/\\]", path)[-1] for path in paths)
            items.append(text)
    return items


def _done(items: list[str]) -> list[str]:
    tasks = list(dict.fromkeys(_task_text(item) for item in items))
    return [f"Done: {task}" for task in tasks if task][-MAX_DONE:]


def _task_text(item: str) -> str:
    """A checklist item without its leading emoji and markup (`🔥`, `**`)."""
    start = 0
    while start < len(item) and (
        unicodedata.category(item[start])[0] in "SZ"
        or unicodedata.category(item[start]) in ("Mn", "Cf")
    ):
        start += 1
    return " ".join(item[start:].replace("**", "").split())


def _plural(count: int, template: str) -> str:
    return template.format(count) + ("" if count == 1 else "s")
