"""`ls`, `show` and `status` say the same whichever way they read the index: the stdlib
reader (a current SQLite index) or the Store (SQLAlchemy: any other index)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.app import status as status_app
from syncd.cli import run
from syncd.devserver import DevServer
from syncd.index.queries import IndexReader
from syncd.index.records import ArchiveState, PushState, StoryRecord
from syncd.index.statuses import StorySource, StoryStatus
from syncd.index.store import Store

ODD_NAMES = [
    "",  # untitled
    "../../etc/passwd",
    "say \"hi\" and 'bye' \\ back",
    "名前 🎉 with émojis",
    "   spaced   out   ",
    "Zebra",
    "zebra",  # the same name folded: ids break the tie
]
TWIN_START = "2025-07-20T10:28:48.000Z"  # several sessions start at once: ids break the tie


@pytest.fixture
def varied_index(server: DevServer, cli_root: Path) -> Path:
    """A mirror with odd names, shared start times, case-varied tags, a session deleted in
    the cloud, stories, a paused push, a failing git archive and two runs."""
    server.seed_synthetic(40, 3, seed=7)
    odd = server.add_project("Ünïcode 日本", project_id="proj_odd")
    for position, name in enumerate(ODD_NAMES):
        server.put_session(
            odd,
            session_id=f"0dd00000-0000-0000-0000-00000000000{position}",
            name=name,
            markdown=f"# {name}\n\nbody {position}\n",
            started_at=TWIN_START if position % 2 else None,
            created_at="2024-01-02T03:04:05.000Z",
            metadata={"tags": ["Auth", "ünï"], "llmModels": ["GPT-5", "claude-opus-4-1"]},
        )
    assert run(["sync", "--once"]) == 0
    assert run(["sync", "--once"]) == 0
    url = f"sqlite:///{cli_root / '.syncd' / 'index.db'}"
    with Store.open(url) as store:
        kept = store.session("0dd00000-0000-0000-0000-000000000001")
        assert kept is not None
        store.save_session(dataclasses.replace(kept, cloud_deleted_at="2025-08-01T00:00:00Z"))
        store.set_pullstory_url("0dd00000-0000-0000-0000-000000000002", "https://ps.test/s/2")
        for number, status in enumerate([StoryStatus.READY, StoryStatus.FAILED] * 2):
            store.add_story(_story(number, status))
        store.save_push_state(PushState("quota", next_usage_check=1.8e9, resets_at=1.9e9))
        moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        store.save_archive_state(
            ArchiveState(moment, None, None, "index.lock exists", moment, "rejected", moment)
        )
    return cli_root


def _story(number: int, status: StoryStatus) -> StoryRecord:
    return StoryRecord(
        session_id=f"0dd00000-0000-0000-0000-00000000000{number}",
        brief_hash=f"{number:064x}",
        brief={"n": number},
        status=status,
        source=StorySource.PUSH,
        created_at=1.7e9 + number,
        updated_at=1.7e9 + number,
        url=f"https://ps.test/s/{number}" if status == StoryStatus.READY else None,
        next_poll_at=1.75e9 + number if status == StoryStatus.FAILED else None,
    )


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """`status` says times relative to now: both readings see the same now."""
    moment = datetime.now(UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Frozen:  # type: ignore[override]
            return cls.fromtimestamp(moment.timestamp(), UTC)

    monkeypatch.setattr(status_app, "datetime", Frozen)


def both_ways(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(exit code, stdout, stderr) of `syncd <args>` read fast, then through the Store."""
    opened: list[IndexReader] = []
    real_open = IndexReader.open

    def spying(database_url: str) -> IndexReader | None:
        reader = real_open(database_url)
        opened.extend([reader] if reader is not None else [])
        return reader

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(IndexReader, "open", staticmethod(spying))
        fast = run(args), *capsys.readouterr()
    assert opened, "the fast path was not taken"
    with monkeypatch.context() as patch:
        patch.setattr(IndexReader, "open", staticmethod(lambda _url: None))
        slow = run(args), *capsys.readouterr()
    return fast, slow


@pytest.mark.parametrize(
    "args",
    [
        ["ls"],
        ["ls", "--json"],
        ["ls", "--sort", "name"],
        ["ls", "--sort", "size", "--limit", "5"],
        ["ls", "--sort", "name", "--limit", "1"],
        ["ls", "--project", "ünïcode 日本"],
        ["ls", "--project", "proj_odd", "--json"],
        ["ls", "--project", "nobody"],  # no such project: an error naming the closest
        ["ls", "--project", "ZEBRA"],  # no project has that name: an error with no guess
        ["ls", "--tag", "AUTH"],
        ["ls", "--tag", "ÜNÏ", "--sort", "name"],
        ["ls", "--model", "gpt"],
        ["ls", "--since", "2025-07-20"],
        ["ls", "--since", "2025-07-20T10:28:48.000Z", "--model", "opus", "--json"],
        ["show", "0dd00000-0000-0000-0000-000000000001"],
        ["show", "0dd00000-0000-0000-0000-000000000002"],
        ["show", "0dd00000-0000-0000-0000-00000000000"],  # ambiguous: an error listing ids
        ["show", "ffffffff"],  # no such session
        ["status"],
        ["status", "--json"],
        ["status", "--check"],
    ],
)
@pytest.mark.usefixtures("frozen_now")
def test_the_fast_and_the_sqlalchemy_path_print_the_same(
    varied_index: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    fast, slow = both_ways(monkeypatch, capsys, args)
    assert fast == slow
    assert fast[1] or fast[2]


def test_show_by_file_path_and_by_prefix_is_the_same_either_way(
    varied_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(f"sqlite:///{varied_index / '.syncd' / 'index.db'}") as store:
        record = store.session("0dd00000-0000-0000-0000-000000000003")
        synthetic = next(r for r in store.sessions().values() if r.project_id != "proj_odd")
    assert record is not None
    for wanted in (str(varied_index / record.path), synthetic.id[:8]):
        fast, slow = both_ways(monkeypatch, capsys, ["show", wanted])
        assert fast == slow
        assert fast[0] == 0, fast


def test_every_read_gives_the_stores_records(varied_index: Path) -> None:
    url = f"sqlite:///{varied_index / '.syncd' / 'index.db'}"
    reader = IndexReader.open(url)
    assert reader is not None
    with reader, Store.open(url) as store:
        for index in (reader, store):
            assert index.count_sessions() == 47
        some = next(iter(store.sessions().values()))
        reads = [
            lambda i: i.projects(),
            lambda i: i.sessions(),
            lambda i: i.session(some.id),
            lambda i: i.session("missing"),
            lambda i: i.session_by_path(some.path),
            lambda i: i.count_sessions(live=True),
            lambda i: i.count_projects(),
            lambda i: i.runs(limit=5),
            lambda i: i.last_success(),
            lambda i: i.last_listing(),
            lambda i: i.budget(),
            lambda i: i.archive_state(),
            lambda i: i.push_state(),
            lambda i: i.story_counts(),
            lambda i: i.earliest_poll((StoryStatus.FAILED,)),
            lambda i: i.earliest_poll((StoryStatus.QUEUED, StoryStatus.GENERATING)),
            lambda i: i.latest_ready_stories(5),
        ]
        for read in reads:
            assert read(reader) == read(store)
