"""The devserver's pure parts: header parsing, the rate window, bodies, faults, seeding."""

from __future__ import annotations

import json

import pytest

from syncd.devserver.body import BytesBody, RepeatedBody
from syncd.devserver.faults import Fault, FaultBook
from syncd.devserver.headers import bearer_matches, entity_tags, none_match_hits, wants_markdown
from syncd.devserver.ratelimit import RateWindow
from syncd.devserver.seed import describe
from syncd.devserver.synthetic import large_body


def test_entity_tags_split_a_list_keeping_quoted_commas() -> None:
    assert entity_tags('W/"a,b", "c" ,d') == ['W/"a,b"', '"c"', "d"]


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        ('W/"x"', True),
        ('"x"', True),
        ('"y", W/"x"', True),
        ("*", True),
        ('"y"', False),
        ('W/"xx"', False),
        ("", False),
        (None, False),
    ],
)
def test_none_match_compares_weakly(header: str | None, hit: bool) -> None:
    assert none_match_hits(header, 'W/"x"') is hit


@pytest.mark.parametrize(
    ("accept", "markdown"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("text/markdown", True),
        ("text/markdown, */*", True),
        ("application/json;q=0.9, text/markdown;q=0.8", False),
        ("text/markdown;q=0.5, application/json;q=0.1", True),
        ("text/markdown;q=0", False),
    ],
)
def test_accept_prefers_markdown_only_when_asked(accept: str | None, markdown: bool) -> None:
    assert wants_markdown(accept) is markdown


def test_bearer_scheme_is_case_insensitive_and_token_exact() -> None:
    assert bearer_matches("bearer k", "k")
    assert not bearer_matches("Bearer k2", "k")
    assert not bearer_matches("Basic k", "k")
    assert not bearer_matches(None, "k")


def test_rate_window_refuses_past_the_limit_until_the_clock_moves_on() -> None:
    now = [100.0]
    window = RateWindow(2, 10.0, lambda: now[0])
    first, second, third = window.hit(), window.hit(), window.hit()
    assert [d.allowed for d in (first, second, third)] == [True, True, False]
    assert [d.remaining for d in (first, second, third)] == [1, 0, 0]
    assert third.reset_epoch == 110
    now[0] = 109.2
    assert window.hit().retry_after == 1
    now[0] = 110.0
    assert window.hit().allowed


def test_unlimited_window_counts_against_a_nominal_million() -> None:
    window = RateWindow(None, 60.0, lambda: 0.0)
    for _ in range(3):
        decision = window.hit()
    assert decision.allowed
    assert (decision.limit, decision.remaining) == (1_000_000, 999_997)
    assert "Retry-After" not in dict(decision.headers())


def test_repeated_body_escapes_like_json_dumps_of_the_whole_text() -> None:
    body = RepeatedBody(b'# "t"\n', "café\t\\ 🚀\n".encode(), 3, b"end")
    text = body.read_all().decode()
    length, pieces = body.json_escaped()
    escaped = b"".join(pieces)
    assert escaped == json.dumps(text, ensure_ascii=False)[1:-1].encode()
    assert length == len(escaped)
    assert body.size == len(body.read_all())


def test_bodies_with_different_content_have_different_fingerprints() -> None:
    assert BytesBody(b"a").fingerprint != BytesBody(b"b").fingerprint
    assert (
        RepeatedBody(b"h", b"b", 2, b"").fingerprint != RepeatedBody(b"h", b"b", 3, b"").fingerprint
    )


@pytest.mark.parametrize("size", [0, 10, 5_000, 70_000, 1_000_003])
def test_large_body_has_exactly_the_requested_size_and_is_utf8(size: int) -> None:
    body = large_body(size)
    data = body.read_all()
    assert len(data) == body.size == size
    data.decode("utf-8")


def test_fault_book_spends_uses_in_injection_order() -> None:
    book = FaultBook()
    book.add(Fault("status", path="/a", times=2))
    book.add(Fault("body", path="/a"))
    kinds = [book.take("GET", "/a", session_content=False) for _ in range(4)]
    assert [k.kind if k else None for k in kinds] == ["status", "status", "body", None]


def test_describe_takes_the_title_without_its_time() -> None:
    text = "<!-- cursor Session 00d34349-5136-47e7-a109-ef11509ec54c (2025-07-19 23:13Z) -->\n\n"
    text += (
        "# Who invented it? (2025-07-19 23:13Z)\n\n_**Agent (model gpt-5 2025-07-19 23:14Z)**_\n"
    )
    described = describe(text, "2025-07-19_23-13Z-who-invented-it")
    assert described.name == "Who invented it?"
    assert described.metadata["agentName"] == "cursor"
    assert described.metadata["llmModels"] == ["gpt-5"]
    assert described.started_ms == 1_752_966_780_000


def test_describe_falls_back_to_the_file_slug_for_time_only_titles() -> None:
    described = describe("# 2026-01-16 16:46:41Z\n", "2026-01-16_16-46-41Z-explain-this-commit")
    assert described.name == "explain this commit"
