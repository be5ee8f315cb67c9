"""Log lines as journald reads them: a priority prefix when stderr is the journal stream
systemd connected, the plain line otherwise; the scheduler's routine notes out of sight."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from syncd.logs import configure_logging, stderr_is_journal

SKIPPED = (
    'Execution of job "Daemon._job (trigger: interval[0:01:00], next run at: 2026-12-05 '
    '14:05:00 UTC)" skipped: maximum number of running instances reached (1)'
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    scheduler_level = logging.getLogger("apscheduler").level
    yield
    root.handlers[:], root.level = handlers, level
    logging.getLogger("apscheduler").setLevel(scheduler_level)


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[TextIO]:
    with (tmp_path / "stderr").open("w+", encoding="utf-8") as handle:
        yield handle


def journal_stream_of(handle: TextIO) -> str:
    stat = os.fstat(handle.fileno())
    return f"{stat.st_dev}:{stat.st_ino}"


def written(handle: TextIO) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    handle.seek(0)
    return handle.read().splitlines()


def log_one_of_each() -> None:
    log = logging.getLogger("syncd.daemon.service")
    log.debug("idle cycle")
    log.info("reconcile: 3 new")
    log.warning("the pullstory settings take effect when syncd restarts")
    log.error("incremental sync failed: the server answered 500")


def test_stderr_connected_to_the_journal_is_recognised(stream: TextIO) -> None:
    assert stderr_is_journal(stream, {"JOURNAL_STREAM": journal_stream_of(stream)})


@pytest.mark.parametrize("value", [None, "", "8:1234", "garbage", "1:2:3"])
def test_a_stream_the_journal_did_not_connect_is_not_the_journal(
    stream: TextIO, value: str | None
) -> None:
    # A child whose stderr was redirected inherits JOURNAL_STREAM but not the stream.
    env = {} if value is None else {"JOURNAL_STREAM": value}
    assert not stderr_is_journal(stream, env)


@pytest.mark.usefixtures("restore_logging")
def test_under_the_journal_each_line_carries_its_priority(
    stream: TextIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(stream))
    configure_logging("DEBUG", "plain", stream)
    log_one_of_each()
    assert written(stream) == [
        "<7>DEBUG syncd.daemon.service: idle cycle",
        "<6>INFO syncd.daemon.service: reconcile: 3 new",
        "<4>WARNING syncd.daemon.service: the pullstory settings take effect when syncd restarts",
        "<3>ERROR syncd.daemon.service: incremental sync failed: the server answered 500",
    ]


@pytest.mark.usefixtures("restore_logging")
def test_a_traceback_keeps_its_priority_on_every_line(
    stream: TextIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(stream))
    configure_logging("INFO", "plain", stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("syncd.daemon.service").exception("incremental sync crashed")
    lines = written(stream)
    assert len(lines) > 3
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


@pytest.mark.usefixtures("restore_logging")
def test_elsewhere_the_plain_lines_stay(stream: TextIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    configure_logging("INFO", "plain", stream)
    log_one_of_each()
    assert written(stream) == [
        "INFO syncd.daemon.service: reconcile: 3 new",
        "WARNING syncd.daemon.service: the pullstory settings take effect when syncd restarts",
        "ERROR syncd.daemon.service: incremental sync failed: the server answered 500",
    ]


@pytest.mark.usefixtures("restore_logging")
def test_a_stream_redirected_away_from_the_journal_gets_plain_lines(
    stream: TextIO, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "journal").open("w") as journal:
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(journal))
        configure_logging("INFO", "plain", stream)
        logging.getLogger("syncd").info("reconcile: 3 new")
    assert written(stream) == ["INFO syncd: reconcile: 3 new"]


@pytest.mark.usefixtures("restore_logging")
def test_at_info_the_scheduler_says_nothing_routine(stream: TextIO) -> None:
    configure_logging("INFO", "plain", stream)
    scheduler = logging.getLogger("apscheduler.scheduler")
    logging.getLogger("apscheduler.executors.default").info('Running job "Daemon._job"')
    scheduler.warning(SKIPPED)
    scheduler.warning("Run time of job %r was missed by %s", "Daemon._job", "0:00:03")
    scheduler.error("Error adding job")  # trouble still shows
    assert written(stream) == ["ERROR apscheduler.scheduler: Error adding job"]


@pytest.mark.usefixtures("restore_logging")
def test_at_debug_the_scheduler_notes_show_as_debug(stream: TextIO) -> None:
    configure_logging("DEBUG", "plain", stream)
    logging.getLogger("apscheduler.executors.default").info('Running job "Daemon._job"')
    logging.getLogger("apscheduler.scheduler").warning(SKIPPED)
    assert written(stream) == [
        'DEBUG apscheduler.executors.default: Running job "Daemon._job"',
        f"DEBUG apscheduler.scheduler: {SKIPPED}",
    ]
