"""A cycle cut short (killed, a key revoked, an exception) and then a cloud that changes
again: the next cycles still converge, with no ghost, no duplicate and no false edit."""

from __future__ import annotations

import pytest

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import Fault
from syncd.errors import AuthError
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
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
