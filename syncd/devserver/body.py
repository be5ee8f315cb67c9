"""Session Markdown held once in memory and streamed out, raw or JSON-escaped, without copies.

A huge session is a head, a block repeated many times and a tail, so a 200 MB body costs a
few kilobytes of memory and every request streams it piece by piece.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


def json_escape(text: bytes) -> bytes:
    """The UTF-8 bytes that go between the quotes of a JSON string holding `text`."""
    decoded = text.decode("utf-8", errors="replace")
    return json.dumps(decoded, ensure_ascii=False)[1:-1].encode("utf-8")


class MarkdownBody(ABC):
    """Markdown content: its byte size, a content fingerprint, and its bytes as pieces."""

    @property
    @abstractmethod
    def size(self) -> int:
        """UTF-8 byte length: what `markdownSize` announces."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Hex digest that changes whenever the content changes."""

    @abstractmethod
    def pieces(self) -> Iterator[bytes]:
        """The raw bytes in order; each piece is valid UTF-8 on its own."""

    @abstractmethod
    def json_escaped(self) -> tuple[int, Iterable[bytes]]:
        """Length and pieces of the content escaped for the inside of a JSON string."""

    def read_all(self) -> bytes:
        """The whole content as one bytes object (for small bodies and tests)."""
        return b"".join(self.pieces())


@dataclass(frozen=True)
class BytesBody(MarkdownBody):
    """Content held as one bytes object (seeded files, uploads, small synthetic sessions)."""

    data: bytes
    _digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_digest", hashlib.sha1(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def fingerprint(self) -> str:
        return self._digest

    def pieces(self) -> Iterator[bytes]:
        yield self.data

    def json_escaped(self) -> tuple[int, Iterable[bytes]]:
        escaped = json_escape(self.data)
        return len(escaped), (escaped,)


@dataclass(frozen=True)
class RepeatedBody(MarkdownBody):
    """`head + block * count + tail`: big content with a small memory footprint."""

    head: bytes
    block: bytes
    count: int
    tail: bytes
    _escaped: tuple[bytes, bytes, bytes] = field(init=False, repr=False, compare=False)
    _digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        escaped = (json_escape(self.head), json_escape(self.block), json_escape(self.tail))
        object.__setattr__(self, "_escaped", escaped)
        digest = hashlib.sha1()
        for part in (self.head, self.block, str(self.count).encode(), self.tail):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        object.__setattr__(self, "_digest", digest.hexdigest())

    @property
    def size(self) -> int:
        return len(self.head) + len(self.block) * self.count + len(self.tail)

    @property
    def fingerprint(self) -> str:
        return self._digest

    def pieces(self) -> Iterator[bytes]:
        return _repeat(self.head, self.block, self.count, self.tail)

    def json_escaped(self) -> tuple[int, Iterable[bytes]]:
        head, block, tail = self._escaped
        length = len(head) + len(block) * self.count + len(tail)
        return length, _RepeatedPieces(head, block, self.count, tail)


@dataclass(frozen=True)
class _RepeatedPieces:
    """A re-iterable view of `head + block * count + tail`."""

    head: bytes
    block: bytes
    count: int
    tail: bytes

    def __iter__(self) -> Iterator[bytes]:
        return _repeat(self.head, self.block, self.count, self.tail)


def _repeat(head: bytes, block: bytes, count: int, tail: bytes) -> Iterator[bytes]:
    if head:
        yield head
    for _ in range(count):
        yield block
    if tail:
        yield tail
