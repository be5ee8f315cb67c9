"""Links in the mirror, odd things in the outbox, a PullStory that keeps failing: nothing is
written, read, moved or trashed through a link, nothing in the outbox stalls the push
worker, and `push --wait` always returns."""

from __future__ import annotations

import logging
import os
import re
import resource
import signal
import socket
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.daemon.lock import RootLock
from syncd.devserver import DevServer, Fault
from syncd.errors import EXIT_UNAVAILABLE, UnsafePathError
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror
from syncd.push.outbox import Outbox
from syncd.push.selection import brief_for, handle_changed_files
from syncd.push.watcher import ChangedPaths, MarkWatcher
from tests.fakes.pullstory import PullStoryServer
from tests.integration.conftest import FakeSleep, Harness, point_cli_at
from tests.integration.test_daemon import running_daemon
from tests.integration.test_incremental_and_deletions import engine_run, seed_project
from tests.integration.test_push import TOKEN, seed_parser_session

DEADLINE = 20.0
SPARSE_BYTES = 3 * 1024**3


def paths_by_id(harness: Harness) -> dict[str, str]:
    with harness.store() as store:
        return {sid: record.path for sid, record in store.sessions().items()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- the mirror ------------------------------------------------------------------------


def test_a_session_file_linked_to_the_index_is_kept_aside_and_the_index_survives(
    harness: Harness,
) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    path = harness.root / paths_by_id(harness)[ids[0]]
    index_db = harness.root / ".syncd" / "index.db"
    path.unlink()
    path.symlink_to(index_db)
    harness.server.put_session("proj_big", session_id=ids[0], name=f"s{ids[0]}", markdown="# v2\n")

    report = engine_run(harness)

    assert report.failed == 0
    assert index_db.read_bytes().startswith(b"SQLite format 3\x00")
    with sqlite3.connect(index_db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with harness.store() as store:
        assert store.count_sessions() == 8
    assert not path.is_symlink()
    assert frontmatter.split(path.read_bytes())[1] == b"# v2\n"
    (kept,) = path.parent.glob("*.local-*.md")
    assert kept.is_symlink()
    assert kept.readlink() == index_db


def test_a_link_from_one_session_file_to_another_never_overwrites_the_other(
    harness: Harness,
) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    paths = paths_by_id(harness)
    a, b = harness.root / paths[ids[0]], harness.root / paths[ids[1]]
    b_before = b.read_bytes()
    a.unlink()
    a.symlink_to(b)
    harness.server.put_session("proj_big", session_id=ids[0], name=f"s{ids[0]}", markdown="# A2\n")

    assert engine_run(harness).failed == 0

    assert b.read_bytes() == b_before
    assert not a.is_symlink()
    assert frontmatter.split(a.read_bytes())[1] == b"# A2\n"
    (kept,) = a.parent.glob("*.local-*.md")
    assert kept.is_symlink()
    assert kept.readlink() == b


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_a_cloud_deletion_trashes_the_link_never_its_target(harness: Harness, mode: str) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    paths = paths_by_id(harness)
    a, b = harness.root / paths[ids[0]], harness.root / paths[ids[1]]
    b_before = b.read_bytes()
    a.unlink()
    a.symlink_to(b)
    harness.server.delete_session("proj_big", ids[0])

    report = engine_run(harness, deletion_mode=mode)

    assert report.deleted == 1
    assert report.failed == 0
    assert b.read_bytes() == b_before
    assert not a.is_symlink()
    assert not a.exists()
    # A link is never the user's content: it is moved to the trash as a link in both modes.
    (trashed,) = (harness.root / ".trash").rglob("*.md")
    assert trashed.is_symlink()
    assert trashed.readlink() == b


@pytest.mark.parametrize("inside", [False, True], ids=["outside-the-root", "inside-the-root"])
def test_a_linked_project_folder_is_never_written_through(
    harness: Harness, tmp_path: Path, inside: bool
) -> None:
    ids = seed_project(harness.server, 8)
    harness.server.add_project("Other", project_id="proj_other")
    harness.server.put_session("proj_other", session_id="o0000000-x", name="o", markdown="# o\n")
    engine_run(harness)
    folder = harness.root / "big"
    elsewhere = harness.root / ".shelf" if inside else tmp_path / "elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    if not inside:  # (a real folder in the root is swept: syncd's temp files land there)
        (elsewhere / ".notes.md.0000.syncd-tmp").write_bytes(b"not syncd's to sweep")
    before = snapshot(elsewhere)
    harness.server.put_session("proj_big", session_id=ids[0], name=f"s{ids[0]}", markdown="# v2\n")
    harness.server.put_session("proj_big", session_id="99999999-new", name="new", markdown="# n\n")
    harness.server.put_session("proj_other", session_id="o0000000-x", name="o", markdown="# o2\n")

    report = engine_run(harness)

    assert snapshot(elsewhere) == before
    assert folder.is_symlink()
    assert report.failed >= 2
    assert any("big" in error and "link" in error for error in report.errors)
    (other,) = (harness.root / "other").glob("*-o0000000.md")
    assert frontmatter.split(other.read_bytes())[1] == b"# o2\n"  # the rest of the cycle ran


@pytest.mark.parametrize("inside", [False, True], ids=["outside-the-root", "inside-the-root"])
def test_a_linked_trash_folder_receives_nothing(
    harness: Harness, tmp_path: Path, inside: bool
) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    elsewhere = harness.root / ".shelf" if inside else tmp_path / "elsewhere"
    elsewhere.mkdir()
    (harness.root / ".trash").symlink_to(elsewhere, target_is_directory=True)
    harness.server.delete_session("proj_big", ids[0])

    report = engine_run(harness)

    assert list(elsewhere.iterdir()) == []
    assert report.failed == 1
    assert (harness.root / paths_by_id(harness)[ids[0]]).is_file()  # still in place


def test_a_linked_session_file_is_never_read_for_a_brief(harness: Harness, tmp_path: Path) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    secret = tmp_path / "secret.md"
    secret.write_bytes(b"---\nid: x\n---\n**Update: `src/secret.py`**\n")
    path = harness.root / paths_by_id(harness)[ids[0]]
    path.unlink()
    path.symlink_to(secret)
    with harness.store() as store:
        record = store.session(ids[0])
        assert record is not None
        with pytest.raises(UnsafePathError, match="symbolic link"):
            brief_for(Mirror(harness.root), record)


def test_paths_into_syncds_own_folder_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    (root / ".syncd").mkdir(parents=True)
    (root / ".syncd" / "index.db").write_bytes(b"precious")
    mirror = Mirror(root)
    for relative in (".syncd/index.db", ".SyncD/index.db", ".syncd/outbox/x.md"):
        with pytest.raises(UnsafePathError):
            mirror.write(relative, [b"x"])
        with pytest.raises(UnsafePathError):
            mirror.move(relative, "a.md")
    with pytest.raises(UnsafePathError):
        mirror.remove(".syncd/index.db")
    assert (root / ".syncd" / "index.db").read_bytes() == b"precious"


def test_a_link_in_place_of_a_page_is_replaced_not_written_through(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    target = tmp_path / "target.md"
    target.write_bytes(b"mine")
    (root / "README.md").symlink_to(target)
    mirror = Mirror(root)
    assert not mirror.holds("README.md", b"mine")  # a link never holds anything
    mirror.write_bytes("README.md", b"page")
    assert target.read_bytes() == b"mine"
    assert (root / "README.md").read_bytes() == b"page"
    assert not (root / "README.md").is_symlink()


# --- the outbox ------------------------------------------------------------------------


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[Harness, DevServer]]:
    with DevServer(api_key="k", port=0, rate_limit=None) as cloud:
        seed_parser_session(cloud)
        harness = Harness(cloud, tmp_path / "mirror", FakeSleep())
        assert harness.sync().new == 1
        yield harness, cloud


def outbox_of(harness: Harness) -> Path:
    outbox = harness.root / ".syncd" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    return outbox


def test_a_fifo_in_the_outbox_is_skipped_with_one_warning(
    synced: tuple[Harness, DevServer], caplog: pytest.LogCaptureFixture
) -> None:
    harness, _ = synced
    outbox = outbox_of(harness)
    fifo = outbox / "a-fifo.md"
    os.mkfifo(fifo)
    (outbox / "b-link-to-fifo.md").symlink_to(fifo)
    (session,) = harness.root.glob("tools/*-00000000.md")
    (outbox / "c-good.md").symlink_to(session)
    entries = sorted(outbox.iterdir())
    caplog.set_level(logging.WARNING)
    mirror = Mirror(harness.root)
    outbox = Outbox(mirror)  # the daemon keeps one: it remembers what it warned about
    with harness.store() as store:
        started = time.monotonic()
        queued = handle_changed_files(store, mirror, entries, time.time(), outbox=outbox)
        again = handle_changed_files(store, mirror, [fifo], time.time(), outbox=outbox)
        assert time.monotonic() - started < 5.0
    assert [s.session_id for s in queued] == ["00000000-aaaa"]
    assert again == []
    assert not fifo.exists()
    rejected = fifo.parent / "rejected"
    assert stat.S_ISFIFO((rejected / "a-fifo.md").lstat().st_mode)  # moved, never opened
    assert "not a regular file" in (rejected / "a-fifo.md.reason").read_text()
    assert (rejected / "b-link-to-fifo.md").is_symlink()
    warnings = [r.getMessage() for r in caplog.records if "a-fifo.md" in r.getMessage()]
    assert len(warnings) == 1
    assert "not a regular file" in warnings[0]


def test_an_outbox_that_is_a_link_is_not_used(
    synced: tuple[Harness, DevServer], tmp_path: Path
) -> None:
    harness, _ = synced
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (session,) = harness.root.glob("tools/*-00000000.md")
    copy = elsewhere / "copy.md"
    copy.write_bytes(session.read_bytes())
    (harness.root / ".syncd" / "outbox").symlink_to(elsewhere, target_is_directory=True)
    mirror = Mirror(harness.root)
    outbox = Outbox(mirror)
    assert outbox.entries() == []
    with harness.store() as store:
        assert handle_changed_files(store, mirror, [outbox.folder / "copy.md"], 0.0) == []
    assert copy.read_bytes() == session.read_bytes()  # an exact copy, yet not removed


def test_a_dangling_link_in_place_of_the_outbox_does_not_stop_the_watcher(
    tmp_path: Path,
) -> None:
    root = tmp_path / "mirror"
    (root / ".syncd").mkdir(parents=True)
    (root / ".syncd" / "outbox").symlink_to(tmp_path / "nowhere")
    watcher = MarkWatcher(root, ChangedPaths())
    watcher.start()
    watcher.stop()
    assert not (tmp_path / "nowhere").exists()


def test_a_huge_sparse_file_in_the_outbox_is_refused_without_reading_it(
    synced: tuple[Harness, DevServer], caplog: pytest.LogCaptureFixture
) -> None:
    harness, _ = synced
    big = outbox_of(harness) / "huge.md"
    with big.open("wb") as handle:
        handle.write(b"---\nid: 00000000-aaaa\n---\n")
    os.truncate(big, SPARSE_BYTES)  # a hole: costs no disk
    caplog.set_level(logging.WARNING)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mirror = Mirror(harness.root)
    outbox = Outbox(mirror)
    with harness.store() as store:
        started = time.monotonic()
        for _ in range(2):
            assert handle_changed_files(store, mirror, [big], time.time(), outbox=outbox) == []
        assert time.monotonic() - started < 5.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 64 * 1024
    assert not big.exists()
    assert (big.parent / "rejected" / "huge.md").stat().st_size == SPARSE_BYTES  # as it was
    warnings = [r.getMessage() for r in caplog.records if "huge.md" in r.getMessage()]
    assert len(warnings) == 1
    assert "too big" in warnings[0]


def test_a_fifo_in_the_outbox_never_stops_the_daemon_from_stopping(
    synced: tuple[Harness, DevServer], tmp_path: Path
) -> None:
    harness, cloud = synced
    outbox = outbox_of(harness)
    os.mkfifo(outbox / "a-fifo.md")
    (session,) = harness.root.glob("tools/*-00000000.md")
    (outbox / "b-good.md").symlink_to(session)
    with (
        PullStoryServer(
            TOKEN, port=0, generation_seconds=None, generation_polls=1, estimated_seconds=1
        ) as stories,
        running_daemon(
            cloud,
            tmp_path,
            SYNCD_PULLSTORY__BASE_URL=stories.url,
            SYNCD_PULLSTORY__API_KEY=TOKEN,
            SYNCD_PULLSTORY__INTERVAL_SECONDS="1",
        ) as daemon,
    ):
        daemon.messages_until("READY=1")
        assert stories.wait_for_requests(
            lambda log: any(r.method == "POST" for r in log), DEADLINE
        ), "the push worker never got past the FIFO"
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10.0
        _, stderr = daemon.process.communicate()
    assert stderr.count("a-fifo.md") == 1
    assert stat.S_ISFIFO((outbox / "rejected" / "a-fifo.md").lstat().st_mode)


# --- push --wait -----------------------------------------------------------------------


@pytest.fixture
def cli_pushing(
    synced: tuple[Harness, DevServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PullStoryServer]:
    harness, cloud = synced
    with PullStoryServer(TOKEN, port=0) as stories:
        point_cli_at(monkeypatch, cloud.url, cloud.api_key, harness.root)
        monkeypatch.setenv("SYNCD_PULLSTORY__BASE_URL", stories.url)
        monkeypatch.setenv("SYNCD_PULLSTORY__API_KEY", TOKEN)
        yield stories


def test_push_wait_gives_up_on_a_failing_pullstory_with_the_unavailable_code(
    cli_pushing: PullStoryServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_pushing.inject(Fault(kind="status", status=500, times=-1))
    started = time.monotonic()
    assert run(["push", "00000000", "--wait", "--timeout", "1"]) == EXIT_UNAVAILABLE
    assert time.monotonic() - started < 10.0
    err = capsys.readouterr().err
    assert "Gave up waiting after" in err
    assert "500" in err
    assert any(r.method == "POST" for r in cli_pushing.requests)


def test_push_wait_gives_up_on_an_unreachable_pullstory(
    synced: tuple[Harness, DevServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    harness, cloud = synced
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    point_cli_at(monkeypatch, cloud.url, cloud.api_key, harness.root)
    monkeypatch.setenv("SYNCD_PULLSTORY__BASE_URL", f"http://127.0.0.1:{port}/api/v1")
    monkeypatch.setenv("SYNCD_PULLSTORY__API_KEY", TOKEN)
    started = time.monotonic()
    assert run(["push", "00000000", "--wait", "--timeout", "1"]) == EXIT_UNAVAILABLE
    assert time.monotonic() - started < 10.0
    assert "Gave up waiting" in capsys.readouterr().err


def test_push_wait_for_a_running_daemon_returns_at_its_timeout(
    synced: tuple[Harness, DevServer],
    cli_pushing: PullStoryServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    harness, _ = synced
    # This process holds the root, like a running daemon that never gets to the story.
    with RootLock(harness.root / ".syncd"):
        started = time.monotonic()
        code = run(["push", "00000000", "--wait", "--timeout", "1"])
        assert time.monotonic() - started < 10.0
    assert code == 1
    assert re.search(r"still queued after \d+ s", capsys.readouterr().err)
    assert cli_pushing.requests == []
