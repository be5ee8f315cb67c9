"""Build the sync machinery from settings: the one place configuration turns into objects."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from syncd.cloud.budget import BudgetWait, RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.config import Settings
from syncd.daemon.archiving import STORY_URL_REASON, commit_journal
from syncd.daemon.lock import RootLock
from syncd.index import owner
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.push.queue import PushPolicy
from syncd.push.retry import RetryPolicy as FailedStoryRetries
from syncd.sync.engine import SyncEngine, SyncOptions
from syncd.sync.report import CycleReport


@contextmanager
def open_root(settings: Settings) -> Iterator[tuple[Store, Mirror]]:
    """The root's lock held, its index open (migrated) and its mirror: what every writer
    (`syncd run`, `sync`, `db rebuild`) works in. Raises RootLockedError when another
    syncd owns the root."""
    with RootLock(settings.state_dir), Store.open(settings.index_url) as store:
        owner.claim(store.engine, settings.mirror_root, settings.state_dir)
        yield store, Mirror(settings.mirror_root)


def retry_policy(settings: Settings) -> RetryPolicy:
    retry = settings.retry
    return RetryPolicy(
        attempts=retry.attempts,
        base_delay=retry.base_delay_seconds,
        max_delay=retry.max_delay_seconds,
        max_retry_after=retry.max_retry_after_seconds,
    )


def build_client(
    settings: Settings,
    base_url: str,
    api_key: str,
    *,
    interactive: bool,
    sleep: Callable[[float], None] = time.sleep,
    budget: RateBudget | None = None,
    on_budget_wait: Callable[[BudgetWait], None] | None = None,
) -> CloudClient:
    """A client whose every request passes through a budget with the configured reserve.

    Interactive commands (a one-shot sync, doctor) may spend the reserve; the daemon not.
    """
    if budget is None:
        budget = RateBudget(reserve=settings.budget.reserve, interactive=interactive)
    return CloudClient(
        base_url,
        api_key,
        timeout=settings.timeout_seconds,
        retry=retry_policy(settings),
        sleep=sleep,
        budget=budget,
        max_budget_wait=settings.budget.max_inline_wait_seconds,
        max_body_bytes=settings.max_body_bytes,
        min_transfer_rate=settings.min_transfer_bytes_per_second,
        on_budget_wait=on_budget_wait,
    )


def sync_options(
    settings: Settings, *, allow_mass_delete: bool = False, dry_run: bool = False
) -> SyncOptions:
    return SyncOptions(
        deletion_mode=settings.deletion.mode,
        max_delete_share=settings.deletion.max_share,
        allow_mass_delete=allow_mass_delete,
        dry_run=dry_run,
    )


def push_policy(settings: Settings) -> PushPolicy:
    """The push queue's patience, from the pullstory settings."""
    pullstory = settings.pullstory
    return PushPolicy(
        retry=FailedStoryRetries(
            retries=pullstory.retries, first_delay=pullstory.retry_delay_seconds
        ),
        usage_check_max=pullstory.quota_check_max_seconds,
    )


def write_story_url(
    settings: Settings, store: Store, mirror: Mirror, session_id: str, api_key: str
) -> None:
    """Put a ready story's URL into its session's front matter, and that into the archive."""
    write_story_urls(settings, store, mirror, [session_id], api_key)


def write_story_urls(
    settings: Settings, store: Store, mirror: Mirror, session_ids: list[str], api_key: str
) -> None:
    """Put ready stories' URLs into their sessions' front matter, and those into the
    archive as one commit that says it holds story URLs.

    The client only builds the sessions' source URLs for the front matter: nothing is sent.
    """
    report = CycleReport(journal_mark=store.journal_mark())
    with build_client(settings, settings.base_url, api_key, interactive=True) as client:
        engine = SyncEngine(client, store, mirror)
        for session_id in dict.fromkeys(session_ids):
            record = store.session(session_id)
            if record is None:
                continue
            before = mirror.file_sha256(record.path)
            engine.refresh_file(session_id)
            if mirror.file_sha256(record.path) not in (None, before):
                # Tagged once written: a file left alone (edited by the user, or holding
                # the URL already) must not be announced as holding a new one.
                store.journal([record.path], reason=STORY_URL_REASON)
    commit_journal(settings, store, report)  # only what now holds syncd's version
