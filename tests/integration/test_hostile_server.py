"""A hostile SpecStory Cloud: one answer bent at a time, and what syncd must do about it.

The server (tests/hostile/) is independent of syncd and of its devserver. It serves a
small healthy account and, while a case is active, bends one answer. After running
`syncd sync --once` as a user would, every case requires:

1. no traceback, and an exit code the README documents;
2. nothing written outside the mirror root, no symlink out of it, no other host contacted;
3. the API key in no output, no file under the temp dir (the index included) and, in git
   mode, no git object;
4. once the server is healthy again, the next run converges (exit 0, every session on
   disk byte for byte) and the one after writes nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import checks
from tests.hostile.account import (
    API_KEY,
    APP,
    DOCS,
    S1,
    S2,
    S3,
    S4,
    STORY_ID,
    Session,
    json_answer,
    story,
)
from tests.hostile.checks import Run
from tests.hostile.perturb import (
    Case,
    anything,
    bare_lf,
    body,
    both,
    change_session,
    extra_project,
    extra_session,
    gzipped,
    header,
    headers,
    listing_with,
    nested,
    on,
    paginated,
    payload,
    raw_header_line,
    remove_session,
    rename,
    rename_project,
    status,
    wire,
)
from tests.hostile.plant import link_session_file, plant_link, unlink_session_file, unplant
from tests.hostile.world import SECRETS, World

#: A 429 may hold the next run back for at most this long (the budget's refusal ceiling).
PAUSE_CEILING = 3600.0
BIG = "1" + "0" * 300
#: What a run may exit with when only the server misbehaved: done, items failed, key
#: rejected, server unavailable (never "the mirror cannot be written", "bad setting"...).
SERVER_SIDE_EXITS = frozenset({0, 1, 3, 4})


#: A slow server is cut off once a body falls behind 1000 bytes/s after a 0.7 s grace (the
#: timeout); one attempt, so a drip costs the server's 3 s cap at most once.
SLOW = {
    "SYNCD_MIN_TRANSFER_BYTES_PER_SECOND": "1000",
    "SYNCD_TIMEOUT_SECONDS": "0.7",
    "SYNCD_RETRY__ATTEMPTS": "1",
}


HEADERS = [
    pytest.param(
        Case(
            "retry-after-9999999999",
            on("session", S1),
            status(429, Retry_After="9999999999"),
            pauses=True,
            git=True,
        ),
        id="retry-after-9999999999",
    ),
    pytest.param(
        Case(
            "retry-after-date-2099",
            on("session", S1),
            status(429, Retry_After="Thu, 01 Jan 2099 00:00:00 GMT"),
            pauses=True,
        ),
        id="retry-after-date-2099",
    ),
    pytest.param(
        Case(
            "retry-after-superscript",
            on("session", S1),
            lambda r, a: status(429)(r, a).set("Retry-After", "²".encode()),
            pauses=True,
        ),
        id="retry-after-superscript-two",
    ),
    pytest.param(
        Case(
            "ratelimit-1e300",
            on("projects"),
            headers(
                ("X-RateLimit-Limit", BIG),
                ("X-RateLimit-Remaining", BIG),
                ("X-RateLimit-Reset", BIG),
            ),
        ),
        id="ratelimit-10^300",
    ),
    pytest.param(
        Case(
            "ratelimit-reset-1e300",
            on("projects"),
            headers(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", BIG)),
            pauses=True,
        ),
        id="ratelimit-remaining-0-reset-10^300",
    ),
    pytest.param(
        Case(
            "ratelimit-negative",
            on("projects"),
            headers(
                ("X-RateLimit-Limit", "-5"),
                ("X-RateLimit-Remaining", "-1"),
                ("X-RateLimit-Reset", "-100"),
            ),
        ),
        id="ratelimit-negative",
    ),
    pytest.param(
        Case(
            "ratelimit-non-numeric",
            anything,
            headers(
                ("X-RateLimit-Limit", "plenty"),
                ("X-RateLimit-Remaining", "NaN"),
                ("X-RateLimit-Reset", "soon"),
            ),
            expect_ok=True,
        ),
        id="ratelimit-non-numeric",
    ),
    pytest.param(
        Case(
            "ratelimit-0-reset-past",
            on("projects"),
            headers(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1000000000")),
            pauses=True,
        ),
        id="ratelimit-remaining-0-reset-in-2001",
    ),
    pytest.param(
        Case("etag-latin1-byte", on("session", S1), header("ETag", b'W/"\xe9"'), git=True),
        id="etag-latin1-byte",
    ),
    pytest.param(
        Case("etag-10kb-session", on("session", S1), header("ETag", 'W/"' + "a" * 10_000 + '"')),
        id="etag-10kb-on-a-session",
    ),
    pytest.param(
        Case("etag-10kb-listing", on("sessions", APP), header("ETag", 'W/"' + "b" * 10_000 + '"')),
        id="etag-10kb-on-a-listing",
    ),
    pytest.param(
        Case("etag-controls", on("session", S1), header("ETag", b'W/"a b\x01\x7f\tc"')),
        id="etag-spaces-and-control-chars",
    ),
    pytest.param(
        Case("etag-quotes", on("sessions", APP), header("ETag", b'W/"a"b"c" "d"')),
        id="etag-stray-quotes",
    ),
    pytest.param(
        Case(
            "etag-crlf-in-listing-json",
            on("sessions", APP),
            listing_with(lambda s: [x | {"etag": 'W/"x"\r\nX-Injected: 1'} for x in s]),
        ),
        id="injection-crlf-in-listing-etag",
    ),
    pytest.param(
        Case(
            "etag-obs-fold",
            on("session", S1),
            raw_header_line(b'ETag: W/"abc"\r\n X-Injected: 1'),
        ),
        id="injection-obs-fold-etag",
    ),
    pytest.param(
        Case(
            "conflicting-content-length",
            on("session", S2),
            raw_header_line(b"Content-Length: 3"),
        ),
        id="two-conflicting-content-lengths",
    ),
    pytest.param(
        Case("header-block-1mb", on("projects"), header("X-Padding", "p" * 1_000_000)),
        id="one-megabyte-header",
    ),
]

BODIES = [
    pytest.param(
        Case(
            "json-nested-projects",
            on("projects"),
            body(b'{"success": true, "data": {"projects": ' + nested(100_000) + b"}}"),
            git=True,
        ),
        id="json-nested-100000-projects",
    ),
    pytest.param(
        Case(
            "json-nested-listing",
            on("sessions", APP),
            body(b'{"success": true, "data": {"sessions": [' + nested(100_000) + b"]}}"),
        ),
        id="json-nested-100000-in-a-listing",
    ),
    pytest.param(
        Case("truncated-json", on("projects"), wire(body=lambda a: a.body[: len(a.body) // 2])),
        id="truncated-json",
    ),
    pytest.param(
        Case("not-json", on("sessions", APP), body(b"<html><body>502 Bad Gateway</body></html>")),
        id="html-instead-of-json",
    ),
    pytest.param(
        Case("success-false", on("projects"), body(b'{"success": false}')),
        id="success-false-with-200",
    ),
    pytest.param(
        Case("data-list", on("projects"), body(b'{"success": true, "data": []}')),
        id="data-is-a-list",
    ),
    pytest.param(
        Case("data-null", on("sessions", APP), body(b'{"success": true, "data": null}')),
        id="data-is-null",
    ),
    pytest.param(
        Case("data-string", on("projects"), body(b'{"success": true, "data": "projects"}')),
        id="data-is-a-string",
    ),
    pytest.param(
        Case(
            "items-wrong-types",
            on("sessions", APP),
            listing_with(
                lambda s: [s[0] | {"markdownSize": "big", "name": 42, "metadata": "x"}, *s[1:]]
            ),
        ),
        id="summary-with-wrong-types",
    ),
    pytest.param(
        Case(
            "huge-listing",
            on("sessions", APP),
            listing_with(lambda s: s + [{"id": f"junk-{i}"} for i in range(20_000)]),
        ),
        id="listing-with-20000-broken-items",
    ),
    pytest.param(
        Case(
            "huge-body",
            on("projects"),
            payload(lambda p: p | {"padding": "x" * 16_000_000}),
            expect_ok=True,
        ),
        id="listing-of-16-MB",
    ),
    pytest.param(
        Case("surrogate-session-name", account=rename(S1, "fix \ud800 parser"), git=True),
        id="lone-surrogate-in-a-session-name",
    ),
    pytest.param(
        Case("surrogate-project-name", account=rename_project(APP, "App \udfff")),
        id="lone-surrogate-in-a-project-name",
    ),
    pytest.param(
        Case("surrogate-session-id", account=extra_session("abc\ud800def", APP)),
        id="lone-surrogate-in-a-session-id",
    ),
    pytest.param(
        Case("surrogate-project-id", account=extra_project({"id": "proj_\udc00", "name": "x"})),
        id="lone-surrogate-in-a-project-id",
    ),
    pytest.param(
        Case("name-traversal", account=rename(S1, "../../outside/pwned"), git=True),
        id="session-name-with-dotdot-slash",
    ),
    pytest.param(
        Case("project-name-traversal", account=rename_project(DOCS, "../../outside")),
        id="project-name-with-dotdot-slash",
    ),
    pytest.param(
        Case("name-nul", account=rename(S2, "a\x00b/../c\\d")),
        id="session-name-with-nul-and-separators",
    ),
    pytest.param(
        Case("name-10kb", account=rename(S1, "é" * 5000 + "x" * 5000)),
        id="session-name-of-10-KB",
    ),
    pytest.param(
        Case("project-name-10kb", account=rename_project(DOCS, "Ж" * 10_000)),
        id="project-name-of-10-KB",
    ),
    pytest.param(
        Case("id-traversal", account=extra_session("../../../outside/evil", APP)),
        id="session-id-with-dotdot-slash",
    ),
    pytest.param(
        Case(
            "project-id-traversal",
            account=both(extra_project({"id": "..", "name": "dots"}), extra_session("ok-id", "..")),
        ),
        id="project-id-dotdot",
    ),
    pytest.param(
        Case("id-url-syntax", account=extra_session("a/b?c#d%2e", APP)),
        id="session-id-with-url-syntax",
    ),
    pytest.param(
        Case(
            "duplicate-project-identical",
            on("projects"),
            payload(lambda p: p | {"data": {"projects": p["data"]["projects"] * 2, "total": 4}}),
        ),
        id="duplicate-project-ids-identical",
    ),
    pytest.param(
        Case(
            "duplicate-project-conflicting",
            on("projects"),
            payload(
                lambda p: (
                    p
                    | {
                        "data": {
                            "projects": [*p["data"]["projects"], {"id": APP, "name": "Other Name"}],
                            "total": 3,
                        }
                    }
                )
            ),
            warm=True,
        ),
        id="duplicate-project-ids-conflicting",
    ),
    pytest.param(
        Case("duplicate-session", on("sessions", APP), listing_with(lambda s: s + s[:1])),
        id="duplicate-session-ids-in-a-listing",
    ),
    pytest.param(
        Case(
            "duplicate-session-across-projects",
            account=lambda a: a.sessions.append(
                Session(S1, DOCS, "impostor", b"# not the real one\n", None, "2025-09-01T00:00:00Z")
            ),
            warm=True,
        ),
        id="duplicate-session-id-in-two-projects",
    ),
    pytest.param(
        Case(
            "next-cursor",
            on("sessions", APP),
            paginated,
            account=change_session(S3, b"# changed, and only on the second page\n"),
            warm=True,
            expect_ok=True,
        ),
        id="listing-with-nextCursor",
    ),
    pytest.param(
        Case(
            "total-larger",
            on("sessions", APP),
            payload(lambda p: p | {"data": p["data"] | {"total": 3}}),
            account=remove_session(S3),
            warm=True,
        ),
        id="listing-total-larger-than-arrived",
    ),
    pytest.param(
        Case(
            "projects-total-larger",
            on("projects"),
            payload(lambda p: p | {"data": {"projects": p["data"]["projects"][:1], "total": 2}}),
            account=remove_session(S4),
            warm=True,
        ),
        id="project-list-total-larger-than-arrived",
    ),
    pytest.param(
        Case(
            "projects-empty",
            on("projects"),
            body(b'{"success": true, "data": {"projects": [], "total": 0}}'),
            warm=True,
        ),
        id="empty-project-list",
    ),
    pytest.param(
        Case(
            "markdown-size-mismatch",
            on("sessions", APP),
            listing_with(lambda s: [s[0] | {"markdownSize": s[0]["markdownSize"] + 7}, *s[1:]]),
            expect_ok=True,
        ),
        id="markdownSize-not-the-body-length",
    ),
    pytest.param(
        Case(
            "markdown-size-1e30",
            on("sessions", APP),
            listing_with(lambda s: [s[0] | {"markdownSize": 10**30}, *s[1:]]),
        ),
        id="markdownSize-10^30",
    ),
    pytest.param(
        Case("chunked", on("session", S2), wire(chunked=True), expect_ok=True),
        id="body-chunked-without-content-length",
    ),
    pytest.param(
        Case("close-delimited", on("session", S2), wire(length="omit"), expect_ok=True),
        id="body-ended-by-close",
    ),
    pytest.param(
        Case("longer-than-length", on("session", S1), wire(length=lambda a: len(a.body) - 10)),
        id="body-longer-than-content-length",
    ),
    pytest.param(
        Case("shorter-than-length", on("session", S1), wire(length=lambda a: len(a.body) + 99)),
        id="body-shorter-than-content-length",
    ),
    pytest.param(
        Case("gzip-session", on("session", S1), gzipped),
        id="gzip-session-body-unasked",
    ),
    pytest.param(
        Case("gzip-listing", on("sessions", APP), gzipped, expect_ok=True),
        id="gzip-listing",
    ),
    pytest.param(
        Case(
            "session-changed-to-empty",
            account=change_session(S2, b""),
            warm=True,
            expect_ok=True,
        ),
        id="session-body-now-empty",
    ),
]

TRANSPORT = [
    pytest.param(
        Case(
            "drip-body",
            on("session", S2),
            wire(drip=0.02, drip_cap=3.0),
            env=SLOW,
            max_seconds=2.8,
        ),
        id="drip-a-body-byte-by-byte",
    ),
    pytest.param(
        Case(
            "drip-head",
            on("projects"),
            wire(drip_head=0.02, drip_cap=3.0),
            env=SLOW,
            max_seconds=2.8,
        ),
        id="drip-the-status-line-and-headers",
    ),
    pytest.param(
        Case("401-one-project", on("sessions", DOCS), status(401, b'{"success": false}')),
        id="401-on-one-project-only",
    ),
    pytest.param(
        Case("404-listed-session", on("session", S2), status(404, b'{"success": false}')),
        id="404-on-a-listed-session",
    ),
    pytest.param(
        Case("500-forever", anything, status(500, b"oops"), git=True),
        id="500-forever",
    ),
    pytest.param(
        Case("500-one-session", on("session", S4), status(500, b"too big")),
        id="500-on-one-session",
    ),
    pytest.param(
        Case("429-forever", on("session", S1), status(429, Retry_After="1"), pauses=True),
        id="429-forever",
    ),
    pytest.param(
        Case("reset-forever", on("projects"), wire(reset="at_once")),
        id="connection-reset-forever",
    ),
    pytest.param(
        Case("reset-mid-body", on("session", S2), wire(reset="mid_body")),
        id="connection-reset-mid-body",
    ),
    pytest.param(
        Case("reset-after-head", on("sessions", APP), wire(reset="after_head")),
        id="connection-reset-after-headers",
    ),
    pytest.param(
        Case(
            "redirect-projects",
            on("projects"),
            status(302, Location="{evil}/api/v1/projects"),
        ),
        id="redirect-to-another-host",
    ),
    pytest.param(
        Case(
            "redirect-session",
            on("session", S1),
            status(307, Location="{evil}/api/v1/projects/proj_app/sessions/x"),
        ),
        id="redirect-a-body-to-another-host",
    ),
    pytest.param(
        Case("garbage-status-line", on("projects"), wire(raw=b"HELLO WORLD\r\n\r\n")),
        id="garbage-status-line",
    ),
    pytest.param(
        Case("bare-lf", on("sessions", APP), wire(raw=bare_lf)),
        id="bare-LF-line-endings",
    ),
    pytest.param(
        Case("unasked-304", on("projects"), status(304)),
        id="304-to-an-unconditional-GET",
    ),
]


FILESYSTEM = [
    pytest.param(
        Case("project-folder-link", prepare=plant_link("my-app"), undo=unplant("my-app")),
        id="project-folder-is-a-symlink-out",
    ),
    pytest.param(
        Case("state-folder-link", prepare=plant_link(".syncd"), undo=unplant(".syncd")),
        id="state-folder-is-a-symlink-out",
    ),
    pytest.param(
        Case(
            "trash-link",
            account=remove_session(S3),
            warm=True,
            prepare=plant_link(".trash"),
            undo=unplant(".trash"),
            may_remove=frozenset({S3}),
            git=True,
        ),
        id="trash-is-a-symlink-out-during-a-deletion",
    ),
    pytest.param(
        Case(
            "session-file-link",
            account=change_session(S1, b"# parser, second version\n"),
            warm=True,
            prepare=link_session_file,
            undo=unlink_session_file,
        ),
        id="session-file-is-a-symlink-out",
    ),
]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with World(tmp_path, monkeypatch) as running:
        yield running


def announced_pause(run: Run) -> float | None:
    """The wait a stopped run announces ("may go in N s", "retry after N s")."""
    found = re.findall(r"(?:go in|retry after) (\d+(?:\.\d+)?) s", run.out + run.err)
    return max(float(n) for n in found) if found else None


def hostile_run(world: World, case: Case, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Everything up to and including the run against the bent server."""
    if case.git:
        monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.warm:
        warm = world.sync()
        world.assert_sound(warm)
        assert warm.code == 0, warm.describe()
    if case.prepare is not None:
        case.prepare(world.place)
        world.planted = {p for p in world.root.iterdir() if p.is_symlink()} | {
            p for p in world.root.rglob("*.md") if p.is_symlink()
        }
        world.planted_targets = {str(p.readlink()) for p in world.planted}
        world.settle()
    held = set(checks.mirrored(world.root)) if world.root.is_dir() else set()
    world.turn_hostile(case)
    run = world.sync()
    world.assert_sound(run)
    if case.max_seconds is not None:
        assert run.seconds < case.max_seconds, f"{run.describe()}: too slow"
    if case.prepare is None:  # the server misbehaved: the exit code must not blame the disk
        assert run.code in SERVER_SIDE_EXITS, run.describe()
    if case.expect_ok:
        assert run.code == 0, run.describe()
        world.assert_mirror_is(world.account)
    lost = held - set(checks.mirrored(world.root)) - case.may_remove
    assert not lost, f"{run.describe()}: mirrored sessions removed: {sorted(lost)}"
    return run


def converge(world: World, case: Case) -> None:
    """The server heals: the next run converges, and the one after changes nothing."""
    world.heal()
    if case.undo is not None:
        case.undo(world.place)
        world.planted = set()
        world.settle()
    done = world.sync()
    world.assert_sound(done)
    if case.pauses and done.code == 1 and (pause := announced_pause(done)) is not None:
        assert pause <= PAUSE_CEILING, f"{done.describe()}: a 429 holds the mirror {pause:.0f} s"
        return  # a bounded, honoured Retry-After: converging is for after it
    assert done.code == 0, done.describe()
    world.assert_mirror_is(world.healthy)
    before, head = checks.tree_state(world.root), checks.git_head(world.root)
    again = world.sync()
    world.assert_sound(again)
    assert again.code == 0, again.describe()
    assert checks.tree_state(world.root) == before, f"{again.describe()}: rewrote files"
    assert checks.git_head(world.root) == head, "a run that changed nothing committed"


@pytest.mark.parametrize("case", HEADERS + BODIES + TRANSPORT + FILESYSTEM)
def test_a_hostile_answer_is_survived_and_then_converged(
    case: Case, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_run(world, case, monkeypatch)
    converge(world, case)


# --- the daemon's incremental cycle: the recent page ------------------------------------

RECENT = [
    pytest.param(
        Case(
            "recent-bare-array",
            on("recent"),
            payload(lambda p: p["data"]["sessions"]),
            account=change_session(S1, b"# a newer version, announced by the recent page\n"),
            expect_ok=True,
        ),
        id="recent-as-a-bare-array",
    ),
    pytest.param(
        Case("recent-data-null", on("recent"), body(b'{"success": true, "data": null}')),
        id="recent-data-null",
    ),
    pytest.param(
        Case(
            "recent-nested",
            on("recent"),
            body(b'{"success": true, "data": {"sessions": ' + nested(100_000) + b"}}"),
        ),
        id="recent-nested-100000",
    ),
    pytest.param(
        Case(
            "recent-surrogate-id",
            on("recent"),
            payload(lambda p: p | {"data": {"sessions": [{"id": "x\ud800", "projectId": APP}]}}),
        ),
        id="recent-lone-surrogate-id",
    ),
]


@pytest.mark.parametrize("case", RECENT)
def test_a_hostile_recent_page_is_survived_and_then_converged(case: Case, world: World) -> None:
    warm = world.sync()
    assert warm.code == 0, warm.describe()
    world.turn_hostile(case)
    run = world.incremental()
    world.assert_sound(run)
    assert run.code in SERVER_SIDE_EXITS, run.describe()
    if case.expect_ok:
        assert run.code == 0, run.describe()
        world.assert_mirror_is(world.account)
    converge(world, case)


# --- PullStory -------------------------------------------------------------------------


def test_push_wait_gives_up_on_a_pullstory_that_keeps_failing(world: World) -> None:
    assert world.sync().code == 0
    failing = status(500, b'{"error": {"code": "internal", "message": "boom"}}')
    world.turn_hostile(Case("pullstory-500", on("pullstory"), failing))
    run = world.syncd("push", S1, "--wait", "--timeout", "2")
    world.assert_sound(run)
    assert run.code in (1, 4), run.describe()
    assert run.seconds < 15, run.describe()
    assert world.server.seen(on("pullstory")), "PullStory was never asked"


def test_push_takes_already_generating_as_progress_not_failure(world: World) -> None:
    assert world.sync().code == 0
    generating = story("generating", message="Another request is already generating this story")
    world.turn_hostile(
        Case("pullstory-202", on("pullstory", "stories"), lambda r, a: json_answer(202, generating))
    )
    run = world.syncd("push", S1)
    world.assert_sound(run)
    assert run.code == 0, run.describe()
    assert f"generating: story {STORY_ID}" in run.out, run.describe()


# --- the key's other ways out ------------------------------------------------------------


def test_git_hooks_never_see_the_key(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_GIT__ENABLED", "true")
    world.root.mkdir()
    subprocess.run(["git", "init", "-q", str(world.root)], check=True)
    hook = world.root / ".git" / "hooks" / "pre-commit"
    hook.write_text('#!/bin/sh\nenv > "$(git rev-parse --git-dir)/hook-env.txt"\n')
    hook.chmod(0o755)
    world.settle()
    run = world.sync()
    assert run.code == 0, run.describe()
    seen = world.root / ".git" / "hook-env.txt"
    # A syncd that runs git without hooks passes too: then no hook sees anything.
    if seen.exists():
        hook_env = seen.read_text()
        assert not [s for s in SECRETS if s in hook_env], "a git hook saw the keys"
    world.assert_sound(run)


def test_a_dotenv_in_the_working_directory_is_ignored(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SYNCD_BASE_URL")
    monkeypatch.delenv("SYNCD_ROOT")
    config = tmp_path / "xdg-config" / "syncd" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'base_url = "{world.server.url}"\nroot = "{world.root}"\n')
    stolen = world.outside / "stolen"
    Path.cwd().joinpath(".env").write_text(
        f"SYNCD_BASE_URL={world.evil.url}\nSYNCD_ROOT={stolen}\n"
    )
    world.settle()
    run = world.sync()
    world.assert_sound(run)
    assert run.code == 0, run.describe()
    world.assert_mirror_is(world.healthy)


# --- the same, in a process of its own ---------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Case("500-forever", anything, status(500, b"oops")), id="500-forever"),
        pytest.param(
            Case("json-nested", on("projects"), body(b'{"data": ' + nested(100_000) + b"}")),
            id="json-nested-100000",
        ),
    ],
)
def test_a_separate_process_exits_as_the_in_process_run_does(case: Case, world: World) -> None:
    """The in-process runs above stand for real ones: same exit code, same traceback or
    none, and no key in the output."""
    world.turn_hostile(case)
    inside = world.sync()
    command = [sys.executable, "-m", "syncd", "sync", "--once"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == inside.code, f"{inside.describe()}; a process: {done.stderr}"
    assert ("Traceback" in done.stderr) == ("Traceback" in inside.err), done.stderr
    assert API_KEY not in done.stdout + done.stderr
