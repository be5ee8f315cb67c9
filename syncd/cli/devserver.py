"""`syncd devserver`: the local SpecStory-compatible server, for demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def devserver_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    api_key: Annotated[str, typer.Option(help="Bearer key clients must send.")] = "dev-key",
    corpus: Annotated[
        Path | None, typer.Option(help="Seed from a folder of .md files (flat or per project).")
    ] = None,
    synthetic: Annotated[int, typer.Option(help="Add N synthetic sessions.")] = 0,
    projects: Annotated[int, typer.Option(help="Spread seeded sessions over N projects.")] = 4,
    huge_session_mb: Annotated[
        int, typer.Option(help="Add one session of this many MB (streaming tests).")
    ] = 0,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per window before 429 (default: unlimited).")
    ] = None,
    window: Annotated[float, typer.Option(help="Rate-limit window in seconds.")] = 3600.0,
    page_size: Annotated[
        int | None,
        typer.Option(help="Answer listings in pages of N, linked by nextCursor (?cursor=)."),
    ] = None,
    cursor_in: Annotated[
        str, typer.Option(help="Where nextCursor goes: data (data.nextCursor) or top.")
    ] = "data",
    recent_shape: Annotated[
        str,
        typer.Option(help="/sessions/recent as: object (data.sessions), data-array, bare-array."),
    ] = "object",
) -> None:
    """Run the local SpecStory-compatible server.

    It speaks the SpecStory Cloud REST API on 127.0.0.1 for demos and tests, seeded from
    a folder of SpecStory Markdown and/or synthetic sessions. Prints its URL and key.
    --page-size, --cursor-in and --recent-shape make the listings answer in shapes the
    API may take one day (see "The local server" in the README).
    """
    from syncd.app.demo import LocalServer, listing_shape, run_devserver

    try:
        shape = listing_shape(page_size, cursor_in, recent_shape)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = LocalServer(
        port=port,
        api_key=api_key,
        rate_limit=rate_limit,
        window_seconds=window,
        shape=shape,
        corpus=corpus,
        synthetic=synthetic,
        projects=projects,
        huge_session_mb=huge_session_mb,
    )
    run_devserver(options, started=_announce_server)


def _announce_server(url: str, api_key: str) -> None:
    print(f"SpecStory-compatible server on {url}  (api key: {api_key})", flush=True)
