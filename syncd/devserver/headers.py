"""Reading request headers: If-None-Match (weak comparison), Accept, Authorization."""

from __future__ import annotations

import hmac
import re

_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"|[^\s,]+')


def entity_tags(if_none_match: str) -> list[str]:
    """The entity tags of an If-None-Match value: a comma-separated list, or `*`."""
    return _ENTITY_TAG.findall(if_none_match)


def _opaque(tag: str) -> str:
    """The opaque part of a tag, for weak comparison (RFC 9110 §8.8.3.2): W/"x" equals "x"."""
    tag = tag.removeprefix("W/")
    if len(tag) >= 2 and tag.startswith('"') and tag.endswith('"'):
        return tag[1:-1]
    return tag


def none_match_hits(if_none_match: str | None, etag: str) -> bool:
    """True when the request's If-None-Match names `etag` (weakly) or is `*`: answer 304."""
    if if_none_match is None:
        return False
    wanted = _opaque(etag)
    return any(tag == "*" or _opaque(tag) == wanted for tag in entity_tags(if_none_match))


def wants_markdown(accept: str | None) -> bool:
    """True when Accept prefers text/markdown over application/json (JSON is the default).

    Wildcards do not count: `text/markdown, */*` asks for Markdown.
    """
    if not accept:
        return False
    markdown_q = json_q = 0.0
    for media_range in accept.split(","):
        media, _, params = media_range.partition(";")
        quality = _quality(params)
        media = media.strip().lower()
        if media == "text/markdown":
            markdown_q = max(markdown_q, quality)
        elif media == "application/json":
            json_q = max(json_q, quality)
    return markdown_q > 0 and markdown_q >= json_q


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def bearer_matches(authorization: str | None, api_key: str) -> bool:
    """True when the Authorization header is `Bearer <api_key>` (scheme case-insensitive)."""
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), api_key.encode())
