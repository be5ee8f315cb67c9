"""`syncd sync`, `run`, `status`, `doctor` and `db`: keeping the mirror, and saying how
it is kept."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from syncd.cli.options import Options, reading_settings_of, settings_of
from syncd.errors import EXIT_ITEMS_FAILED, SyncdError

if TYPE_CHECKING:  # rich and the sync machinery load only when a sync runs
    from rich.progress import Progress, TaskID

    from syncd.app.progress import BudgetWait, ProgressDisplay


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
    first: Annotated[
        str | None,
        typer.Option(
            "--first",
            metavar="QUERY",
            help="Download the sessions the cloud's search finds for QUERY (at most 200) "
            "before the rest; overrides sync.first for this run.",
        ),
    ] = None,
) -> None:
    """Mirror every session once, then say what changed.

    Prints 'N new, N updated, N unchanged, N failed' and exits 0, or 1 when a session
    failed (every other session is still written; the failed ones are retried next run).
    Sessions deleted in the cloud are confirmed one by one and moved to .trash/.
    """
    from syncd.app.syncing import sync_once

    settings = settings_of(ctx)
    if first is not None:
        settings = settings.with_first(first)
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


def run_command(ctx: typer.Context) -> None:
    """Run the daemon: keep the mirror current until stopped.

    Incremental syncs every schedule.sync_seconds, a full reconciliation at start-up and
    every schedule.reconcile_seconds, all within the API's rate budget. SIGTERM/SIGINT
    stop it after the file in hand; SIGHUP reloads the configuration. Under systemd it
    reports readiness and feeds the watchdog.
    """
    from syncd.app.syncing import run_daemon
    from syncd.config import load_settings

    options: Options = ctx.obj
    settings_of(ctx)  # fail fast, with exit code 2, on a bad configuration
    raise typer.Exit(run_daemon(lambda: load_settings(options.config)))


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
    was never synced. Unhealthy while no sync has succeeded yet (a first sync that makes
    progress is healthy; one with none for stale_after_seconds is not), the last sync
    failed, was interrupted or never finished, git commits or pushes fail, or the last success ended
    stale_after_seconds ago or more. --check exits only 0 or 1: a status that cannot be
    read (a bad setting, an unreadable index) is unhealthy.
    """
    from syncd.app.status import read_status
    from syncd.daemon.status import EXIT_UNHEALTHY
    from syncd.daemon.status_text import check_line, describe

    try:
        report = read_status(reading_settings_of(ctx))
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


def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to the index.

    Every command that opens the index does this too; this one only upgrades.
    """
    from syncd.app.database import upgrade_index

    before, after = upgrade_index(settings_of(ctx))
    if before == after:
        print(f"Index already at revision {after}.")
    else:
        print(f"Index upgraded from {before or 'empty'} to {after}.")


def db_rebuild(ctx: typer.Context) -> None:
    """Recreate the index from the mirror's files.

    Projects and sessions come from the front matter every session file carries (ids,
    names, times, etag); files without it are listed and left alone. The next sync lists
    every project again but downloads nothing the files already hold. Refuses (exit 6)
    while another syncd owns the root.
    """
    from syncd.app.database import rebuild_from_files

    report = rebuild_from_files(settings_of(ctx))
    files = "file" if report.sessions == 1 else "files"
    projects = "project" if report.projects == 1 else "projects"
    print(
        f"Rebuilt the index from {report.sessions} {files} in {report.projects} {projects} "
        f"({len(report.skipped)} skipped)"
    )
    for item in report.skipped:
        print(f"  skipped {item.path}: {item.reason}")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


@contextmanager
def _progress() -> Iterator[ProgressDisplay | None]:
    """A progress bar on a terminal; nothing when output goes to a log."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[received]}"),
    )
    with Progress(*columns, transient=True) as bar:
        yield _Bar(bar, bar.add_task("syncing", total=None, received=""))


class _Bar:
    """The rich bar as the sync's ProgressDisplay: steps, bytes, and why it stands still."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def step(self, done: int, total: int, label: str, received: int) -> None:
        self._bar.update(
            self._task,
            completed=done,
            total=total,
            description=label[:40] or "(unnamed)",
            received=f"{received / 1_000_000:.1f} MB",
        )

    def budget_wait(self, wait: BudgetWait) -> None:
        from syncd.app.progress import budget_wait_text

        self._bar.update(self._task, description=budget_wait_text(wait))
