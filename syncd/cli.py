"""The `syncd` command: parse arguments, build objects, print. No sync logic lives here."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncd import __version__
from syncd.config import Settings, load_settings
from syncd.daemon.status import EXIT_UNHEALTHY
from syncd.daemon.status_text import check_line, describe
from syncd.errors import (
    EXIT_ITEMS_FAILED,
    ConfigError,
    PushPausedError,
    PushWaitTimeoutError,
    SyncdError,
)
from syncd.index.filters import SessionFilter
from syncd.index.statuses import StoryStatus
from syncd.logs import configure_logging

if TYPE_CHECKING:  # commands import what only they need, so `syncd search` starts fast
    from syncd.app.browsing import Listed

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
    from syncd.app.syncing import sync_once

    settings = _settings(ctx)
    with _progress() as progress:
        result = sync_once(
            settings,
            demo=demo,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            progress=progress,
            say=_to_stderr,
        )
    report = result.report
    if dry_run:
        for action in report.actions:
            print(action)
        print(f"Dry run: {len(report.actions)} change(s) would be made; nothing was changed.")
    print(report.summary())
    if (halt := report.halt_line()) is not None:
        print(halt)
    print(f"Mirror: {result.root}")
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
    from syncd.app.syncing import run_daemon

    options: Options = ctx.obj
    _settings(ctx)  # fail fast, with exit code 2, on a bad configuration
    raise typer.Exit(run_daemon(lambda: load_settings(options.config)))


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
    from syncd.app.status import read_status

    try:
        report = read_status(_settings(ctx))
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
    from syncd.app.database import upgrade_index

    before, after = upgrade_index(_settings(ctx))
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
    from syncd.app.database import rebuild_from_files

    report = rebuild_from_files(_settings(ctx))
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
    from syncd.app.pushing import brief_json

    print(json.dumps(brief_json(_settings(ctx), session), indent=2, ensure_ascii=False))


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
    from syncd.app.pushing import push, story_line

    pushed = push(_settings(ctx), session, wait=wait, timeout=timeout, say=print)
    story, state = pushed.story, pushed.state
    print(story_line(story))
    if story.status == StoryStatus.FAILED:
        print(f"`syncd push {session}` posts it again.", file=sys.stderr)
    if story.status in (StoryStatus.FAILED, StoryStatus.REJECTED):
        raise typer.Exit(EXIT_ITEMS_FAILED)
    if story.status == StoryStatus.QUEUED and state.paused_reason:
        if wait:
            raise PushPausedError(state.paused_reason, state.next_usage_check)
        print(state.paused_reason, file=sys.stderr)
    if wait and story.status != StoryStatus.READY:
        raise PushWaitTimeoutError(pushed.followed_seconds, story.status, story.last_error)


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
    from syncd.app.browsing import SORTS, list_sessions

    if sort not in SORTS:
        raise ConfigError("--sort", "use date, name or size")
    wanted = SessionFilter(project=project, tag=tag, model=model, since=since)
    for listed in list_sessions(_settings(ctx), wanted, sort=sort, limit=limit):
        _print_session(listed, as_json)


@app.command("show")
def show_command(
    ctx: typer.Context,
    session: SessionArg,
    open_file: Annotated[
        bool, typer.Option("--open", help="Open the file with the desktop's opener or $EDITOR.")
    ] = False,
) -> None:
    """Show one session: metadata, file path and story URL. Ambiguous prefixes list matches."""
    from syncd.app.browsing import find_session, open_in_editor

    listed = find_session(_settings(ctx), session)
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
    from syncd.app.browsing import search_sessions

    wanted = SessionFilter(project=project, tag=tag, model=model, since=since)
    found = search_sessions(_settings(ctx), query, wanted, limit=limit)
    for item in found:
        hit, record, path, project_name = item.hit, item.record, item.path, item.project_name
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
    if not found and not as_json:
        print("No matches.")


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


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


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
