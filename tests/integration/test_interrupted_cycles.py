"""A cycle cut short (killed, a key revoked, an exception) and then a cloud that changes
again: the next cycles still converge, with no ghost, no duplicate and no false edit."""

from __future__ import annotations

import pytest

from syncd import durable
from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import Fault
from syncd.errors import AuthError, StorageError
from syncd.index.store import SessionRecord, Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.rebuild import rebuild_index
from tests.crashing import after_nth, run_in_child
from tests.integration.conftest import NO_WAIT, Harness
from tests.integration.test_incremental_and_deletions import engine_run


def one_session(harness: Harness, markdown: str = "# v1\n") -> None:
    """Project P with session s1, mirrored: P's listing is settled on its ETag."""
    harness.server.add_project("P", project_id="proj_p")
    harness.server.put_session("proj_p", session_id="s1", name="one", markdown=markdown)
    engine_run(harness)


def mirrored_ids(harness: Harness) -> set[str]:
    with Store.open(harness.database_url) as store:
        return set(store.sessions())


def files_of(harness: Harness, session_id: str) -> list[str]:
    return sorted(p.name for p in (harness.root / "p").glob(f"*-{session_id}-*.md"))


def test_a_revoked_key_mid_cycle_never_leaves_a_ghost(harness: Harness) -> None:
    one_session(harness)
    harness.server.put_session("proj_p", session_id="s2", name="two", markdown="# 2\n")
    harness.server.put_session("proj_p", session_id="s3", name="three", markdown="# 3\n")
    harness.server.inject(Fault(kind="status", path="/sessions/s3$", status=401))
    with pytest.raises(AuthError):
        engine_run(harness)  # s2 landed, then the key was refused
    # The listing goes back to exactly what it was: its old ETag must vouch for nothing.
    harness.server.delete_session("proj_p", "s2")
    harness.server.delete_session("proj_p", "s3")
    engine_run(harness)
    assert mirrored_ids(harness) == {"s1"}


def test_a_kill_mid_cycle_never_leaves_a_ghost(harness: Harness) -> None:
    one_session(harness)
    harness.server.put_session("proj_p", session_id="s2", name="two", markdown="# 2\n")
    child = run_in_child(lambda: engine_run(harness, incremental=True), after_nth("write", 1))
    assert child.killed
    harness.server.delete_session("proj_p", "s2")
    engine_run(harness)
    engine_run(harness)
    assert mirrored_ids(harness) == {"s1"}
    assert files_of(harness, "s2") == []


def test_a_move_killed_before_its_index_row_leaves_no_duplicate(harness: Harness) -> None:
    one_session(harness)
    harness.server.rename_session("proj_p", "s1", "two")
    child = run_in_child(lambda: engine_run(harness), after_nth("write", 1))
    assert child.killed  # "two" is in place; "one" and the index row are as they were
    harness.server.rename_session("proj_p", "s1", "three")
    assert engine_run(harness).failed == 0
    (name,) = files_of(harness, "s1")
    assert "-three-s1-" in name


def test_syncds_own_write_before_a_kill_is_never_taken_for_a_user_edit(
    harness: Harness,
) -> None:
    one_session(harness)
    harness.server.put_session("proj_p", session_id="s1", name="one", markdown="# v2\n")
    child = run_in_child(lambda: engine_run(harness), after_nth("write", 1))
    assert child.killed  # v2 is in place, its index row never came
    harness.server.put_session("proj_p", session_id="s1", name="one", markdown="# v3\n")
    assert engine_run(harness).failed == 0
    assert list((harness.root / "p").glob("*.local-*")) == []


def test_a_new_session_killed_before_its_index_row_and_then_renamed_is_not_duplicated(
    harness: Harness,
) -> None:
    one_session(harness)
    harness.server.put_session("proj_p", session_id="s2", name="two", markdown="# 2\n")
    child = run_in_child(lambda: engine_run(harness), after_nth("write", 1))
    assert child.killed
    harness.server.rename_session("proj_p", "s2", "renamed")
    assert engine_run(harness).failed == 0
    (name,) = files_of(harness, "s2")
    assert "-renamed-s2-" in name


def test_a_revoked_key_while_listing_stops_the_cycle_at_once(harness: Harness) -> None:
    for n in range(5):
        harness.server.add_project(f"P{n}", project_id=f"proj_{n}")
    harness.server.inject(Fault(kind="status", status=401, path=r"/sessions$", times=-1))
    harness.server.clear_requests()
    with pytest.raises(AuthError):
        engine_run(harness)
    assert len([r for r in harness.server.requests if r.path.endswith("/sessions")]) == 1


def test_writing_a_story_url_into_an_edited_file_sends_nothing_and_moves_nothing(
    harness: Harness,
) -> None:
    one_session(harness)
    (path,) = (harness.root / "p").glob("*-s1-*.md")
    edited = path.read_bytes() + b"my note\n"
    path.write_bytes(edited)
    harness.server.clear_requests()
    with Store.open(harness.database_url) as store:
        store.set_pullstory_url("s1", "https://pullstory.example/s/1")
        client = CloudClient(
            harness.server.url,
            harness.server.api_key,
            retry=NO_WAIT,
            budget=RateBudget(interactive=True),
        )
        with client:
            SyncEngine(client, store, Mirror(harness.root)).refresh_file("s1")
    assert harness.server.requests == []
    assert path.read_bytes() == edited
    assert list(path.parent.glob("*.local-*")) == []


def all_markdown(harness: Harness) -> bytes:
    return b"".join(p.read_bytes() for p in harness.root.rglob("*.md"))


@pytest.mark.parametrize("change", ["rename", "new session"])
def test_an_edit_made_after_a_kill_to_the_file_syncd_had_just_written_is_kept(
    harness: Harness, change: str
) -> None:
    one_session(harness)
    if change == "rename":
        harness.server.rename_session("proj_p", "s1", "two")
        session_id = "s1"
    else:
        harness.server.put_session("proj_p", session_id="s2", name="two", markdown="# 2\n")
        session_id = "s2"
    child = run_in_child(lambda: engine_run(harness), after_nth("write", 1))
    assert child.killed  # the new file is in place, its index row never came
    (new,) = (harness.root / "p").glob(f"*-two-{session_id}-*.md")
    new.write_bytes(new.read_bytes() + b"\nMY NOTE\n")  # the user edits it before a restart

    assert engine_run(harness).failed == 0

    assert b"MY NOTE" in all_markdown(harness)
    assert len(list((harness.root / "p").glob("*.local-*.md"))) == 1


def test_an_edit_after_a_ctrl_c_between_a_rename_and_its_index_row_is_kept(
    harness: Harness,
) -> None:
    one_session(harness)
    harness.server.rename_session("proj_p", "s1", "two")

    def interrupt(step: str) -> None:
        if step == "write":
            raise KeyboardInterrupt

    durable.observe(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine_run(harness)
    finally:
        durable.observe(None)
    (new,) = (harness.root / "p").glob("*-two-s1-*.md")
    new.write_bytes(new.read_bytes() + b"\nMY NOTE\n")
    engine_run(harness)
    assert b"MY NOTE" in all_markdown(harness)


def test_a_write_that_cannot_be_finished_fails_alone_and_the_rest_goes_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_session(harness)
    harness.server.rename_session("proj_p", "s1", "two")
    (old,) = (harness.root / "p").glob("*-one-s1-*.md")
    old_path = old.relative_to(harness.root).as_posix()
    real_remove = Mirror.remove

    def immutable(self: Mirror, relative: str) -> None:  # the file system refuses (EPERM)
        if relative == old_path:
            raise StorageError(relative, "Operation not permitted")
        real_remove(self, relative)

    monkeypatch.setattr(Mirror, "remove", immutable)
    assert engine_run(harness).failed == 1  # the move's old file stays; its row is pending
    harness.server.put_session("proj_p", session_id="s2", name="other", markdown="# 2\n")

    report = engine_run(harness)

    assert report.failed
    assert all("session s1:" in error for error in report.errors)  # that one session, named
    assert "finishing an interrupted write" in report.errors[0]
    assert "s2" in mirrored_ids(harness)  # the rest of the cycle went on
    monkeypatch.setattr(Mirror, "remove", real_remove)
    assert engine_run(harness).failed == 0
    (name,) = files_of(harness, "s1")
    assert "-two-s1-" in name


def test_a_rebuild_between_a_kill_and_the_restart_leaves_no_duplicate(harness: Harness) -> None:
    one_session(harness)
    harness.server.rename_session("proj_p", "s1", "two")
    child = run_in_child(lambda: engine_run(harness), after_nth("write", 1))
    assert child.killed
    with Store.open(harness.database_url) as store:
        rebuild_index(Mirror(harness.root), store)
    engine_run(harness)
    (name,) = files_of(harness, "s1")
    assert "-two-s1-" in name


def test_a_story_url_recorded_while_the_session_is_being_written_is_kept(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_session(harness)
    harness.server.put_session("proj_p", session_id="s1", name="one", markdown="# v2\n")
    real_begin = Store.begin_write

    def the_push_worker_meanwhile(self: Store, record: SessionRecord) -> None:
        real_begin(self, record)
        self.set_pullstory_url("s1", "https://pullstory.example/s/1")  # the other thread

    monkeypatch.setattr(Store, "begin_write", the_push_worker_meanwhile)
    engine_run(harness)
    with Store.open(harness.database_url) as store:
        record = store.session("s1")
    assert record is not None
    assert record.pullstory_url == "https://pullstory.example/s/1"
