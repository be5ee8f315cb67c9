"""The built-in demo: a local SpecStory-compatible server, seeded, for trying syncd
without an account, and `syncd devserver`'s server for demos and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from syncd.devserver import DevServer, ListingShape, serve
from syncd.devserver.listing_shape import CursorPlace, RecentShape
from syncd.errors import SyncdError

DEMO_SYNTHETIC_SESSIONS = 60
DEMO_PROJECTS = 4
DEMO_API_KEY = "demo-key"


def demo_server(corpus: Path | None) -> tuple[DevServer, str]:
    """A demo server (not started) seeded from `corpus` when it is a folder, else with
    synthetic sessions; and what it was seeded with, in words."""
    server = DevServer(api_key=DEMO_API_KEY, port=0, rate_limit=None)
    if corpus is not None and corpus.is_dir():
        server.seed_corpus_flat(corpus, projects=DEMO_PROJECTS)
        return server, f"the corpus in {corpus}"
    server.seed_synthetic(DEMO_SYNTHETIC_SESSIONS, DEMO_PROJECTS)
    return server, f"{DEMO_SYNTHETIC_SESSIONS} synthetic sessions"


def listing_shape(page_size: int | None, cursor_in: str, recent: str) -> ListingShape:
    """The listings' shape from `syncd devserver`'s options; ValueError names a bad one."""
    return ListingShape(
        page_size=page_size,
        cursor_in=cast(CursorPlace, cursor_in),  # checked by ListingShape
        recent=cast(RecentShape, recent),
    )


@dataclass(frozen=True)
class LocalServer:
    """`syncd devserver`'s options: where it listens, its limits, its listings' shape and
    what it is seeded with (a corpus folder, synthetic sessions, one huge session)."""

    port: int
    api_key: str
    rate_limit: int | None
    window_seconds: float
    shape: ListingShape
    corpus: Path | None = None
    synthetic: int = 0
    projects: int = 4
    huge_session_mb: int = 0


def run_devserver(options: LocalServer, *, started: Callable[[str, str], None]) -> None:
    """Build, seed and start the server, tell `started` its URL and key, and serve until
    interrupted."""
    server = DevServer(
        api_key=options.api_key,
        port=options.port,
        rate_limit=options.rate_limit,
        window_seconds=options.window_seconds,
    )
    server.shape_listings(options.shape)
    seed(server, options.corpus, options.synthetic, options.projects)
    if options.huge_session_mb:
        project_id = server.add_project("huge")
        server.add_large_session(project_id, options.huge_session_mb * 1024 * 1024)
    server.start()
    started(server.url, server.api_key)
    serve(server)


def seed(server: DevServer, corpus: Path | None, synthetic: int, projects: int) -> None:
    """Sessions from a corpus folder (per project when it has subfolders) and synthetic."""
    if corpus is not None:
        if not corpus.is_dir():
            raise SyncdError(f"--corpus {corpus}: not a folder")
        has_subfolders = any(child.is_dir() for child in corpus.iterdir())
        if has_subfolders:
            server.seed_from_folder(corpus)
        else:
            server.seed_corpus_flat(corpus, projects=projects)
    if synthetic:
        server.seed_synthetic(synthetic, projects)
