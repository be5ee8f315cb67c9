"""`syncd sync` and `syncd run`: which cloud to mirror, and one sync run over the root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.app.demo import demo_server
from syncd.app.demo_mirror import demo_root
from syncd.app.progress import ProgressDisplay
from syncd.cloud.client import CloudClient
from syncd.config import DEFAULT_BASE_URL, Settings
from syncd.daemon.cycle import run_cycle
from syncd.daemon.runtime import build_client, open_root, sync_options
from syncd.errors import ConfigError
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Endpoint:
    """The cloud a sync talks to, and the settings it syncs with (the demo's own root)."""

    base_url: str
    api_key: str
    settings: Settings


@dataclass(frozen=True)
class SyncResult:
    report: CycleReport
    root: Path


@contextmanager
def cloud_endpoint(
    settings: Settings, *, demo: bool, say: Callable[[str], None]
) -> Iterator[Endpoint]:
    """The real cloud when a key is configured; otherwise a seeded local demo server,
    announced through `say` and stopped on exit.

    The demo is used without asking only when nothing at all is configured (no key, no
    root, default server), so a missing key never fills a real mirror with demo data.
    """
    api_key = None if demo else settings.resolve_api_key()
    if api_key is not None:
        yield Endpoint(settings.base_url, api_key, settings)
        return
    if not demo and (settings.root is not None or settings.base_url != DEFAULT_BASE_URL):
        raise ConfigError(
            "SYNCD_API_KEY",
            f"no API key for {settings.base_url}; set SYNCD_API_KEY (or api_key_file / "
            "api_key_command), or pass --demo to try syncd on its built-in demo server",
        )
    root = settings.root or demo_root()
    server, source = demo_server(settings.demo_corpus)
    reason = "" if demo else "No API key configured (SYNCD_API_KEY). "
    say(
        f"{reason}Syncing from syncd's built-in demo server, seeded with {source}; "
        "no SpecStory Cloud account is involved."
    )
    with server:
        yield Endpoint(server.url, server.api_key, settings.model_copy(update={"root": root}))


def sync_once(
    settings: Settings,
    *,
    demo: bool = False,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    progress: ProgressDisplay | None = None,
    say: Callable[[str], None],
) -> SyncResult:
    """One full sync of the root (deletions confirmed and trashed), as `syncd sync` runs
    it: under the root's lock, committed to git when enabled, then searchable."""
    with cloud_endpoint(settings, demo=demo, say=say) as endpoint:
        settings = endpoint.settings
        options = sync_options(settings, allow_mass_delete=allow_mass_delete, dry_run=dry_run)
        with (
            open_root(settings) as (store, mirror),
            build_client(
                settings,
                endpoint.base_url,
                endpoint.api_key,
                interactive=True,
                on_budget_wait=None if progress is None else progress.budget_wait,
            ) as client,
        ):
            steps = None if progress is None else _steps_to(progress, client)
            engine = SyncEngine(
                client, store, mirror, progress=steps, options=options, first=settings.sync.first
            )
            report = run_cycle(settings, store, engine, "once")
    return SyncResult(report, settings.mirror_root)


def _steps_to(display: ProgressDisplay, client: CloudClient) -> Progress:
    """The engine's step callback, with the bytes the client has received so far."""

    def step(done: int, total: int, label: str) -> None:
        display.step(done, total, label, client.stats.bytes_received)

    return step


def run_daemon(load_settings: Callable[[], Settings]) -> int:
    """Keep the mirror current until stopped (`syncd run`); the exit code."""
    from syncd.daemon.service import Daemon  # the scheduler loads only for `syncd run`

    return Daemon(load_settings).run()
