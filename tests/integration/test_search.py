"""Full-text search (FTS5) on real SQLite files migrated to head by Store.open."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, create_mock_engine, inspect

from syncd.app.searching import file_reader
from syncd.cli import run
from syncd.errors import EXIT_CONFIG, SearchQueryError, SearchUnavailableError
from syncd.index import migrate
from syncd.index.search import (
    Hit,
    SearchDoc,
    document_count,
    include_name_except_search,
    index_session,
    indexed_versions,
    reindex_all,
    remove_sessions,
)
from syncd.index.search import search as search_index
from syncd.index.store import ProjectRecord, SessionRecord, Store
from tests.integration import postgres
from tests.integration.conftest import Harness, point_cli_at

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "specstory"


# Where `add` writes the files of an index that is no SQLite file (PostgreSQL).
_ROOTS: dict[Engine, Path] = {}


@pytest.fixture(params=postgres.BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An index on each backend: SQLite, then PostgreSQL (see postgres.py)."""
    url = postgres.database_url(request, request.param, tmp_path / "index.db")
    with Store.open(url) as opened:
        _ROOTS[opened.engine] = tmp_path
        yield opened
        del _ROOTS[opened.engine]


def fts5_only(store: Store) -> None:
    """Skip on PostgreSQL: the test is about SQLite's FTS5 tables and their migrations."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("about SQLite's FTS5 tables")


def add(
    store: Store,
    session_id: str,
    *,
    body: str,
    name: str = "",
    project: tuple[str, str] = ("proj_app", "App"),
    tags: list[str] | None = None,
    models: list[str] | None = None,
    started_at: str | None = None,
    created_at: str | None = None,
) -> None:
    """Save a session (and its project) in the index, write its file and make it
    searchable."""
    project_id, project_name = project
    path = mirror_root(store.engine) / project_id / f"{session_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nid: {session_id}\n---\n{body}", encoding="utf-8")
    store.save_project(ProjectRecord(project_id, project_name, project_id))
    store.save_session(
        SessionRecord(
            id=session_id,
            project_id=project_id,
            name=name,
            path=f"{project_id}/{session_id}.md",
            started_at=started_at,
            created_at=created_at,
        )
    )
    index_session(
        store.engine,
        session_id,
        name=name,
        project=project_name,
        tags=tags or [],
        models=models or [],
        body=body,
    )


def mirror_root(engine: Engine) -> Path:
    """Where these tests mirror files: beside the index file (or the test's temp dir)."""
    return _ROOTS.get(engine) or Path(str(engine.url.database)).parent


def search(engine: Engine, query: str, **filters: Any) -> list[Hit]:
    """search_index reading the bodies `add` wrote beside the index."""
    return search_index(engine, query, read_file=file_reader(mirror_root(engine)), **filters)


def ids(hits: list[Hit]) -> list[str]:
    return [hit.session_id for hit in hits]


@pytest.fixture
def sample(store: Store) -> Engine:
    add(
        store,
        "s-login",
        name="Fix the login form",
        body="The password field lost focus after each keystroke. We fixed the login bug.",
        tags=["auth", "bug"],
        models=["claude-sonnet-4"],
        started_at="2026-01-10T09:00:00Z",
    )
    add(
        store,
        "s-readme",
        name="Docs pass",
        body="Updated README.md and wrote the auth-migration notes for the login page.",
        project=("proj_docs", "Docs Site"),
        tags=["docs"],
        models=["gpt-5"],
        started_at="2025-12-01T10:00:00Z",
    )
    add(
        store,
        "s-deploy",
        name="Deploy pipeline",
        body="Migrating the deployment scripts; migration of secrets is next.",
        tags=["ops", "auth-migration"],
        models=["gpt-5", "claude-opus-4"],
        created_at="2026-02-01T08:00:00Z",
    )
    return store.engine


def test_a_word_finds_the_sessions_that_contain_it(sample: Engine) -> None:
    assert set(ids(search(sample, "keystroke"))) == {"s-login"}
    assert search(sample, "nowhere-to-be-found") == []


def test_a_quoted_phrase_needs_its_words_together(sample: Engine) -> None:
    assert ids(search(sample, '"login bug"')) == ["s-login"]
    assert search(sample, '"bug login"') == []


def test_a_star_searches_by_prefix(sample: Engine) -> None:
    assert ids(search(sample, "keystr*")) == ["s-login"]
    assert set(ids(search(sample, "migrat*"))) == {"s-readme", "s-deploy"}


def test_and_or_not_combine_terms(sample: Engine) -> None:
    assert ids(search(sample, "login AND password")) == ["s-login"]
    assert set(ids(search(sample, "keystroke OR deployment"))) == {"s-login", "s-deploy"}
    assert ids(search(sample, "login NOT password")) == ["s-readme"]
    assert ids(search(sample, "(keystroke OR secrets) NOT focus")) == ["s-deploy"]


def test_words_with_punctuation_are_searched_as_written(sample: Engine) -> None:
    assert ids(search(sample, "README.md")) == ["s-readme"]
    assert set(ids(search(sample, "auth-migration"))) == {"s-readme", "s-deploy"}


def test_a_match_in_the_name_ranks_above_a_match_in_the_body(sample: Engine) -> None:
    hits = search(sample, "login")
    assert ids(hits) == ["s-login", "s-readme"]
    assert hits[0].rank > hits[1].rank
    assert hits[0].name_highlight == "Fix the «login» form"


def test_the_snippet_shows_the_match_between_markers(sample: Engine) -> None:
    (hit,) = search(sample, "keystroke")
    assert hit.snippet == (
        "The password field lost focus after each «keystroke». We fixed the login bug."
    )


def test_project_filter_takes_the_name_or_the_id_in_any_case(sample: Engine) -> None:
    assert ids(search(sample, "login", project="docs site")) == ["s-readme"]
    assert ids(search(sample, "login", project="PROJ_APP")) == ["s-login"]
    assert search(sample, "login", project="nope") == []


def test_tag_filter_matches_a_whole_tag(sample: Engine) -> None:
    assert ids(search(sample, "login", tag="AUTH")) == ["s-login"]
    assert ids(search(sample, "migrat*", tag="auth-migration")) == ["s-deploy"]
    assert search(sample, "login", tag="au") == []


def test_model_filter_matches_part_of_a_model_name(sample: Engine) -> None:
    assert set(ids(search(sample, "migrat* OR login", model="gpt-5"))) == {
        "s-readme",
        "s-deploy",
    }
    assert set(ids(search(sample, "migrat* OR login", model="claude"))) == {
        "s-login",
        "s-deploy",
    }


def test_since_uses_the_start_or_else_the_creation_date(sample: Engine) -> None:
    found = set(ids(search(sample, "login OR migrat*", since="2026-01-01")))
    assert found == {"s-login", "s-deploy"}
    assert ids(search(sample, "login OR migrat*", since="2026-01-15")) == ["s-deploy"]


def test_limit_caps_the_hits_best_first(sample: Engine) -> None:
    assert ids(search(sample, "login", limit=1)) == ["s-login"]


def test_indexing_again_replaces_the_previous_content(store: Store, sample: Engine) -> None:
    add(store, "s-login", name="Fix the login form", body="Now about caching only.")
    assert search(sample, "keystroke") == []
    assert ids(search(sample, "caching")) == ["s-login"]


def test_a_removed_session_is_no_longer_found(sample: Engine) -> None:
    remove_sessions(sample, ["s-login", "never-indexed"])
    assert search(sample, "keystroke") == []


def test_index_stays_consistent_through_replacements_and_removals(
    store: Store, sample: Engine
) -> None:
    fts5_only(store)
    add(store, "s-login", name="Fix the login form", body="Now about caching only.")
    remove_sessions(sample, ["s-deploy"])
    with sample.begin() as connection:  # FTS5 compares its index with the stored text
        connection.exec_driver_sql(
            "INSERT INTO session_search(session_search, rank) VALUES ('integrity-check', 1)"
        )
    assert search(sample, "deployment") == []


def test_reindex_all_replaces_every_row(sample: Engine) -> None:
    reindex_all(sample, [SearchDoc("s-new", "Fresh", "App", [], [], "brand new keystroke")])
    assert ids(search(sample, "keystroke")) == ["s-new"]
    assert search(sample, "deployment") == []


def test_accents_do_not_matter(store: Store) -> None:
    add(store, "s-pt", name="Plano", body="Executar a migração do banco e a validação.")
    assert ids(search(store.engine, "migracao")) == ["s-pt"]
    assert ids(search(store.engine, "VALIDACAO")) == ["s-pt"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('"unbalanced', "double quote is not closed"),
        ('"', "double quote is not closed"),
        ("AND", "syntax error"),
        ("login AND", "syntax error"),
        ("*foo", "not at the end"),
        ("(login", "syntax error"),
        ("   ", "nothing to search for"),
        ("-- ..", "only punctuation"),
    ],
)
def test_a_malformed_query_is_one_clear_error(sample: Engine, query: str, problem: str) -> None:
    with pytest.raises(SearchQueryError, match=problem) as caught:
        search(sample, query)
    assert caught.value.exit_code == EXIT_CONFIG
    assert caught.value.query == query
    assert "\n" not in caught.value.message
    assert caught.value.message.startswith(f"Cannot search for {query!r}")


def test_a_bad_since_or_limit_is_a_query_error(sample: Engine) -> None:
    with pytest.raises(SearchQueryError, match="ISO date"):
        search(sample, "login", since="last week")
    with pytest.raises(SearchQueryError, match="limit"):
        search(sample, "login", limit=0)


def test_search_refuses_other_databases_with_one_line() -> None:
    # A mock engine has MySQL's dialect without needing its driver or a server.
    engine = cast(Engine, create_mock_engine("mysql://", executor=lambda *_: None))
    with pytest.raises(SearchUnavailableError, match="search needs SQLite or PostgreSQL"):
        search_index(engine, "login", read_file=lambda _: [])
    with pytest.raises(SearchUnavailableError, match="search needs SQLite or PostgreSQL"):
        index_session(engine, "s-1", name="", project="", tags=[], models=[], body="x")


def test_migrations_go_down_and_up_again_with_the_search_table(store: Store) -> None:
    fts5_only(store)
    assert "session_search" in inspect(store.engine).get_table_names()
    migrate.downgrade(store.engine, "0003")
    assert not any(t.startswith("session_search") for t in inspect(store.engine).get_table_names())
    migrate.upgrade(store.engine)
    add(store, "s-1", body="back again")
    assert ids(search(store.engine, "again")) == ["s-1"]


def test_an_interrupted_upgrade_to_the_compact_index_runs_again(store: Store) -> None:
    fts5_only(store)
    migrate.downgrade(store.engine, "0004")
    with store.engine.begin() as connection:  # what a crash after the first DDL leaves
        connection.exec_driver_sql("CREATE TABLE session_search_docs (id INTEGER PRIMARY KEY)")
    migrate.upgrade(store.engine)
    add(store, "s-1", body="back again")
    assert ids(search(store.engine, "again")) == ["s-1"]


def test_autogenerate_sees_no_difference_once_search_tables_are_hidden(store: Store) -> None:
    fts5_only(store)
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from syncd.index.models import Base

    with store.engine.connect() as db:
        context = MigrationContext.configure(db, opts={"include_name": include_name_except_search})
        assert compare_metadata(context, Base.metadata) == []


CORPUS_PHRASES = [
    ("tootsie pop", "12-"),
    ("typing indicator", "22-"),
    ("aiogram", "15-"),
    ("migracao", "24-"),
    ("vitepress", "06-"),
    ("esphome", "34-"),
]


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus/specstory")
@pytest.mark.parametrize(("phrase", "file_prefix"), CORPUS_PHRASES)
def test_phrases_known_to_be_in_the_corpus_are_found_there(
    tmp_path: Path, phrase: str, file_prefix: str
) -> None:
    files = sorted(
        path
        for path in CORPUS.iterdir()
        if path.suffix == ".md" and path.name not in {"FORMAT.md", "MANIFEST.tsv"}
    )
    with Store.open(f"sqlite:///{tmp_path / 'index.db'}") as store:
        store.save_project(ProjectRecord("corpus", "corpus", "corpus"))
        for path in files:  # the bodies are read back from the corpus files themselves
            store.save_session(SessionRecord(id=path.stem, project_id="corpus", path=path.name))
        reindex_all(
            store.engine,
            (
                SearchDoc(path.stem, path.stem, "corpus", [], [], path.read_text("utf-8"))
                for path in files
            ),
        )
        hits = search_index(store.engine, f'"{phrase}"', read_file=file_reader(CORPUS), limit=50)
    found = [hit.session_id for hit in hits]
    assert any(session_id.startswith(file_prefix) for session_id in found), found
    assert all("«" in hit.snippet or "«" in hit.name_highlight for hit in hits)


# Kept current by syncs


def shop(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> str:
    """`syncd` pointed at the harness's server, which holds one project with session s-a."""
    point_cli_at(monkeypatch, harness.server.url, harness.server.api_key, harness.root)
    project = harness.server.add_project("Shop", project_id="proj_shop")
    harness.server.put_session(project, session_id="s-a", name="Cart", markdown="# pelican\n")
    return project


def test_a_sync_indexes_what_it_wrote_and_forgets_what_it_removed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop(harness, monkeypatch)
    harness.server.put_session(project, session_id="s-b", name="Till", markdown="# walrus\n")
    assert run(["sync", "--once"]) == 0
    with harness.store() as store:
        assert document_count(store.engine) == 2  # before any search asked for it
        assert ids(search(store.engine, "pelican")) == ["s-a"]

    harness.server.put_session(project, session_id="s-a", name="Cart", markdown="# heron\n")
    harness.server.delete_session(project, "s-b")
    assert run(["sync", "--once"]) == 0

    with harness.store() as store:
        record = store.session("s-a")
        assert record is not None
        assert indexed_versions(store.engine) == {"s-a": record.file_sha256}
        assert search(store.engine, "pelican") == []
        assert search(store.engine, "walrus") == []
        assert ids(search(store.engine, "heron")) == ["s-a"]


def test_a_sync_rebuilds_the_table_once_replaced_rows_are_many(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.index import search as search_module
    from syncd.index.search import left_behind

    monkeypatch.setattr(search_module, "ORPHANS_FLOOR", 0)
    project = shop(harness, monkeypatch)
    for word in ("heron", "ibis", "crane"):
        harness.server.put_session(project, session_id="s-a", name="Cart", markdown=f"# {word}\n")
        assert run(["sync", "--once"]) == 0
    with harness.store() as store:
        assert left_behind(store.engine) == 0  # the third refresh rebuilt the table
        assert ids(search(store.engine, "crane")) == ["s-a"]
        assert search(store.engine, "ibis") == []


def test_a_dry_run_indexes_nothing(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    shop(harness, monkeypatch)
    harness.sync()
    with harness.store() as store:
        assert document_count(store.engine) == 0  # the engine alone leaves search to callers
    assert run(["sync", "--once", "--dry-run"]) == 0
    with harness.store() as store:
        assert document_count(store.engine) == 0


def test_a_sync_that_changed_nothing_still_fills_an_emptied_index(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop(harness, monkeypatch)
    assert run(["sync", "--once"]) == 0
    with harness.store() as store:
        reindex_all(store.engine, [])  # as after an upgrade of the index's layout

    assert run(["sync", "--once"]) == 0

    with harness.store() as store:
        assert document_count(store.engine) == 1


def test_a_phrase_is_checked_on_the_text_under_not_too(sample: Engine) -> None:
    # The index keeps no positions: both words are in s-login, but not side by side.
    assert ids(search(sample, '"password lost"')) == []
    assert set(ids(search(sample, 'login NOT "login bug"'))) == {"s-readme"}
    assert ids(search(sample, 'login NOT "bug login"')) == ["s-login", "s-readme"]


def test_replaced_rows_are_counted_and_a_rebuild_drops_them(store: Store, sample: Engine) -> None:
    fts5_only(store)
    from syncd.index.search import left_behind

    add(store, "s-login", name="Fix the login form", body="Now about caching only.")
    remove_sessions(sample, ["s-deploy"])
    assert left_behind(sample) == 2
    reindex_all(sample, [SearchDoc("s-new", "Fresh", "App", [], [], "brand new keystroke")])
    assert left_behind(sample) == 0


def test_the_upgrade_converts_a_0005_index_in_place(store: Store) -> None:
    fts5_only(store)
    add(store, "s-1", name="Kept", body="the walrus stays searchable")
    migrate.downgrade(store.engine, "0009")
    add_0005 = (
        "INSERT INTO session_search_docs (id, session_id, file_sha256, name, project, tags, "
        "models, body) VALUES (7, 's-1', '', 'Kept', 'App', '', '', :body)"
    )
    import zlib

    from sqlalchemy import text as sql

    with store.engine.begin() as connection:
        connection.execute(sql(add_0005), {"body": zlib.compress(b"the walrus stays searchable")})
        connection.execute(
            sql(
                "INSERT INTO session_search(rowid, name, project, tags, models, body) "
                "VALUES (7, 'Kept', 'App', '', '', 'the walrus stays searchable')"
            )
        )
    migrate.upgrade(store.engine)
    assert indexed_versions(store.engine) == {"s-1": ""}
    assert ids(search(store.engine, "walrus")) == ["s-1"]


def test_a_body_of_long_distinct_tokens_is_still_found(store: Store) -> None:
    # 10,000 distinct tokens of 192 characters (encoded data): on PostgreSQL, a part of the
    # body is over the 1 MB one tsvector may hold, so it is indexed in smaller pieces.
    words = " ".join(hashlib.sha256(str(n).encode()).hexdigest() * 3 for n in range(10_000))
    add(store, "s-huge", name="Huge log", body=f"Opening words zanzibar. {words} closing")
    add(store, "s-small", name="Small", body="Also about zanzibar.")
    assert sorted(ids(search(store.engine, "zanzibar"))) == ["s-huge", "s-small"]
    assert ids(search(store.engine, "name:huge")) == ["s-huge"]
    assert ids(search(store.engine, "closing")) == ["s-huge"]


def test_phrases_and_words_deep_in_a_long_session_are_found(store: Store) -> None:
    # Far past the 16,383 word positions one PostgreSQL tsvector keeps, and across the
    # parts its body is indexed in: a phrase there, and words far apart, are still found.
    filler = " ".join(f"filler{n % 997}" for n in range(40_000))
    body = f"Opening zebra. {filler} the needle haystack closes it. {filler} final word"
    add(store, "s-long", name="Huge log", body=body)
    add(store, "s-other", name="Other", body="A needle, and a haystack elsewhere.")
    assert ids(search(store.engine, '"needle haystack"')) == ["s-long"]
    assert ids(search(store.engine, "zebra AND needle")) == ["s-long"]
    assert ids(search(store.engine, '"final word"')) == ["s-long"]
    assert ids(search(store.engine, "name:huge AND haystack")) == ["s-long"]
    assert ids(search(store.engine, "needle NOT zebra")) == ["s-other"]
