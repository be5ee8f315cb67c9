"""A session body on its way from the server: streamed in chunks, its size checked as the
bytes arrive, a broken transfer translated into syncd's errors.

Content-Length is what proves a body complete (the API's `markdownSize` has no stated
unit): a body that does not match it fails; one that does not match the listing's size
only earns a warning. A body with no Content-Length is complete when the transfer ends
cleanly, and is never longer than max_body_bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx

from syncd.cloud.headers import count
from syncd.cloud.models import valid_etag
from syncd.errors import (
    BadResponseError,
    BodySizeError,
    BodyTooLargeError,
    TransferInterruptedError,
)

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024
"""The largest session body downloaded unless told otherwise (real ones reach tens of MB)."""
# A Content-Length with more digits than this is not one syncd could ever accept anyway.
_MAX_CONTENT_LENGTH = 2**63


class SessionBody:
    """An open session download. Iterate `chunks()` once; sizes are checked as bytes arrive."""

    def __init__(
        self,
        response: httpx.Response,
        session_id: str,
        url: str,
        *,
        listed_size: int | None,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.etag: str | None = valid_etag(response.headers.get("etag"))
        self.content_length = count(response.headers.get("content-length"), _MAX_CONTENT_LENGTH)
        self.listed_size = listed_size
        self.max_bytes = max_bytes
        self.received = 0
        self._response = response
        self.session_id = session_id
        self._url = url

    def chunks(self) -> Iterator[bytes]:
        encoding = self._response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise BadResponseError(self._url, f"body sent with Content-Encoding {encoding!r}")
        announced = self.content_length
        if announced is not None and announced > self.max_bytes:
            raise BodyTooLargeError(self.session_id, self.max_bytes, announced, announced=True)
        try:
            for chunk in self._response.iter_raw(CHUNK_BYTES):
                self.received += len(chunk)
                self._check_length()
                yield chunk
        except httpx.HTTPError as exc:
            if announced is not None:
                raise BodySizeError(self.session_id, announced, self.received) from exc
            raise TransferInterruptedError(self._url, describe_error(exc)) from exc
        if announced is not None and self.received != announced:
            raise BodySizeError(self.session_id, announced, self.received)
        if self.listed_size is not None and self.listed_size != self.received:
            logger.warning(
                "session %s: the listing said markdownSize %d, the body has %d bytes (%s); "
                "kept the body",
                self.session_id,
                self.listed_size,
                self.received,
                "as its Content-Length said" if announced is not None else "ended cleanly",
            )

    @property
    def short_of_listing(self) -> bool:
        """Fewer bytes than the listing's markdownSize: no unit a size could be counted in
        (bytes, characters, UTF-16 units) is larger than the body's byte length, so this is
        the one mismatch a cut body (a Content-Length that lied) would show."""
        return self.listed_size is not None and self.received < self.listed_size

    def _check_length(self) -> None:
        """No more bytes than Content-Length announced (a protocol error), nor than
        max_bytes when nothing was announced."""
        announced = self.content_length
        if announced is not None and self.received > announced:
            raise BodySizeError(self.session_id, announced, self.received)
        if announced is None and self.received > self.max_bytes:
            raise BodyTooLargeError(self.session_id, self.max_bytes, self.received, announced=False)


def describe_error(exc: Exception) -> str:
    """One line about an httpx failure, never quoting our own request (its headers)."""
    if isinstance(exc, httpx.LocalProtocolError):
        # Raised about our own request, and its text can quote our headers (the key).
        return "the request could not be sent (LocalProtocolError)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
