"""`syncd ls`, `show` and `search`: the mirrored sessions, listed, shown and searched."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from syncd.cli.options import SessionArg, reading_settings_of
from syncd.errors import ConfigError
from syncd.index.filters import SessionFilter

if TYPE_CHECKING:  # commands import what only they need, so `syncd search` starts fast
    from syncd.app.browsing import Listed
    from syncd.config import Settings


def _since(value: str | None) -> str | None:
    """--since as the UTC moment it names; a form not understood is a usage error."""
    if value is None:
        return None
    from datetime import UTC, datetime

    from syncd.cli.since import parse_since  # here: `syncd --help` never parses a date

    try:
        return parse_since(value, datetime.now(UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


ProjectOpt = Annotated[
    str | None,
    typer.Option("--project", help="Project id, name (any case) or folder in the mirror."),
]
TagOpt = Annotated[str | None, typer.Option("--tag", help="Only sessions with this tag.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Only sessions using this model.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        callback=_since,
        metavar="WHEN",
        help="Only sessions started on or after WHEN: 2025-07-20, 2025-07-20T10:30, "
        "7d, 12h, 30m, 2w, today or yesterday (UTC).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line).")]


def ls_command(
    ctx: typer.Context,
    project: ProjectOpt = None,
    tag: TagOpt = None,
    model: ModelOpt = None,
    since: SinceOpt = None,
    sort: Annotated[str, typer.Option(help="date, name or size.")] = "date",
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Show at most N sessions.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List mirrored sessions (newest first) with their PullStory story when there is one."""
    from syncd.app.browsing import SORTS, list_sessions

    if sort not in SORTS:
        raise ConfigError("--sort", "use date, name or size")
    settings = reading_settings_of(ctx)
    wanted = _filter(settings, project, tag, model, since)
    for listed in list_sessions(settings, wanted, sort=sort, limit=limit):
        _print_session(listed, as_json)


def show_command(
    ctx: typer.Context,
    session: SessionArg,
    open_file: Annotated[
        bool, typer.Option("--open", help="Open the file with the desktop's opener or $EDITOR.")
    ] = False,
) -> None:
    """Show one session: metadata, file path and story URL. Ambiguous prefixes list matches."""
    from syncd.app.browsing import find_session, open_in_editor

    listed = find_session(reading_settings_of(ctx), session)
    record, project = listed.record, listed.project
    meta = record.metadata
    rows = [
        ("id", record.id),
        ("name", record.name or "(untitled)"),
        ("project", project.name if project else record.project_id),
        ("started", record.started_at or record.created_at or "?"),
        ("updated", record.updated_at or "?"),
        ("models", ", ".join(meta.llm_models) or "-"),
        ("tags", ", ".join(meta.tags) or "-"),
        ("size", f"{record.markdown_size or 0} bytes"),
        ("file", str(listed.path)),
        ("story", record.pullstory_url or "-"),
    ]
    if record.cloud_deleted_at:
        rows.append(("deleted", f"in the cloud at {record.cloud_deleted_at} (kept here)"))
    for label, value in rows:
        print(f"{label + ':':9} {value}")
    if open_file:
        open_in_editor(listed.path)


def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "quoted phrases", prefix*, AND/OR/NOT.')],
    project: ProjectOpt = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Only sessions with this tag (repeatable with --cloud)."
        ),
    ] = None,
    model: ModelOpt = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Show at most N results.")] = 20,
    cloud: Annotated[
        bool,
        typer.Option(
            "--cloud",
            help="Ask SpecStory Cloud's own search (GraphQL budget, no REST request); "
            "marks what is mirrored already. --limit at most 200.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the mirrored sessions locally (names, tags, models, bodies), best first."""
    tags = tuple(tag or ())
    settings = reading_settings_of(ctx)
    if cloud:
        _search_cloud(settings, query, project, tags, model, since, limit, as_json)
        return
    from syncd.app.searching import search_sessions

    if len(tags) > 1:
        raise ConfigError("--tag", "give one --tag to a local search (several with --cloud)")
    wanted = _filter(settings, project, tags[0] if tags else None, model, since)
    found = search_sessions(settings, query, wanted, limit=limit)
    for item in found:
        hit, path, project_name = item.hit, item.path, item.project_name
        if as_json:
            row = {
                "id": item.session_id,
                "name": item.name,
                "project": project_name,
                "path": str(path),
                "rank": hit.rank,
                "snippet": hit.snippet,
            }
            print(json.dumps(row, ensure_ascii=False))
            continue
        print(f"{project_name} / {hit.name_highlight or item.name or '(untitled)'}")
        print(f"  {' '.join(hit.snippet.split())}")
        print(f"  {path}")
    if not found and not as_json:
        print("No matches.")


def _search_cloud(
    settings: Settings,
    query: str,
    project: str | None,
    tags: tuple[str, ...],
    model: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """`search --cloud`: the cloud's hits, each marked mirrored (its file) or not yet."""
    from syncd.app.cloud_search import MAX_CLOUD_LIMIT, search_cloud

    if model is not None or since is not None:
        raise ConfigError("--cloud", "the cloud's search takes --project and --tag only")
    if limit > MAX_CLOUD_LIMIT:
        raise ConfigError("--limit", f"the cloud's search returns at most {MAX_CLOUD_LIMIT}")
    results = search_cloud(settings, query, project=project, tags=tags, limit=limit)
    for item in results.found:
        hit = item.hit
        if as_json:
            row = {
                "id": hit.id,
                "name": hit.name,
                "project": item.project,
                "project_id": hit.project_id,
                "rank": hit.rank,
                "tags": list(hit.tags),
                "path": None if item.path is None else str(item.path),
                "mirrored": item.path is not None,
            }
            print(json.dumps(row, ensure_ascii=False))
            continue
        rank = "" if hit.rank is None else f"  (rank {hit.rank:.2f})"
        print(f"{item.project} / {hit.name or '(untitled)'}{rank}")
        print(f"  {item.path if item.path is not None else 'not mirrored yet'}")
    if not as_json:
        shown = len(results.found)
        if not shown:
            print("No matches in the cloud.")
        elif results.total > shown:
            print(f"{shown} of {results.total} matches in the cloud (--limit shows more)")


def _filter(
    settings: Settings, project: str | None, tag: str | None, model: str | None, since: str | None
) -> SessionFilter:
    """The filters as given, --project resolved to one project's id (or exit 2)."""
    if project is not None:
        from syncd.app.browsing import resolve_project

        project = resolve_project(settings, project)
    return SessionFilter(project=project, tag=tag, model=model, since=since)


def _print_session(listed: Listed, as_json: bool) -> None:
    record, project = listed.record, listed.project
    if as_json:
        row = {
            "id": record.id,
            "project": project.name if project else record.project_id,
            "name": record.name,
            "started_at": record.started_at or record.created_at,
            "size": record.markdown_size,
            "path": record.path,
            "pullstory_url": record.pullstory_url,
            "deleted_in_cloud": record.cloud_deleted_at,
        }
        print(json.dumps(row, ensure_ascii=False))
        return
    when = (record.started_at or record.created_at or "")[:16].replace("T", " ")
    story = f"  {record.pullstory_url}" if record.pullstory_url else ""
    kept = "  (deleted in the cloud)" if record.cloud_deleted_at else ""
    name = record.name or "(untitled)"
    print(f"{when:16}  {record.id[:8]}  {project.name if project else '?'} / {name}{kept}{story}")
