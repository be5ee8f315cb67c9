"""Finding sessions without the cloud: `syncd search`, `syncd ls` and `syncd show`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from syncd.cli import run
from syncd.devserver import DevServer
from syncd.index import migrate
from syncd.index.store import Store
from tests.integration.conftest import point_cli_at


@pytest.fixture
def mirrored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: DevServer, corpus_dir: Path
) -> Path:
    server.seed_corpus_flat(corpus_dir)
    root = point_cli_at(monkeypatch, server.url, server.api_key, tmp_path / "mirror")
    assert run(["sync", "--once"]) == 0
    return root


def out(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert run(list(args)) == code
    return capsys.readouterr().out


def test_search_finds_a_known_phrase_with_a_snippet_and_the_path(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = out(capsys, "search", '"tootsie pop"')
    assert "«tootsie pop»" in text.lower()
    assert str(mirrored) in text
    assert text.count(str(mirrored)) == 1


def test_search_works_on_an_index_an_older_syncd_left(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(f"sqlite:///{mirrored / '.syncd' / 'index.db'}") as store:
        migrate.downgrade(store.engine, "0004")
    text = out(capsys, "search", '"tootsie pop"')
    assert "«tootsie pop»" in text.lower()


def test_search_ranks_a_name_match_first_and_filters_by_project(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(line) for line in out(capsys, "search", "esphome", "--json").splitlines()]
    assert rows
    assert "esphome" in rows[0]["name"].lower()
    # A project no session is in is named as such, not answered with no results.
    assert run(["search", "esphome", "--project", "nope/none", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no project named 'nope/none'" in captured.err


def test_search_supports_prefix_and_boolean_queries(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "aiogram" in out(capsys, "search", "aiogr*").lower()
    assert out(capsys, "search", "vitepress NOT vitepress").strip() == "No matches."


def test_a_malformed_query_is_a_clear_error(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["search", '"unclosed']) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot search for")
    assert "Traceback" not in err


def test_ls_filters_sorts_and_prints_json(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(line) for line in out(capsys, "ls", "--json").splitlines()]
    assert len(rows) == 35
    dates = [r["started_at"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    by_size = [
        json.loads(x)["size"] for x in out(capsys, "ls", "--sort", "size", "--json").splitlines()
    ]
    assert by_size == sorted(by_size, reverse=True)
    mine = out(capsys, "ls", "--project", "specstoryai/getspecstory", "--json").splitlines()
    assert mine
    assert all(json.loads(x)["project"] == "specstoryai/getspecstory" for x in mine)
    assert len(out(capsys, "ls", "--limit", "3").splitlines()) == 3
    assert len(out(capsys, "ls", "--since", "2026-06-01", "--json").splitlines()) < 35


def test_show_prints_metadata_and_ambiguity_lists_candidates(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = json.loads(out(capsys, "ls", "--json").splitlines()[0])
    text = out(capsys, "show", first["id"][:10])
    assert f"id:       {first['id']}" in text
    assert str(mirrored / first["path"]) in text
    ids = [json.loads(line)["id"] for line in out(capsys, "ls", "--json").splitlines()]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    capsys.readouterr()
    assert run(["show", shared]) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err
    assert sum(i in err for i in ids if i.startswith(shared)) >= 2


def test_show_open_hands_the_file_to_the_users_editor(
    mirrored: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    opened = tmp_path / "opened.txt"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    first = json.loads(out(capsys, "ls", "--json").splitlines()[0])
    out(capsys, "show", first["id"], "--open")
    assert opened.read_text() == str(mirrored / first["path"])


def test_search_filters_and_limit_from_the_command_line(
    mirrored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rows(*args: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in out(capsys, "search", *args, "--json").splitlines()]

    everything = rows("the", "--limit", "50")
    assert len(everything) > 2
    assert [r["id"] for r in rows("the", "--limit", "2")] == [r["id"] for r in everything[:2]]
    with Store.open(f"sqlite:///{mirrored / '.syncd' / 'index.db'}") as store:
        top = store.session(str(everything[0]["id"]))
    assert top is not None
    model = top.metadata.llm_models[0]
    by_model = rows("the", "--limit", "50", "--model", model)
    assert everything[0]["id"] in [r["id"] for r in by_model]
    assert len(by_model) < len(everything)
    assert rows("the", "--model", "no-such-model") == []
    assert rows("the", "--tag", "no-such-tag") == []
    assert rows("the", "--since", "2999-01-01") == []


def test_ls_sorts_by_name(mirrored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.loads(x) for x in out(capsys, "ls", "--sort", "name", "--json").splitlines()]
    names = [str(r["name"]).casefold() for r in rows]
    assert names == sorted(names)
    assert len(set(names)) > 1


def test_show_prints_the_story_url(mirrored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(out(capsys, "ls", "--json").splitlines()[0])
    with Store.open(f"sqlite:///{mirrored / '.syncd' / 'index.db'}") as store:
        store.set_pullstory_url(first["id"], "https://pullstory.com/s/abc123")
    assert "story:    https://pullstory.com/s/abc123" in out(capsys, "show", first["id"])


def test_every_link_in_the_generated_pages_leads_to_a_file(mirrored: Path) -> None:
    pages = [mirrored / "README.md", *mirrored.glob("*/INDEX.md")]
    targets = [
        (page.parent / unquote(link)).resolve()
        for page in pages
        for link in re.findall(r"\]\(([^)]+)\)", page.read_text(encoding="utf-8"))
    ]
    sessions = {p.resolve() for p in mirrored.glob("*/*.md") if p.name != "INDEX.md"}
    assert all(target.is_file() for target in targets)
    assert sessions <= set(targets)  # every session file is linked from its project's page
    assert len(pages) > 1
