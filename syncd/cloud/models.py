"""SpecStory Cloud payloads, validated at the edge so nothing above trusts raw JSON.

This is the API mapping: the one place the API's key names (`clientName`, `llmModels`)
meet syncd's session model, which `SessionSummary.to_session` turns a summary into."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from syncd.model import Session, SessionMetadata

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_UTF8 = "holds a lone surrogate (valid in JSON, impossible in UTF-8)"


def repaired(text: str) -> str:
    """The text with each lone surrogate (JSON allows "\\ud800", UTF-8 cannot carry it)
    replaced by U+FFFD, so it can go into a file name, the index or a log line."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def printable(text: str) -> str:
    """The text with each lone surrogate spelled out (`\\ud800`): how an id that cannot be
    stored is named in an error, telling it apart from its neighbours."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _repair_all(value: object) -> object:
    if isinstance(value, str):
        return repaired(value)
    if isinstance(value, list):
        return [_repair_all(item) for item in value]
    if isinstance(value, dict):
        return {key: _repair_all(item) for key, item in value.items()}
    return value


class _Payload(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
    # Keys that name an item are refused when UTF-8 cannot carry them, never repaired: a
    # repaired id would name another item (or no item) in the next request.
    _identities: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _repair_text(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {
            key: item if key in cls._identities else _repair_all(item)
            for key, item in value.items()
        }


def _utf8_identity(value: object) -> object:
    # Before the str check, whose own message ("unable to parse raw data") says less.
    if isinstance(value, str) and _LONE_SURROGATE.search(value):
        raise ValueError(NOT_UTF8)
    return value


class MetadataPayload(_Payload):
    """A summary's `metadata` object as the API sends it."""

    client_name: str | None = None
    client_version: str | None = None
    agent_name: str | None = None
    device_id: str | None = None
    git_branches: list[str] = Field(default_factory=list)
    llm_models: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @field_validator("git_branches", "llm_models", "tags", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class Project(_Payload):
    _identities: ClassVar[frozenset[str]] = frozenset({"id"})

    id: str = Field(min_length=1)
    name: str = ""
    created_at: str | None = None
    updated_at: str | None = None

    _utf8_id = field_validator("id", mode="before")(_utf8_identity)

    @field_validator("name", mode="before")
    @classmethod
    def _null_name(cls, value: object) -> object:
        return "" if value is None else value


#: Longest ETag kept: the index stores at most this many characters.
MAX_ETAG_LENGTH = 255


def valid_etag(value: object) -> str | None:
    """The ETag when it can be stored and sent back in If-None-Match (printable ASCII, no
    spaces, at most 255 characters); None otherwise, so a bad one costs a download, never
    a crash."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not 0 < len(value) <= MAX_ETAG_LENGTH:
        return None
    if any(not "\x21" <= ch <= "\x7e" for ch in value):
        return None
    return value


class SessionSummary(_Payload):
    _identities: ClassVar[frozenset[str]] = frozenset({"id", "projectId", "project_id"})

    id: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    client_id: str | None = None
    name: str = ""
    markdown_size: int | None = Field(default=None, ge=0)
    raw_data_size: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    metadata: MetadataPayload = Field(default_factory=MetadataPayload)
    etag: str | None = None

    _utf8_ids = field_validator("id", "project_id", mode="before")(_utf8_identity)

    @field_validator("name", mode="before")
    @classmethod
    def _null_name(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("client_id", mode="before")
    @classmethod
    def _text_or_unknown(cls, value: object) -> object:
        # Shown, never used to decide: one of another type is no reason to skip the session.
        return value if isinstance(value, str) else None

    @field_validator("metadata", mode="before")
    @classmethod
    def _null_metadata(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("etag", mode="before")
    @classmethod
    def _usable_etag(cls, value: object) -> str | None:
        return valid_etag(value)

    def to_session(self) -> Session:
        """The session this summary describes, in syncd's model."""
        meta = self.metadata
        return Session(
            id=self.id,
            project_id=self.project_id,
            client_id=self.client_id,
            name=self.name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            markdown_size=self.markdown_size,
            raw_data_size=self.raw_data_size,
            metadata=SessionMetadata(
                client_name=meta.client_name,
                client_version=meta.client_version,
                agent_name=meta.agent_name,
                device_id=meta.device_id,
                git_branches=tuple(meta.git_branches),
                llm_models=tuple(meta.llm_models),
                tags=tuple(meta.tags),
            ),
            etag=self.etag,
        )


@dataclass(frozen=True)
class ItemError:
    """One entry of a listing that could not be understood; the rest of the listing is kept."""

    position: int
    item_id: str | None  # printable: a lone surrogate is spelled out
    problem: str
    fingerprint: str = ""  # sha256 of the item as sent: the same broken item, or a new one


@dataclass(frozen=True)
class ListCount:
    """How many items a listing says it holds (`total`, when it says) and how many distinct
    ones arrived, after every page."""

    total: int | None = None
    arrived: int = 0

    @property
    def missing(self) -> int:
        """Items the cloud counts but did not send: a listing missing any is incomplete."""
        return 0 if self.total is None else max(0, self.total - self.arrived)


@dataclass(frozen=True)
class SessionListing:
    project_id: str
    sessions: list[Session]
    etag: str | None
    errors: list[ItemError] = field(default_factory=list)
    count: ListCount = field(default_factory=ListCount)


@dataclass(frozen=True)
class ProjectListing:
    projects: list[Project]
    errors: list[ItemError] = field(default_factory=list)
    count: ListCount = field(default_factory=ListCount)


#: Project fields the server sets to "now" on every request: never a difference.
PROJECT_VOLATILE = frozenset({"createdAt", "updatedAt"})

Item = TypeVar("Item", Project, SessionSummary)


def parse_items(
    model: type[Item], items: list[object], *, volatile: Collection[str] = ()
) -> tuple[list[Item], list[ItemError], int]:
    """Validate each item on its own, so one malformed entry does not hide the others.

    An id listed more than once is kept once when every copy says the same (`volatile`
    keys aside); when the copies differ it is left out with an item error (which copy is
    the cloud's is unknown). Also returns how many distinct items arrived.
    """
    copies: dict[str, list[str]] = {}
    first: dict[str, tuple[int, Item]] = {}
    broken: dict[str, ItemError] = {}  # by fingerprint: the same broken item once
    distinct: set[tuple[str, str]] = set()
    for position, item in enumerate(items):
        fingerprint = _fingerprint(item, volatile)
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            error = _item_error(position, item, exc, fingerprint)
            broken.setdefault(fingerprint, error)
            raw_id = item.get("id") if isinstance(item, dict) else None
            distinct.add(("id", raw_id) if isinstance(raw_id, str) else ("item", fingerprint))
            continue
        copies.setdefault(parsed.id, []).append(fingerprint)
        first.setdefault(parsed.id, (position, parsed))
        distinct.add(("id", parsed.id))
    broken_ids = {e.item_id for e in broken.values() if e.item_id is not None}
    parsed_items: list[Item] = []
    errors = list(broken.values())
    for ident, (position, parsed) in first.items():
        prints = copies[ident]
        if len(set(prints)) == 1 and printable(ident) not in broken_ids:
            parsed_items.append(parsed)
            continue
        count = len(prints) + sum(1 for e in broken.values() if e.item_id == printable(ident))
        problem = (
            f"listed {count} times with different content; left as it is until the "
            "cloud lists it once"
        )
        digest = hashlib.sha256("".join(sorted(prints)).encode()).hexdigest()
        errors.append(ItemError(position, printable(ident), problem, digest))
    errors.sort(key=lambda e: e.position)
    return parsed_items, errors, len(distinct)


def _item_error(position: int, item: object, exc: ValidationError, fingerprint: str) -> ItemError:
    item_id = item.get("id") if isinstance(item, dict) else None
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    shown = printable(str(item_id)) if item_id else None
    return ItemError(position, shown, f"{where}: {first['msg']}", fingerprint)


def _fingerprint(item: object, volatile: Collection[str] = ()) -> str:
    if volatile and isinstance(item, dict):
        item = {key: value for key, value in item.items() if key not in volatile}
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=False, default=repr)
    # surrogatepass: an item may hold a lone surrogate; it is still the same item.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def strip_weak(etag: str) -> str:
    etag = etag.strip()
    return etag[2:] if etag.startswith(("W/", "w/")) else etag


def etags_match(left: str | None, right: str | None) -> bool:
    """Weak comparison (RFC 9110 8.8.3): W/"x" matches "x"; a missing tag matches nothing."""
    if not left or not right:
        return False
    return strip_weak(left) == strip_weak(right)
