"""Logging set-up, once, at start-up: plain lines, journald lines, or JSON.

Plain lines carry no timestamp: journald and Docker add their own. Under systemd with
stderr connected to the journal, each line starts with its sd-daemon priority (`<4>` for a
warning), so `journalctl -p warning` can filter them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"

# sd-daemon(3) priorities: what journald files each line under.
JOURNAL_PRIORITIES = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
JOURNAL_DEBUG = 7

# The scheduler's own lines say what syncd's say better (its INFO lines: twice per job).
SCHEDULER_LOGGER = "apscheduler"
# A cycle that outlasts its interval delays the next one: the scheduler calls that a skipped
# or missed run, which is the design, not a problem worth a warning.
SCHEDULER_ROUTINE = (
    "maximum number of running instances reached",
    "was missed by",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class JournalFormatter(logging.Formatter):
    """The plain line with its journald priority in front of every line it spans (journald
    reads each line of the stream as an entry of its own: a traceback keeps its priority)."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def journal_priority(levelno: int) -> int:
    """The sd-daemon priority of a logging level: 3 error, 4 warning, 6 info, 7 debug."""
    for threshold, priority in JOURNAL_PRIORITIES:
        if levelno >= threshold:
            return priority
    return JOURNAL_DEBUG


def stderr_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journal connection systemd gave this service.

    systemd sets JOURNAL_STREAM=<device>:<inode> of the stream it connected; a child whose
    stderr was redirected elsewhere (a pipe, a file) inherits the variable but not the
    stream, so the numbers must match the stream's own.
    """
    env = os.environ if environ is None else environ
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(stream.fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (ValueError, OSError, AttributeError):
        return False


class SchedulerNoise(logging.Filter):
    """Scheduler lines at DEBUG unless they are trouble: its INFO lines and its notes
    about a run skipped because the previous one still runs become DEBUG lines."""

    def __init__(self, root: logging.Logger) -> None:
        super().__init__()
        self._root = root

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(SCHEDULER_LOGGER):
            return True
        routine = record.levelno < logging.WARNING or (
            record.levelno == logging.WARNING
            and any(phrase in record.getMessage() for phrase in SCHEDULER_ROUTINE)
        )
        if routine:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self._root.getEffectiveLevel()


def configure_logging(level: str, log_format: str, stream: TextIO | None = None) -> None:
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif stderr_is_journal(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    handler.addFilter(SchedulerNoise(root))
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request and Alembic every step at INFO; syncd reports its own.
    # Their warnings still show.
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The scheduler's records are only made when they can be shown (see SchedulerNoise).
    debugging = root.getEffectiveLevel() <= logging.DEBUG
    logging.getLogger(SCHEDULER_LOGGER).setLevel(logging.DEBUG if debugging else logging.WARNING)
