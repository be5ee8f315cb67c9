"""A session body on its way from the server: streamed in chunks, its size checked as the
bytes arrive, a broken transfer translated into syncd's errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from syncd.cloud.models import valid_etag
from syncd.errors import BadResponseError, BodySizeError, TransferInterruptedError

CHUNK_BYTES = 64 * 1024


class SessionBody:
    """An open session download. Iterate `chunks()` once; sizes are checked as bytes arrive."""

    def __init__(
        self, response: httpx.Response, session_id: str, url: str, expected_size: int | None
    ) -> None:
        self.etag: str | None = valid_etag(response.headers.get("etag"))
        self.content_length = int_header(response.headers.get("content-length"))
        self.expected_size = expected_size if expected_size is not None else self.content_length
        self.received = 0
        self._response = response
        self._session_id = session_id
        self._url = url

    def chunks(self) -> Iterator[bytes]:
        encoding = self._response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise BadResponseError(self._url, f"body sent with Content-Encoding {encoding!r}")
        expected = self.expected_size
        if (
            expected is not None
            and self.content_length is not None
            and self.content_length != expected
        ):
            # Announced size disagrees with the listing: do not download a wrong body.
            raise BodySizeError(self._session_id, expected, self.content_length)
        try:
            for chunk in self._response.iter_raw(CHUNK_BYTES):
                self.received += len(chunk)
                if expected is not None and self.received > expected:
                    raise BodySizeError(self._session_id, expected, self.received)
                yield chunk
        except httpx.HTTPError as exc:
            if expected is not None:
                raise BodySizeError(self._session_id, expected, self.received) from exc
            raise TransferInterruptedError(self._url, describe_error(exc)) from exc
        if expected is not None and self.received != expected:
            raise BodySizeError(self._session_id, expected, self.received)


def int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def describe_error(exc: Exception) -> str:
    """One line about an httpx failure, never quoting our own request (its headers)."""
    if isinstance(exc, httpx.LocalProtocolError):
        # Raised about our own request, and its text can quote our headers (the key).
        return "the request could not be sent (LocalProtocolError)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
