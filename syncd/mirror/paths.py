"""Names in the mirror tree, computed from untrusted session and project names.

Pure: no file-system access and no clock. Every function takes any ``str`` and
returns a name that is safe to create inside the mirror root, or raises a clear
error. Generated names are ASCII, never start with ``.`` (so they can never be
``.git``, ``.syncd``, ``.trash`` or ``..``) and never contain ``/`` or NUL.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath

from anyascii import anyascii

from syncd.errors import UnsafePathError
from syncd.mirror.names import local_copy_suffix

# The writer appends a temporary suffix of at most this many bytes while a file is
# being written, so final names leave room for it under the 255-byte name limit.
TEMP_SUFFIX_BYTES = 32
NAME_MAX_BYTES = 255
SESSION_FILENAME_MAX_BYTES = NAME_MAX_BYTES - TEMP_SUFFIX_BYTES
SLUG_MAX_BYTES = 80
UNTITLED = "untitled"
UNDATED = "undated"
MIRROR_ROOT_LABEL = "<mirror root>"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Symbols that carry meaning in names are spelled out ("Read @README.md" -> "read-at-readme-md").
_SPELLED_OUT = str.maketrans({"@": " at ", "&": " and "})
# Transliterations mark soft signs and syllable breaks with quotes ("Альфа" -> "Al'fa"):
# dropped inside a word, where a separator would split it ("alfa", not "al-fa").
_TRANSLIT_MARKS = str.maketrans("", "", "'`")
_TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HASH_HEX = 8
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{n}" for n in range(1, 10)}
    | {f"lpt{n}" for n in range(1, 10)}
)


def slugify(name: str, max_bytes: int = SLUG_MAX_BYTES) -> str:
    """Return an ASCII slug of ``name``: ``[a-z0-9]`` runs joined by single ``-``.

    Other scripts are transliterated (``Проект Альфа`` -> ``proekt-alfa``,
    ``日本語`` -> ``ribenyu``, emoji by their names), accents are folded (``Café``
    -> ``cafe``), ``@`` and ``&`` are spelled out (``at``, ``and``), and everything
    else that is not an ASCII letter or digit becomes a separator. The result is at
    most ``max_bytes`` long (cut at a ``-`` when that keeps at least half the budget),
    never empty (``untitled``, cut to ``max_bytes`` if needed) and never starts or ends
    with ``-``.
    Slugifying a slug returns it unchanged.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
    # Decompose before and after casefolding: each can expose what the other folds.
    decomposed = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", _latin(name)).casefold()
    )
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = folded.translate(_SPELLED_OUT)
    slug = _NOT_SLUG.sub("-", folded).strip("-")
    if len(slug) > max_bytes:
        slug = _cut_at_separator(slug, max_bytes)
    return slug or UNTITLED[:max_bytes]


def _latin(name: str) -> str:
    """`name` with every non-ASCII character transliterated (on the text as given: Hangul
    syllables read better whole than decomposed), each on its own, so an ASCII quote the
    name itself holds still separates words (``don't`` -> ``don-t`` as before)."""
    if name.isascii():
        return name
    return "".join(ch if ch.isascii() else _transliterated(ch) for ch in name)


def _transliterated(ch: str) -> str:
    return anyascii(ch).translate(_TRANSLIT_MARKS)


def _cut_at_separator(slug: str, max_bytes: int) -> str:
    """Cut an ASCII slug to ``max_bytes``, preferring a word boundary."""
    if slug[max_bytes] == "-":
        return slug[:max_bytes].rstrip("-")
    head = slug[:max_bytes]
    boundary = head.rfind("-")
    # A boundary near the start would throw most of the name away: cut mid-word instead.
    if boundary >= max_bytes // 2:
        head = head[:boundary]
    return head.rstrip("-")


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (no zone means UTC); None when absent,
    unreadable or out of range."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def id_tag(session_id: str, length: int = 8) -> str:
    """Return a short, stable, file-name-safe tag for an id.

    Normally the first ``length`` characters of the id. When those are not all
    ``[A-Za-z0-9_-]`` or the id is shorter, the id's safe characters (at most
    ``length``) followed by ``-`` and the first 8 hex digits of its SHA-256,
    so hostile ids (``../x``, ``a/b``, empty, NUL) still get distinct tags. The
    two forms never coincide: the hashed form is always longer than ``length``.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    head = session_id[:length]
    if len(head) == length and all(ch in _TAG_CHARS for ch in head):
        return head
    safe = "".join(ch for ch in session_id if ch in _TAG_CHARS)[:length]
    # surrogatepass encodes every str, lone surrogates included, injectively.
    digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{safe}-{digest[:_HASH_HEX]}"


def format_stamp(when: datetime | None) -> str:
    """Return ``YYYY-MM-DD_HH-mm-ssZ`` in UTC; naive times are taken as UTC; None -> ``undated``.

    Sub-second digits are dropped. An aware time whose UTC equivalent falls
    outside the years 1-9999 is clamped to the nearest representable second.
    """
    if when is None:
        return UNDATED
    if when.tzinfo is None or when.utcoffset() is None:
        utc = when.replace(tzinfo=UTC)
    else:
        try:
            utc = when.astimezone(UTC)
        except OverflowError:
            utc = (datetime.min if when.year == datetime.min.year else datetime.max).replace(
                tzinfo=UTC
            )
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}_"
        f"{utc.hour:02d}-{utc.minute:02d}-{utc.second:02d}Z"
    )


def session_filename(
    when: datetime | None,
    name: str,
    tag: str,
    *,
    max_bytes: int = SESSION_FILENAME_MAX_BYTES,
) -> str:
    """Return ``<stamp>-<slug>-<tag>.md``, at most ``max_bytes`` bytes long.

    ``tag`` is an :func:`id_tag`; the slug of ``name`` gets whatever bytes the
    stamp, the tag and the separators leave. The default ``max_bytes`` leaves
    :data:`TEMP_SUFFIX_BYTES` for the writer's temporary suffix.
    """
    _require_tag(tag)
    stamp = format_stamp(when)
    suffix = f"-{tag}.md"
    budget = max_bytes - len(stamp) - 1 - len(suffix)
    if budget < 1:
        raise ValueError(
            f"max_bytes={max_bytes} leaves no room for a slug next to {stamp!r} and {suffix!r}"
        )
    return f"{stamp}-{slugify(name, budget)}{suffix}"


def project_dirname(name: str, tag: str | None = None) -> str:
    """Return the folder name for a project: its slug, plus ``-<tag>`` when a tag is given.

    Callers pass a tag (e.g. an :func:`id_tag` of the project id) when two
    projects would otherwise share a folder. Windows device names (``con``,
    ``nul``, ``com1`` ...) get ``-project`` appended so the tree can be copied
    to Windows.
    """
    slug = slugify(name, SLUG_MAX_BYTES)
    if slug.split(".", 1)[0] in _WINDOWS_DEVICES:
        slug = f"{slug}-project"
    if tag is None:
        return slug
    _require_tag(tag)
    return f"{slug}-{tag}"


def free_project_dirname(
    name: str, project_id: str, taken: set[str], preferred: Iterable[str] = ()
) -> str:
    """The first of `preferred`, the project's slug, then the slug tagged with its id, that
    `taken` (case-folded folder names) does not hold; the caller adds it to `taken`."""
    tag = id_tag(project_id)
    candidates = itertools.chain(
        preferred,
        [project_dirname(name), project_dirname(name, tag)],
        (project_dirname(name, f"{tag}-{n}") for n in itertools.count(2)),
    )
    return next(d for d in candidates if d.casefold() not in taken)


def _require_tag(tag: str) -> None:
    """A tag is pasted into a name verbatim, so it must already be file-name safe."""
    if not tag or not all(ch in _TAG_CHARS for ch in tag):
        raise UnsafePathError(tag, MIRROR_ROOT_LABEL)


def check_relative(rel: str) -> PurePosixPath:
    """Return ``rel`` as a PurePosixPath if it is a safe, canonical path below the mirror root.

    Rejected with :class:`~syncd.errors.UnsafePathError`: empty paths,
    absolute paths, backslashes, NUL, characters that cannot be encoded as
    UTF-8, empty components (``a//b``, trailing ``/``), ``.`` and ``..``
    components, and components longer than 255 bytes.
    """
    if not _is_safe_relative(rel):
        raise UnsafePathError(rel, MIRROR_ROOT_LABEL)
    return PurePosixPath(rel)


def _is_safe_relative(rel: str) -> bool:
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return False
    try:
        encoded = rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(
        part not in (b"", b".", b"..") and len(part) <= NAME_MAX_BYTES
        for part in encoded.split(b"/")
    )


def local_copy_name(filename: str, when: datetime, number: int = 1) -> str:
    """The name a user's edited copy is kept under: ``<stem>.local-<YYYYmmddTHHMMSSZ>.md``
    (``...Z-<number>.md`` from the second copy made in the same second on).

    The stem is shortened when needed so the name still fits the 255-byte limit.
    """
    stem = filename[:-3] if filename.endswith(".md") else filename
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = local_copy_suffix(stamp, number)
    budget = SESSION_FILENAME_MAX_BYTES - len(suffix)
    encoded = stem.encode("utf-8")[:budget]
    return encoded.decode("utf-8", errors="ignore") + suffix
