"""One exception tree. Each error builds its message from typed fields and carries an exit code."""

from __future__ import annotations

import re
from datetime import UTC, datetime

EXIT_OK = 0
EXIT_ITEMS_FAILED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_UNAVAILABLE = 4
EXIT_STORAGE = 5
EXIT_LOCKED = 6
EXIT_QUOTA = 7  # PullStory's video minutes are used up: pushing waits for them

# From "://" to the last "@" before the next whitespace: a password may itself hold an "@".
_URL_CREDENTIALS = re.compile(r"(://)\S*@")


def redact_url(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with any user name and password in a URL
    replaced by `***`: `https://bot:token@host/x` -> `https://***@host/x`."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


class SyncdError(Exception):
    """Base of every error syncd reports to the user as one line."""

    exit_code = EXIT_ITEMS_FAILED

    def __init__(self, message: str) -> None:
        # Whichever field a URL came from, no message shows the credentials it carried.
        message = redact_url(message)
        super().__init__(message)
        self.message = message


class ConfigError(SyncdError):
    """A setting is missing or invalid."""

    exit_code = EXIT_CONFIG

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"Configuration error in {setting}: {problem}")


class AuthError(SyncdError):
    """The API rejected the key (401)."""

    exit_code = EXIT_AUTH

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        super().__init__(
            f"API key rejected by {base_url}. Set SYNCD_API_KEY (or api_key_file / "
            "api_key_command) to a valid key."
        )


class CloudError(SyncdError):
    """A request to SpecStory Cloud failed; the affected item is retried on a later run."""

    exit_code = EXIT_UNAVAILABLE


class CloudUnavailableError(CloudError):
    """The server could not be reached or kept failing after bounded retries."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"SpecStory Cloud unavailable at {url}: {reason}")


class RateLimitedError(CloudError):
    """The server answered 429 and the wait it asked for is longer than we may wait now."""

    def __init__(self, url: str, retry_after: float) -> None:
        self.url = url
        self.retry_after = retry_after
        super().__init__(f"Rate limited by {url}; retry after {retry_after:.0f} s")


class BadResponseError(CloudError):
    """The server answered with something that does not follow the protocol."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"Unexpected response from {url}: {problem}")


class RequestNotSentError(CloudError):
    """A request could not even be built (a header value that cannot go on the wire)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Request to {url} not sent: {reason}")


class NotFoundError(CloudError):
    """The requested project or session does not exist (404)."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"Not found: {url}")


class BodySizeError(CloudError):
    """A session body's length did not match what the server announced."""

    def __init__(self, session_id: str, expected: int, received: int) -> None:
        self.session_id = session_id
        self.expected = expected
        self.received = received
        kind = "truncated" if self.truncated else "oversized"
        super().__init__(
            f"Session {session_id}: body {kind} ({received} bytes received, {expected} expected)"
        )

    @property
    def truncated(self) -> bool:
        return self.received < self.expected


class BodyTooLargeError(CloudError):
    """A session body is larger than the max_body_bytes setting allows."""

    def __init__(self, session_id: str, limit: int, size: int, *, announced: bool) -> None:
        self.session_id = session_id
        self.limit = limit
        self.size = size
        self.announced = announced
        what = f"announced as {size} bytes" if announced else f"went past {limit} bytes"
        super().__init__(
            f"Session {session_id}: body {what}, more than max_body_bytes ({limit}) allows; "
            "raise SYNCD_MAX_BODY_BYTES to mirror it"
        )


class TransferInterruptedError(CloudError):
    """The connection broke while a body of unknown length was streaming."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Transfer from {url} interrupted: {reason}")


class TransferTooSlowError(TransferInterruptedError):
    """A body arrived slower than min_transfer_bytes_per_second: the transfer was ended."""

    def __init__(self, url: str, received: int, seconds: float, min_rate: float) -> None:
        self.received = received
        self.seconds = seconds
        self.min_rate = min_rate
        super().__init__(
            url,
            f"{received} bytes in {seconds:.1f} s is slower than the minimum of "
            f"{min_rate:g} bytes/s (min_transfer_bytes_per_second)",
        )


class StaleListingError(CloudError):
    """The listing announced a version that the session itself says we already hold."""

    def __init__(self, session_id: str, listed_etag: str, held_etag: str | None) -> None:
        self.session_id = session_id
        self.listed_etag = listed_etag
        self.held_etag = held_etag
        super().__init__(
            f"Session {session_id}: listed as {listed_etag} but the server answered 304 for "
            f"{held_etag}; kept the mirrored version, will ask again next run"
        )


class UnsafePathError(SyncdError):
    """A computed path would leave the mirror root."""

    exit_code = EXIT_STORAGE

    def __init__(self, path: str, root: str) -> None:
        self.path = path
        self.root = root
        super().__init__(f"Refusing to write {path!r}: it is outside the mirror root {root}")


class LinkInPathError(UnsafePathError):
    """A folder or file on a mirror path is a symbolic link: syncd never follows one."""

    def __init__(self, path: str, link: str, root: str) -> None:
        self.path = path
        self.link = link
        self.root = root
        where = repr(path) if link == path else f"{link!r} on the way to {path!r}"
        SyncdError.__init__(
            self,
            f"Refusing to follow {where}: it is a symbolic link, and syncd never reads or "
            f"writes through a link below the mirror root {root}. Make it a real folder or "
            "file (or move it away), then sync again.",
        )


class ReservedPathError(UnsafePathError):
    """A mirror path names syncd's own folder (index, lock, outbox)."""

    def __init__(self, path: str, root: str) -> None:
        self.path = path
        self.root = root
        SyncdError.__init__(
            self,
            f"Refusing to touch {path!r}: .syncd/ in {root} is syncd's own folder, "
            "never a place for mirrored files",
        )


class NotAFileError(SyncdError):
    """Something other than a regular file (a FIFO, a socket, a device, a folder) sits
    where syncd reads a file; it is never opened for its contents."""

    exit_code = EXIT_STORAGE

    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.kind = kind
        super().__init__(
            f"{path!r} is {kind}, not a regular file: syncd only reads regular files; move it away"
        )


def driver_message(exc: BaseException) -> str:
    """A database error's first line, from the driver: without SQLAlchemy's SQL and
    parameter dump, which may hold a session's text."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


class StorageError(SyncdError):
    """The mirror folder or the index could not be written."""

    exit_code = EXIT_STORAGE

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"Cannot write {what}: {reason}")


class BudgetExhaustedError(CloudError):
    """The rate budget allows no more requests before `resume_at` (epoch seconds)."""

    def __init__(self, resume_at: float, wait: float) -> None:
        self.resume_at = resume_at
        self.wait = wait
        super().__init__(
            f"Rate budget spent: the next request may go in {wait:.0f} s; "
            "the remaining work waits for the reset"
        )


class StopRequested(SyncdError):
    """The daemon was asked to stop; the cycle ends after the item in hand."""

    def __init__(self) -> None:
        super().__init__("stopping on request")


class RootLockedError(SyncdError):
    """Another process owns the mirror root (holds its lock); `pid` is None when unreadable."""

    exit_code = EXIT_LOCKED

    def __init__(self, root: str, pid: int | None) -> None:
        self.root = root
        self.pid = pid
        who = "another syncd" if pid is None else f"another syncd (pid {pid})"
        super().__init__(f"{who} already owns {root}; stop it first or use a different SYNCD_ROOT")


class MirrorMissingError(SyncdError):
    """A command that reads the mirror found no folder at the configured root."""

    exit_code = EXIT_CONFIG

    def __init__(self, root: str) -> None:
        self.root = root
        super().__init__(f"No mirror at {root}: nothing to read. Check SYNCD_ROOT.")


class DriverMissingError(SyncdError):
    """SYNCD_DATABASE_URL names a database driver that is not installed."""

    exit_code = EXIT_CONFIG

    def __init__(self, url: str, driver: str) -> None:
        self.url = url
        self.driver = driver
        super().__init__(
            f"The index at {url} needs the {driver} driver, which is not installed: "
            "pip install 'syncd[postgres]' (psycopg 3, used by postgresql:// URLs)"
        )


class IndexOwnedError(SyncdError):
    """The index belongs to another mirror root: one database serves one root."""

    exit_code = EXIT_CONFIG

    def __init__(self, url: str, owner: str, root: str) -> None:
        self.url = url
        self.owner = owner
        self.root = root
        super().__init__(
            f"The index at {url} belongs to the mirror root {owner}, not {root}: give each "
            "root its own database (or PostgreSQL schema) in SYNCD_DATABASE_URL"
        )


class PullStoryError(SyncdError):
    """Talking to PullStory failed; the story is tried again later unless said otherwise."""

    exit_code = EXIT_UNAVAILABLE


class PullStoryAuthError(PullStoryError):
    exit_code = EXIT_AUTH

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        super().__init__(
            f"PullStory token rejected by {base_url}. Set SYNCD_PULLSTORY__API_KEY (or "
            "pullstory.api_key_file / api_key_command)."
        )


class PullStoryUnavailableError(PullStoryError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"PullStory unavailable at {url}: {reason}")


class PullStoryRateLimitedError(PullStoryError):
    def __init__(self, url: str, retry_after: float) -> None:
        self.url = url
        self.retry_after = retry_after
        super().__init__(f"PullStory rate limit reached at {url}; retry after {retry_after:.0f} s")


class PushWaitTimeoutError(PullStoryError):
    """`push --wait` ran out of time: PullStory kept failing (exit 4), or the story was
    simply not finished yet (exit 1). The story stays queued either way."""

    def __init__(self, seconds: float, status: str, last_error: str | None) -> None:
        self.seconds = seconds
        self.status = status
        self.last_error = last_error
        if last_error is not None:
            self.exit_code = EXIT_UNAVAILABLE
            message = (
                f"Gave up waiting after {seconds:.0f} s: PullStory kept failing "
                f"(last: {last_error}). The brief stays queued; `syncd run` or another "
                "`syncd push --wait` sends it later."
            )
        else:
            self.exit_code = EXIT_ITEMS_FAILED
            message = (
                f"The story is still {status} after {seconds:.0f} s; `syncd run` or another "
                "`syncd push --wait` follows it (a longer --timeout waits longer)."
            )
        super().__init__(message)


class BriefRejectedError(PullStoryError):
    """PullStory refused the brief as invalid: sending it again would not help."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.problem = message
        super().__init__(f"PullStory rejected the brief ({status}): {message}")


def utc_moment(epoch: float) -> str:
    """'2026-02-01 00:00 UTC': a moment in messages that outlive the terminal they met."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


class QuotaExhaustedError(PullStoryError):
    """No video minutes left this period (402): pushing pauses until the usage shows
    minutes; `resets_at` is the period's end (epoch seconds) when the usage said it."""

    exit_code = EXIT_QUOTA

    def __init__(
        self,
        remaining: float | None,
        required: float | None,
        upgrade_url: str | None,
        resets_at: float | None = None,
    ):
        self.remaining = remaining
        self.required = required
        self.upgrade_url = upgrade_url
        self.resets_at = resets_at
        need = f", {required:.3g} needed" if required is not None else ""
        resets = f" (the period resets on {utc_moment(resets_at)})" if resets_at else ""
        where = f"; more at {upgrade_url}" if upgrade_url else ""
        super().__init__(
            f"PullStory minutes used up ({remaining or 0:.3g} left{need}): pushing is paused "
            f"until the usage shows minutes again{resets}{where}"
        )


class PushPausedError(PullStoryError):
    """A brief waits for PullStory minutes (`reason` says why, and until when); `push
    --wait` ends at once with this instead of waiting for a new month."""

    exit_code = EXIT_QUOTA

    def __init__(self, reason: str, next_check: float | None) -> None:
        self.reason = reason
        self.next_check = next_check
        check = f" at {utc_moment(next_check)}" if next_check else ""
        super().__init__(
            f"{reason.rstrip('.')}. The brief stays queued: `syncd run` looks at the usage "
            f"again{check} and sends it once minutes are back, or run `syncd push` again."
        )


class NoBriefError(SyncdError):
    """A session cannot become a valid PullStory brief (e.g. it touches no file)."""

    def __init__(self, session: str, reason: str) -> None:
        self.session = session
        self.reason = reason
        super().__init__(f"No PullStory brief for {session}: {reason}")


class SessionNotFoundError(SyncdError):
    """An id, id prefix or path names no mirrored session (or more than one)."""

    exit_code = EXIT_CONFIG

    def __init__(self, wanted: str, problem: str) -> None:
        self.wanted = wanted
        self.problem = problem
        super().__init__(f"{wanted!r}: {problem}")


class StoryNotFoundError(PullStoryError):
    """PullStory does not know the story (404): following it further cannot help."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"PullStory has no story at {url}")


class SearchQueryError(SyncdError):
    """The search query cannot be understood; the message says what to change."""

    exit_code = EXIT_CONFIG

    def __init__(self, query: str, problem: str) -> None:
        self.query = query
        self.problem = problem
        super().__init__(
            f'Cannot search for {query!r}: {problem}. Quote phrases with "...", put * only '
            "at the end of a word, and write AND/OR/NOT between words."
        )


class SearchUnavailableError(SyncdError):
    """The index lives in a database without search (neither SQLite nor PostgreSQL)."""

    exit_code = EXIT_CONFIG

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        super().__init__(
            f"search needs SQLite or PostgreSQL; the index is on {dialect}. Point "
            "SYNCD_DATABASE_URL at a sqlite:/// file or a postgresql:// database to search."
        )
