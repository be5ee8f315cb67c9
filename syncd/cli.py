"""The `syncd` command: parse arguments, build objects, print. No sync logic lives here."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import platformdirs
import typer

from syncd import __version__
from syncd.config import DEFAULT_BASE_URL, Settings, load_settings
from syncd.daemon.lock import RootLock, holder
from syncd.daemon.status import EXIT_UNHEALTHY, collect_status, open_index
from syncd.daemon.status_text import check_line, describe
from syncd.errors import (
    EXIT_ITEMS_FAILED,
    ConfigError,
    MirrorMissingError,
    NoBriefError,
    PushPausedError,
    PushWaitTimeoutError,
    StorageError,
    SyncdError,
)
from syncd.index import migrate
from syncd.index.filters import SessionFilter
from syncd.index.search import search
from syncd.index.store import ProjectRecord, SessionRecord, Store, StoryRecord
from syncd.logs import configure_logging
from syncd.mirror.writer import Mirror
from syncd.sync.searching import refresh_search_index

if TYPE_CHECKING:  # commands import what only they need, so `syncd search` starts fast
    from syncd.devserver import DevServer

logger = logging.getLogger("syncd")

app = typer.Typer(
    help="Mirror your SpecStory Cloud sessions to a Markdown folder tree and a SQLite index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: stable text for logs, pipes and the README's CLI reference.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Manage the index database.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")

DEMO_SYNTHETIC_SESSIONS = 60
DEMO_PROJECTS = 4
# `push --wait` gives up after this long by default: generation takes 60-120 s, and
# PullStory failing for 15 minutes is an outage to report, not to wait out.
WAIT_DEFAULT_SECONDS = 900.0


@dataclass
class Options:
    config: Path | None


def _version(value: bool) -> None:
    if value:
        print(f"syncd {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (default: XDG config dir).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options shared by every command."""
    ctx.obj = Options(config=config)


def _settings(ctx: typer.Context) -> Settings:
    options: Options = ctx.obj
    settings = load_settings(options.config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run one cycle and exit (what this command always does)."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print what would be fetched, moved and trashed; change nothing."
        ),
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option(
            "--allow-mass-delete",
            help="Let this run remove more than deletion.max_share of a project's sessions.",
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Sync the built-in demo server instead of SpecStory Cloud (no key)."
        ),
    ] = False,
) -> None:
    """Mirror every session once, then say what changed.

    Prints 'N new, N updated, N unchanged, N failed' and exits 0, or 1 when a session
    failed (every other session is still written; the failed ones are retried next run).
    Sessions deleted in the cloud are confirmed one by one and moved to .trash/.
    """
    from syncd.daemon.cycle import run_cycle
    from syncd.daemon.runtime import build_client, sync_options
    from syncd.sync.engine import SyncEngine

    settings = _settings(ctx)
    with _cloud_endpoint(settings, demo=demo) as (base_url, api_key, settings):
        root = settings.mirror_root
        mirror = Mirror(root)
        options = sync_options(settings, allow_mass_delete=allow_mass_delete, dry_run=dry_run)
        with (
            RootLock(settings.state_dir),
            Store.open(settings.index_url) as store,
            build_client(settings, base_url, api_key, interactive=True) as client,
            _progress() as progress,
        ):
            engine = SyncEngine(client, store, mirror, progress=progress, options=options)
            report = run_cycle(settings, store, engine, "once")
        if dry_run:
            for action in report.actions:
                print(action)
            print(f"Dry run: {len(report.actions)} change(s) would be made; nothing was changed.")
        print(report.summary())
        if (halt := report.halt_line()) is not None:
            print(halt)
        print(f"Mirror: {root}")
    if not report.ok:
        for error in report.errors[:20]:
            print(f"  failed: {error}", file=sys.stderr)
        raise typer.Exit(EXIT_ITEMS_FAILED)


@app.command("run")
def run_command(ctx: typer.Context) -> None:
    """Run the daemon: keep the mirror current until stopped.

    Incremental syncs every schedule.sync_seconds, a full reconciliation at start-up and
    every schedule.reconcile_seconds, all within the API's rate budget. SIGTERM/SIGINT
    stop it after the file in hand; SIGHUP reloads the configuration. Under systemd it
    reports readiness and feeds the watchdog.
    """
    from syncd.daemon.service import Daemon

    options: Options = ctx.obj
    _settings(ctx)  # fail fast, with exit code 2, on a bad configuration
    daemon = Daemon(lambda: load_settings(options.config))
    raise typer.Exit(daemon.run())


@app.command("status")
def status_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the status as one JSON object.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Print one line; exit 0 when healthy, 1 when not (health checks)."
        ),
    ] = False,
) -> None:
    """Show the daemon, the last runs, the mirror and the rate budget.

    Takes no lock and writes nothing, so it works while a daemon syncs and on a root that
    was never synced. Unhealthy while no sync has succeeded yet, the last sync failed, was
    interrupted or never finished, git commits or pushes fail, or the last success ended
    stale_after_seconds ago or more. --check exits only 0 or 1: a status that cannot be
    read (a bad setting, an unreadable index) is unhealthy.
    """
    try:
        settings = _settings(ctx)
        store = open_index(settings.index_url)
        try:
            report = collect_status(
                store,
                settings.state_dir,
                now=datetime.now(UTC),
                sync_seconds=settings.schedule.sync_seconds,
                stale_after_seconds=settings.stale_after_seconds,
                reserve=settings.budget.reserve,
            )
        finally:
            if store is not None:
                store.close()
    except SyncdError as exc:
        if not check:
            raise
        # Health checks read 0 or 1 only: Docker reserves 2, our code for a bad setting.
        print(f"unhealthy: {exc.message}")
        raise typer.Exit(EXIT_UNHEALTHY) from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif check:
        print(check_line(report))
    else:
        _print_rows(describe(report))
    if check and not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def _print_rows(rows: list[tuple[str, str]]) -> None:
    """A compact two-column table on a terminal; aligned plain lines otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for label, value in rows:
            table.add_row(label, Text(value))  # Text: no markup is read from the values
        Console().print(table)
        return
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label + ':' if label else '':<{width + 1}}  {value}")


@app.command("doctor")
def doctor_command(ctx: typer.Context) -> None:
    """Check the set-up and say how to fix each problem found.

    Checks the configuration, the API key (and that the server accepts it: one request),
    the mirror root, the index and the lock, and with git.enabled the git archive (lock
    files that stop commits, and whether the last commit and push went through); reports
    every problem at once. Exits 0 when all pass, 1 when any fails, 2 when the
    configuration cannot be loaded.
    """
    from syncd.daemon.doctor import exit_code as doctor_exit_code
    from syncd.daemon.doctor import run_checks
    from syncd.daemon.doctor import summary as doctor_summary

    options: Options = ctx.obj
    checks = run_checks(options.config)
    passed, failed, skipped = _marks()
    for check in checks:
        mark = skipped if check.skipped else passed if check.ok else failed
        print(f"{mark} {check.name}: {check.detail}")
        if check.fix and not check.ok:
            print(f"    fix: {check.fix}")
    print(doctor_summary(checks))
    code = doctor_exit_code(checks)
    if code:
        raise typer.Exit(code)


def _marks() -> tuple[str, str, str]:
    """Check marks, or words when the output cannot encode them."""
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "ok", "FAIL", "skip"
    return "✓", "✗", "-"


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to the index.

    Every command that opens the index does this too; this one only upgrades.
    """
    settings = _settings(ctx)
    with Store.open(settings.index_url, migrate_schema=False) as store:
        before = migrate.current_revision(store.engine)
        migrate.upgrade(store.engine)
        after = migrate.current_revision(store.engine)
    if before == after:
        print(f"Index already at revision {after}.")
    else:
        print(f"Index upgraded from {before or 'empty'} to {after}.")


@db_app.command("rebuild")
def db_rebuild(ctx: typer.Context) -> None:
    """Recreate the index from the mirror's files.

    Projects and sessions come from the front matter every session file carries (ids,
    names, times, etag); files without it are listed and left alone. The next sync lists
    every project again but downloads nothing the files already hold. Refuses (exit 6)
    while another syncd owns the root.
    """
    from syncd.sync.rebuild import rebuild_index

    settings = _settings(ctx)
    root = settings.mirror_root
    if not root.is_dir():
        raise MirrorMissingError(str(root))
    with RootLock(settings.state_dir), Store.open(settings.index_url) as store:
        report = rebuild_index(Mirror(root), store)
    files = "file" if report.sessions == 1 else "files"
    projects = "project" if report.projects == 1 else "projects"
    print(
        f"Rebuilt the index from {report.sessions} {files} in {report.projects} {projects} "
        f"({len(report.skipped)} skipped)"
    )
    for item in report.skipped:
        print(f"  skipped {item.path}: {item.reason}")


SessionArg = Annotated[str, typer.Argument(help="Session id, id prefix or mirrored file.")]


@app.command("brief")
def brief_command(
    ctx: typer.Context,
    session: SessionArg,
) -> None:
    """Print the PullStory brief a session makes, as JSON, without sending it."""
    from syncd.brief import NoBrief
    from syncd.push.selection import brief_for, resolve_session

    settings = _settings(ctx)
    store, mirror = _open_mirror(settings)
    with store:
        record = resolve_session(store, mirror, session)
        brief = brief_for(mirror, record)
    if isinstance(brief, NoBrief):
        raise NoBriefError(record.name or record.id, brief.reason)
    print(json.dumps(brief.to_json(), indent=2, ensure_ascii=False))


@app.command("push")
def push_command(
    ctx: typer.Context,
    session: SessionArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Block until the story is ready or failed.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1.0,
            metavar="SECONDS",
            help="With --wait: give up after this long (generation takes 1-2 minutes).",
        ),
    ] = WAIT_DEFAULT_SECONDS,
) -> None:
    """Send a session to PullStory as a brief (never the same brief twice).

    Without a running daemon the story is posted at once; with --wait, syncd follows
    it and prints the story URL (exit 0) or its error (exit 1). A story that failed is
    posted again, as a smaller brief when PullStory asked for one. When PullStory's
    minutes are used up, --wait ends at once with exit 7 and the date they come back.
    --wait gives up after --timeout: with exit 4 when PullStory kept failing or could
    not be reached, exit 1 when the story is simply not finished; it stays queued either
    way. While `syncd run` owns the root, the brief is queued for it.
    """
    from syncd.push.selection import push_session, resolve_session

    settings = _settings(ctx)
    token = settings.pullstory.resolve_api_key()
    if token is None:
        raise ConfigError("SYNCD_PULLSTORY__API_KEY", "no PullStory token is configured")
    store, mirror = _open_mirror(settings)
    with store:
        record = resolve_session(store, mirror, session)
        pushed = push_session(store, mirror, record, time.time())
        story = pushed.story
        if pushed.action:
            print(f"The last story failed ({pushed.error}); {pushed.action}.")
        owner = holder(settings.state_dir)
        started = time.monotonic()
        if owner is not None:
            print(f"Queued; the running syncd (pid {owner or '?'}) pushes it.")
            if wait:
                story = _wait_for_daemon(store, settings, story.brief_hash, timeout)
        elif story.status in ("queued", "generating"):
            story = _push_here(settings, token, store, mirror, story, wait, timeout)
        state = store.push_state()
    print(_story_line(story))
    if story.status == "failed":
        print(f"`syncd push {session}` posts it again.", file=sys.stderr)
    if story.status in ("failed", "rejected"):
        raise typer.Exit(EXIT_ITEMS_FAILED)
    if story.status == "queued" and state.paused_reason:
        if wait:
            raise PushPausedError(state.paused_reason, state.next_usage_check)
        print(state.paused_reason, file=sys.stderr)
    if wait and story.status != "ready":
        raise PushWaitTimeoutError(time.monotonic() - started, story.status, story.last_error)


def _push_here(
    settings: Settings,
    token: str,
    store: Store,
    mirror: Mirror,
    story: StoryRecord,
    wait: bool,
    timeout: float,
) -> StoryRecord:
    """Post and follow the story in this process (no daemon owns the root)."""
    from syncd.daemon.runtime import push_policy, write_story_url
    from syncd.push.pullstory import PullStoryClient
    from syncd.push.queue import PushQueue, check_usage_soon

    # A request that hangs must not outlast the wait either.
    request_timeout = min(settings.timeout_seconds, timeout) if wait else settings.timeout_seconds
    with (
        RootLock(settings.state_dir),
        PullStoryClient(settings.pullstory.base_url, token, timeout=request_timeout) as client,
    ):
        key = settings.resolve_api_key() or ""  # builds source URLs; never sent

        def on_ready(ready: StoryRecord) -> None:
            write_story_url(settings, store, mirror, ready.session_id, key)

        # A stored quota pause may be over: the usage is looked at before anything waits.
        check_usage_soon(store, time.time())
        queue = PushQueue(store, client, on_ready=on_ready, policy=push_policy(settings))
        queue.drain(
            max_seconds=timeout if wait else 30.0,
            until_final=story.brief_hash if wait else None,
        )
    return _story(store, story.brief_hash)


ProjectOpt = Annotated[str | None, typer.Option("--project", help="Project name or id.")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="Only sessions with this tag.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Only sessions using this model.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only sessions started on or after (YYYY-MM-DD).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line).")]


@app.command("ls")
def ls_command(
    ctx: typer.Context,
    project: ProjectOpt = None,
    tag: TagOpt = None,
    model: ModelOpt = None,
    since: SinceOpt = None,
    sort: Annotated[str, typer.Option(help="date, name or size.")] = "date",
    limit: Annotated[int | None, typer.Option(help="Show at most N sessions.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List mirrored sessions (newest first) with their PullStory story when there is one."""
    if sort not in ("date", "name", "size"):
        raise ConfigError("--sort", "use date, name or size")
    settings = _settings(ctx)
    store, _ = _open_mirror(settings)
    with store:
        projects = store.projects()
        wanted = SessionFilter(project=project, tag=tag, model=model, since=since)
        rows = [
            r for r in store.sessions().values() if _keeps(wanted, r, projects.get(r.project_id))
        ]
    keys = {
        "date": lambda r: (r.started_at or r.created_at or "", r.id),
        "name": lambda r: (r.name.casefold(), r.id),
        "size": lambda r: (r.markdown_size or 0, r.id),
    }
    rows.sort(key=keys[sort], reverse=sort != "name")
    for record in rows[:limit]:
        _print_session(record, projects, as_json)


@app.command("show")
def show_command(
    ctx: typer.Context,
    session: SessionArg,
    open_file: Annotated[
        bool, typer.Option("--open", help="Open the file with the desktop's opener or $EDITOR.")
    ] = False,
) -> None:
    """Show one session: metadata, file path and story URL. Ambiguous prefixes list matches."""
    from syncd.push.selection import resolve_session

    settings = _settings(ctx)
    store, mirror = _open_mirror(settings)
    with store:
        record = resolve_session(store, mirror, session)
        project = store.projects().get(record.project_id)
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
        ("file", str(settings.mirror_root / record.path)),
        ("story", record.pullstory_url or "-"),
    ]
    if record.cloud_deleted_at:
        rows.append(("deleted", f"in the cloud at {record.cloud_deleted_at} (kept here)"))
    for label, value in rows:
        print(f"{label + ':':9} {value}")
    if open_file:
        _open(settings.mirror_root / record.path)


@app.command("search")
def search_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "quoted phrases", prefix*, AND/OR/NOT.')],
    project: ProjectOpt = None,
    tag: TagOpt = None,
    model: ModelOpt = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most N results.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Search the mirrored sessions locally (names, tags, models, bodies), best first."""
    settings = _settings(ctx)
    store, mirror = _open_mirror(settings)
    with store:
        try:
            refresh_search_index(store, mirror)
        except StorageError as exc:  # e.g. a sync holds the index longer than the busy wait
            logger.warning("searching without the newest changes: %s", exc)
        hits = search(
            store.engine, query, project=project, tag=tag, model=model, since=since, limit=limit
        )
        records = {hit.session_id: store.session(hit.session_id) for hit in hits}
        projects = store.projects()
    for hit in hits:
        record = records[hit.session_id]
        if record is None:
            continue
        path = settings.mirror_root / record.path
        project_name = projects[record.project_id].name if record.project_id in projects else ""
        if as_json:
            row = {
                "id": record.id,
                "name": record.name,
                "project": project_name,
                "path": str(path),
                "rank": hit.rank,
                "snippet": hit.snippet,
            }
            print(json.dumps(row, ensure_ascii=False))
            continue
        print(f"{project_name} / {hit.name_highlight or record.name or '(untitled)'}")
        print(f"  {' '.join(hit.snippet.split())}")
        print(f"  {path}")
    if not hits and not as_json:
        print("No matches.")


def _keeps(wanted: SessionFilter, record: SessionRecord, owner: ProjectRecord | None) -> bool:
    return wanted.keeps(
        projects=[record.project_id, *([owner.name] if owner else [])],
        tags=record.metadata.tags,
        models=record.metadata.llm_models,
        started=record.started_at or record.created_at,
    )


def _print_session(
    record: SessionRecord, projects: dict[str, ProjectRecord], as_json: bool
) -> None:
    project = projects.get(record.project_id)
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


def _open(path: Path) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    opener = shutil.which("xdg-open") or shutil.which("open")
    command = (
        [*shlex.split(editor), str(path)] if editor else [opener, str(path)] if opener else None
    )
    if command is None:
        raise ConfigError("EDITOR", "no editor or opener found; set $EDITOR")
    subprocess.run(command, check=False)


def _open_mirror(settings: Settings) -> tuple[Store, Mirror]:
    store = open_index(settings.index_url)
    if store is None:
        raise MirrorMissingError(str(settings.mirror_root))
    # An index left behind by an older syncd is upgraded here too (one query when current).
    migrate.upgrade(store.engine)
    return store, Mirror(settings.mirror_root)


def _story(store: Store, brief_hash: str) -> StoryRecord:
    return next(s for s in store.stories() if s.brief_hash == brief_hash)


def _wait_for_daemon(
    store: Store, settings: Settings, brief_hash: str, timeout: float
) -> StoryRecord:
    deadline = time.monotonic() + timeout
    story = _story(store, brief_hash)
    while story.status in ("queued", "generating") and time.monotonic() < deadline:
        held = story.status == "queued" and store.push_state().paused_reason is not None
        if holder(settings.state_dir) is None or held:
            break  # the daemon is gone, or the quota holds the brief: say so, not hang
        # The daemon does the work; this only reads the index.
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        story = _story(store, brief_hash)
    return story


def _story_line(story: StoryRecord) -> str:
    if story.status == "ready":
        return f"ready: {story.url}"
    if story.status in ("failed", "rejected", "superseded"):
        return f"{story.status}: {story.last_error}"
    if story.status == "generating":
        return f"generating: story {story.story_id} (syncd run or push --wait follows it)"
    return "queued"


@app.command("devserver")
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
    from syncd.devserver import DevServer, ListingShape, serve
    from syncd.devserver.listing_shape import CursorPlace, RecentShape

    try:
        shape = ListingShape(
            page_size=page_size,
            cursor_in=cast(CursorPlace, cursor_in),  # checked by ListingShape
            recent=cast(RecentShape, recent_shape),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    server = DevServer(api_key=api_key, port=port, rate_limit=rate_limit, window_seconds=window)
    server.shape_listings(shape)
    _seed(server, corpus, synthetic, projects)
    if huge_session_mb:
        project_id = server.add_project("huge")
        server.add_large_session(project_id, huge_session_mb * 1024 * 1024)
    server.start()
    print(f"SpecStory-compatible server on {server.url}  (api key: {server.api_key})", flush=True)
    serve(server)


def _seed(server: DevServer, corpus: Path | None, synthetic: int, projects: int) -> None:
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


@contextmanager
def _cloud_endpoint(settings: Settings, *, demo: bool) -> Iterator[tuple[str, str, Settings]]:
    """The real cloud when a key is configured; otherwise a seeded local demo server.

    The demo is used without asking only when nothing at all is configured (no key, no
    root, default server), so a missing key never fills a real mirror with demo data.
    """
    from syncd.devserver import DevServer

    api_key = None if demo else settings.resolve_api_key()
    if api_key is not None:
        yield settings.base_url, api_key, settings
        return
    if not demo and (settings.root is not None or settings.base_url != DEFAULT_BASE_URL):
        raise ConfigError(
            "SYNCD_API_KEY",
            f"no API key for {settings.base_url}; set SYNCD_API_KEY (or api_key_file / "
            "api_key_command), or pass --demo to try syncd on its built-in demo server",
        )
    root = settings.root or Path(platformdirs.user_data_dir("syncd")) / "demo"
    server = DevServer(api_key="demo-key", port=0, rate_limit=None)
    corpus = settings.demo_corpus
    if corpus is not None and corpus.is_dir():
        server.seed_corpus_flat(corpus, projects=DEMO_PROJECTS)
        source = f"the corpus in {corpus}"
    else:
        server.seed_synthetic(DEMO_SYNTHETIC_SESSIONS, DEMO_PROJECTS)
        source = f"{DEMO_SYNTHETIC_SESSIONS} synthetic sessions"
    reason = "" if demo else "No API key configured (SYNCD_API_KEY). "
    print(
        f"{reason}Syncing from syncd's built-in demo server, seeded with {source}; "
        "no SpecStory Cloud account is involved.",
        file=sys.stderr,
    )
    with server:
        yield server.url, server.api_key, settings.model_copy(update={"root": root})


@contextmanager
def _progress() -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on a terminal; nothing when output goes to a log."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("syncing", total=None)

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label[:40] or "(unnamed)")

        yield update


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: one line per SyncdError, tracebacks only for bugs.

    Usage errors, --help and interrupts are handled by the argument parser (standalone
    mode) and arrive here as SystemExit.
    """
    try:
        app(args=argv, prog_name="syncd", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except SyncdError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        print("unexpected error (please report it):", file=sys.stderr)
        traceback.print_exc()
        return 70
    return 0


def main() -> None:
    sys.exit(run())
