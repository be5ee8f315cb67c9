"""`syncd doctor`: check the whole set-up and report every problem with its fix, at once.

Checks run in order and each records its outcome instead of stopping the rest; a check
that cannot run because an earlier one failed is reported as skipped. The API key is
never part of any detail.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from syncd.archive.git import GitLock, find_git_locks
from syncd.cloud.budget import BudgetSnapshot, RateBudget
from syncd.cloud.client import CloudClient, RetryPolicy
from syncd.config import Settings, default_config_path, load_settings
from syncd.daemon.lock import UNKNOWN_PID, holder
from syncd.daemon.status import open_index
from syncd.daemon.status_text import when
from syncd.errors import (
    EXIT_CONFIG,
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AuthError,
    CloudError,
    CloudUnavailableError,
    ConfigError,
    DriverMissingError,
    IndexOwnedError,
    RateLimitedError,
    StorageError,
    SyncdError,
    redact_url,
)
from syncd.index import migrate, owner
from syncd.index.records import ArchiveState
from syncd.mirror.names import STATE_DIR

CONFIGURATION = "configuration"
API_KEY = "API key"
SERVER = "server"
MIRROR_ROOT = "mirror root"
INDEX = "index"
LOCK = "lock"
GIT_ARCHIVE = "git archive"
KEY_SOURCES = "Set SYNCD_API_KEY, or api_key_file / api_key_command in the config file."


@dataclass(frozen=True)
class Check:
    """One check's outcome. `fix` says what to do when it failed; a skipped check did not run."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    skipped: bool = False


def run_checks(config_path: Path | None) -> list[Check]:
    """Every check, in order: configuration, API key, server, mirror root, index, lock,
    and the git archive when it is enabled.

    Makes exactly one request (the project list) when a key is configured, unless the
    saved rate budget says no request may go out yet.
    """
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        fix = f"Correct {exc.setting}, then run 'syncd doctor' again."
        failed = Check(CONFIGURATION, False, exc.message, fix)
        rest = [API_KEY, SERVER, MIRROR_ROOT, INDEX, LOCK]
        return [failed, *(_skipped(name, "the configuration did not load") for name in rest)]
    checks = [_configuration(config_path, settings)]
    key_check, api_key = _api_key(settings)
    checks.append(key_check)
    if api_key is None:
        checks.append(_skipped(SERVER, "no usable API key"))
    elif (until := _saved_wait(settings.index_url)) is not None:
        moment = until.astimezone().strftime("%H:%M")
        reason = f"the rate budget allows no request before {moment}; run doctor after that"
        checks.append(_skipped(SERVER, reason))
    else:
        checks.append(_server(settings, api_key))
    checks.append(_mirror_root(settings.mirror_root))
    checks.append(_index(settings))
    checks.append(_lock(settings.state_dir))
    if settings.git.enabled:
        checks.append(_git_archive(settings.mirror_root, settings.index_url))
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 when every check passed, 2 when the configuration did not load, else 1."""
    if any(c.name == CONFIGURATION and not c.ok for c in checks):
        return EXIT_CONFIG
    return EXIT_OK if all(c.ok for c in checks) else EXIT_ITEMS_FAILED


def summary(checks: list[Check]) -> str:
    """The closing line: 'All 6 checks passed.' or '2 of 6 checks failed, 1 not run.'"""
    failed = sum(1 for c in checks if not c.ok and not c.skipped)
    not_run = sum(1 for c in checks if c.skipped)
    if not failed and not_run:
        return f"{len(checks) - not_run} of {len(checks)} checks passed, {not_run} not run."
    if not failed:
        return f"All {len(checks)} checks passed."
    return f"{failed} of {len(checks)} checks failed" + (
        f", {not_run} not run." if not_run else "."
    )


def _skipped(name: str, reason: str) -> Check:
    return Check(name, False, f"not checked: {reason}", skipped=True)


def _configuration(config_path: Path | None, settings: Settings) -> Check:
    path = config_path or default_config_path()
    source = str(path) if path.is_file() else "defaults and SYNCD_* variables (no config file)"
    return Check(CONFIGURATION, True, f"{source}; root {settings.mirror_root}")


def _api_key(settings: Settings) -> tuple[Check, str | None]:
    if not settings.has_api_key():
        return Check(API_KEY, False, "no API key is configured", KEY_SOURCES), None
    if settings.api_key is not None:
        source = "api_key"
    elif settings.api_key_file is not None:
        source = f"api_key_file {settings.api_key_file}"
    else:
        source = "api_key_command"
    try:
        key = settings.resolve_api_key()
    except ConfigError as exc:
        fix = f"Make {exc.setting} give the key, or use another of: {KEY_SOURCES}"
        return Check(API_KEY, False, exc.message, fix), None
    return Check(API_KEY, True, f"configured ({source}) and readable"), key


def _saved_wait(database_url: str) -> datetime | None:
    """When the budget the index saved says nothing may be sent yet: a 429's Retry-After
    in force, or a spent window. Doctor respects it like every other request."""
    try:
        store = open_index(database_url)
        if store is None:
            return None
        with store:
            saved = store.budget()
    except SyncdError:
        return None  # the index check reports what is wrong with it
    if saved is None:
        return None
    # The same rules every request follows: an interactive command's view of the budget.
    budget = RateBudget(interactive=True)
    budget.restore(BudgetSnapshot(**dataclasses.asdict(saved)))
    if not budget.waiting_for_reset():
        return None
    return datetime.fromtimestamp(budget.now() + budget.delay(), UTC)


def _server(settings: Settings, api_key: str) -> Check:
    # One attempt: doctor reports what the server says now, it does not retry.
    client = CloudClient(
        settings.base_url,
        api_key,
        timeout=settings.timeout_seconds,
        retry=RetryPolicy(attempts=1),
        min_transfer_rate=settings.min_transfer_bytes_per_second,
    )
    base_url = client.base_url  # as messages show it, credentials redacted
    try:
        with client:
            projects = client.list_projects().projects
    except AuthError:
        fix = f"Create a new API key in SpecStory Cloud. {KEY_SOURCES}"
        return Check(SERVER, False, f"{base_url} rejected the API key (401)", fix)
    except CloudUnavailableError as exc:
        fix = "Check the network connection and SYNCD_BASE_URL."
        return Check(SERVER, False, f"cannot reach {base_url}: {exc.reason}", fix)
    except RateLimitedError as exc:
        fix = "Wait for the rate-limit window to reset (a running syncd may be using it)."
        detail = f"{base_url} is rate limiting this key (retry after {exc.retry_after:.0f} s)"
        return Check(SERVER, False, detail, fix)
    except CloudError as exc:
        fix = "Check that SYNCD_BASE_URL points at SpecStory Cloud."
        return Check(SERVER, False, exc.message, fix)
    count = len(projects)
    noun = "project" if count == 1 else "projects"
    return Check(SERVER, True, f"{base_url} accepted the API key ({count} {noun})")


def _mirror_root(root: Path) -> Check:
    if root.exists():
        return _probe_writable(root)
    ancestor = next((p for p in root.parents if p.exists()), None)
    if ancestor is not None and ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK):
        return Check(MIRROR_ROOT, True, f"{root} does not exist yet; the first sync creates it")
    fix = f"Create {root} and give this user write access, or set SYNCD_ROOT to another folder."
    return Check(MIRROR_ROOT, False, f"{root} does not exist and cannot be created", fix)


def _probe_writable(root: Path) -> Check:
    fix = f"Give this user write access to {root}, or set SYNCD_ROOT to another folder."
    if not root.is_dir():
        return Check(MIRROR_ROOT, False, f"{root} is not a folder", fix)
    state_dir = root / STATE_DIR
    created = not state_dir.exists()
    probe = state_dir / f".doctor-{secrets.token_hex(4)}.probe"
    try:
        state_dir.mkdir(exist_ok=True)
        with probe.open("xb") as handle:
            handle.write(b"syncd doctor\n")
        probe.unlink()
        if created:
            state_dir.rmdir()
    except OSError as exc:
        probe.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        return Check(MIRROR_ROOT, False, f"cannot write in {state_dir}: {reason}", fix)
    return Check(MIRROR_ROOT, True, f"{root} exists and is writable")


def _index(settings: Settings) -> Check:
    database_url = settings.index_url
    try:
        store = open_index(database_url)
    except DriverMissingError as exc:
        fix = "Run pip install 'syncd[postgres]' and use a postgresql:// URL, or use SQLite."
        return Check(INDEX, False, exc.message, fix)
    except SyncdError as exc:
        fix = "Set SYNCD_DATABASE_URL to a SQLAlchemy URL whose driver is installed."
        return Check(INDEX, False, exc.message, fix)
    url = make_url(database_url)
    where = url.render_as_string(hide_password=True)
    if store is None:
        return Check(INDEX, True, f"{where} does not exist yet; the first sync creates it")
    try:
        with store:
            # Proves the database answers (errors arrive translated) before asking Alembic.
            sessions = store.count_sessions()
            current = migrate.current_revision(store.engine)
            head = migrate.head_revision(store.engine)
            owner.check(store.engine, settings.mirror_root, settings.state_dir)
    except IndexOwnedError as exc:
        fix = (
            "Give this root its own database, or PostgreSQL schema, in SYNCD_DATABASE_URL "
            "(an index serves one mirror root)."
        )
        return Check(INDEX, False, exc.message, fix)
    except StorageError as exc:
        return Check(INDEX, False, f"cannot read {where}: {redact_url(exc.reason)}", _fix(url))
    if current != head:
        fix = "Run 'syncd db upgrade' (every sync does it too)."
        detail = f"{where} is at revision {current or 'none'}; the newest is {head}"
        return Check(INDEX, False, detail, fix)
    noun = "session" if sessions == 1 else "sessions"
    return Check(INDEX, True, f"{where} at revision {current} (newest), {sessions} {noun}")


def _fix(url: URL) -> str:
    """What to do about an index that cannot be read, for its kind of database."""
    if url.get_backend_name() == "sqlite":
        return (
            "If the file is damaged, move it aside and run 'syncd db rebuild': the index is "
            "recovered from the mirror's files."
        )
    # A server database: a refused connection or a login is far likelier than damage.
    server = f"{url.host or 'localhost'}:{url.port or 'default port'}"
    return (
        f"Check that the database server at {server} is running and reachable, and that "
        "SYNCD_DATABASE_URL names the right database, user and password."
    )


def _lock(state_dir: Path) -> Check:
    try:
        pid = holder(state_dir)
    except SyncdError as exc:
        return Check(LOCK, False, exc.message, f"Give this user read access to {state_dir}.")
    if pid is None:
        return Check(LOCK, True, "no syncd owns this root right now")
    who = "a syncd" if pid == UNKNOWN_PID else f"syncd pid {pid}"
    return Check(LOCK, True, f"{who} owns this root (running); that is fine")


def _git_archive(root: Path, database_url: str) -> Check:
    """Lock files that stop syncd's commits, and how the last commit and push went."""
    try:
        locks = find_git_locks(root)
    except StorageError as exc:
        fix = "Install git and let this user read the repository, or set git.enabled = false."
        return Check(GIT_ARCHIVE, False, exc.reason, fix)
    state = _archive_state(database_url)
    problems, fixes = _archive_problems(locks, state)
    if problems:
        return Check(GIT_ARCHIVE, False, "; ".join(problems), " ".join(fixes))
    details = ["no lock files stop commits"]
    if state.last_commit_sha and state.last_commit_at:
        moment = when(state.last_commit_at, datetime.now(UTC))
        details.append(f"last commit {state.last_commit_sha[:12]} on {moment}")
    own = [str(lock.path) for lock in locks if lock.syncds_own]
    if own:
        details.append(
            f"{', '.join(own)} left by an interrupted syncd; removed at the next commit "
            "(once no git command runs in the repository)"
        )
    return Check(GIT_ARCHIVE, True, "; ".join(details))


def _archive_problems(locks: list[GitLock], state: ArchiveState) -> tuple[list[str], list[str]]:
    """(what is wrong, how to fix each) for the git archive check."""
    foreign = [str(lock.path) for lock in locks if not lock.syncds_own]
    problems, fixes = [], []
    if foreign:
        verb = "exists and was" if len(foreign) == 1 else "exist and were"
        problems.append(f"{' and '.join(foreign)} {verb} not left by syncd")
        fixes.append(f"If no git command is running, delete {' and '.join(foreign)}.")
    if state.error:
        problems.append(f"the last commit failed: {state.error}")
        fixes.append(
            f"Fix what stopped the commit ({state.error}), then run 'syncd sync --once' to retry."
        )
    if state.push_error:
        problems.append(f"the last push failed: {state.push_error}")
        fixes.append(
            f"Fix what stopped the push ({state.push_error}); every sync tries it again "
            "('syncd sync --once' to try now)."
        )
    return problems, fixes


def _archive_state(database_url: str) -> ArchiveState:
    """The index's record of the last commit; empty when there is no readable index."""
    try:
        store = open_index(database_url)
        if store is None:
            return ArchiveState()
        with store:
            return store.archive_state()
    except SyncdError:
        return ArchiveState()  # the index check reports what is wrong with it
