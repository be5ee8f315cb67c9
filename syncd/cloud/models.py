"""SpecStory Cloud payloads, validated at the edge so nothing above trusts raw JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

T = TypeVar("T", bound=BaseModel)


class _Payload(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SessionMetadata(_Payload):
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
    id: str = Field(min_length=1)
    name: str = ""
    created_at: str | None = None
    updated_at: str | None = None

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
    id: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    name: str = ""
    markdown_size: int | None = Field(default=None, ge=0)
    raw_data_size: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    metadata: SessionMetadata = Field(default_factory=SessionMetadata)
    etag: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _null_name(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _null_metadata(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("etag", mode="before")
    @classmethod
    def _usable_etag(cls, value: object) -> str | None:
        return valid_etag(value)


@dataclass(frozen=True)
class ItemError:
    """One entry of a listing that could not be understood; the rest of the listing is kept."""

    position: int
    item_id: str | None
    problem: str
    fingerprint: str = ""  # sha256 of the item as sent: the same broken item, or a new one


@dataclass(frozen=True)
class SessionListing:
    project_id: str
    sessions: list[SessionSummary]
    etag: str | None
    errors: list[ItemError] = field(default_factory=list)


def parse_items(model: type[T], items: list[object]) -> tuple[list[T], list[ItemError]]:
    """Validate each item on its own, so one malformed entry does not hide the others."""
    parsed: list[T] = []
    errors: list[ItemError] = []
    for position, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            item_id = item.get("id") if isinstance(item, dict) else None
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            errors.append(
                ItemError(
                    position,
                    str(item_id) if item_id else None,
                    f"{where}: {first['msg']}",
                    _fingerprint(item),
                )
            )
    return parsed, errors


def _fingerprint(item: object) -> str:
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def strip_weak(etag: str) -> str:
    etag = etag.strip()
    return etag[2:] if etag.startswith(("W/", "w/")) else etag


def etags_match(left: str | None, right: str | None) -> bool:
    """Weak comparison (RFC 9110 8.8.3): W/"x" matches "x"; a missing tag matches nothing."""
    if not left or not right:
        return False
    return strip_weak(left) == strip_weak(right)
