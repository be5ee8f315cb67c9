"""One test's world: the hostile server, a second host that must never be contacted, a
mirror root in a temp dir with a sentinel folder beside it, and `syncd` run as a user
runs it (the CLI's own entry point, in this process: a subprocess costs ~1 s a run)."""

from __future__ import annotations

import io
import sys
import time
import traceback
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from syncd.cli import run
from syncd.config import load_settings
from syncd.daemon.cycle import run_cycle
from syncd.daemon.runtime import build_client, sync_options
from syncd.errors import SyncdError
from syncd.index.store import Store
from syncd.logs import configure_logging
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from tests.hostile import checks
from tests.hostile.account import (
    API_KEY,
    PULLSTORY_KEY,
    PULLSTORY_PREFIX,
    Account,
    answer,
    healthy_account,
)
from tests.hostile.checks import Run
from tests.hostile.perturb import Case, Place
from tests.hostile.server import Answer, HostileServer, Request

SECRETS = [API_KEY, PULLSTORY_KEY]

#: Settings every run gets: retries without waiting, short timeouts, and waits for the
#: rate budget short enough that a test never sits through one.
QUICK = {
    "SYNCD_RETRY__ATTEMPTS": "2",
    "SYNCD_RETRY__BASE_DELAY_SECONDS": "0",
    "SYNCD_RETRY__MAX_RETRY_AFTER_SECONDS": "5",
    "SYNCD_BUDGET__MAX_INLINE_WAIT_SECONDS": "5",
    "SYNCD_TIMEOUT_SECONDS": "2",
}


class World:
    def __init__(self, base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.base = base
        self.root = base / "mirror"
        self.outside = base / "outside"
        self.outside.mkdir()
        (self.outside / "SENTINEL").write_text("nothing may join me\n")
        self.healthy = healthy_account()
        self.account: Account = self.healthy
        self.case: Case | None = None
        self.server = HostileServer(self._respond)
        self.evil = HostileServer(lambda request: Answer(401, b"who are you?"))
        self.planted: set[Path] = set()
        self.planted_targets: set[str] = set()  # kept while syncd moves a planted link aside
        self._monkeypatch = monkeypatch
        self._stack = ExitStack()
        self._baseline: dict[str, str] = {}

    def __enter__(self) -> World:
        self._stack.enter_context(self.server)
        self._stack.enter_context(self.evil)
        env = QUICK | {
            "SYNCD_BASE_URL": self.server.url,
            "SYNCD_API_KEY": API_KEY,
            "SYNCD_ROOT": str(self.root),
            "SYNCD_PULLSTORY__BASE_URL": self.server.url + PULLSTORY_PREFIX,
            "SYNCD_PULLSTORY__API_KEY": PULLSTORY_KEY,
        }
        for name, value in env.items():
            self._monkeypatch.setenv(name, value)
        self.settle()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    @property
    def place(self) -> Place:
        return Place(self.root, self.outside, self.evil.url)

    # --- the server's mood ----------------------------------------------------------------

    def turn_hostile(self, case: Case) -> None:
        account = self.healthy.copy()
        if case.account is not None:
            case.account(account)
        self.account, self.case = account, case

    def heal(self) -> None:
        self.account, self.case = self.healthy, None

    def _respond(self, request: Request) -> Answer:
        case, account = self.case, self.account
        if case is None or case.bend is None or not case.match(request):
            return answer(account, request)
        # A bent answer is a full one: no 304 may hide the bend.
        request.headers.pop("if-none-match", None)
        bent = case.bend(request, answer(account, request))
        evil = self.evil.url.encode()
        bent.headers = [(k, v.replace(b"{evil}", evil)) for k, v in bent.headers]
        return bent

    # --- running syncd ----------------------------------------------------------------------

    def syncd(self, *argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(argv))
        return Run(list(argv), code, out.getvalue(), err.getvalue(), time.perf_counter() - started)

    def sync(self) -> Run:
        return self.syncd("sync", "--once")

    def incremental(self) -> Run:
        """One incremental cycle wired as `syncd run` wires it (the recent page first);
        exit code as the CLI would give it: 70 for anything but a SyncdError."""
        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with redirect_stdout(out), redirect_stderr(err):
            code = _incremental_cycle()
        argv = ["(daemon)", "incremental"]
        return Run(argv, code, out.getvalue(), err.getvalue(), time.perf_counter() - started)

    # --- what must hold after every run ------------------------------------------------------

    def settle(self) -> None:
        """What lies outside the root now is what must still lie there after each run."""
        self._baseline = checks.snapshot_outside(self.base, self.root)

    def problems(self, run: Run) -> list[str]:
        problems = checks.output_problems(run, SECRETS)
        now = checks.snapshot_outside(self.base, self.root)
        changed = sorted(
            k for k in now.keys() | self._baseline.keys() if now.get(k) != self._baseline.get(k)
        )
        problems += [f"written outside the root: {path}" for path in changed]
        problems += [f"a secret is in {path}" for path in checks.files_holding(self.base, SECRETS)]
        problems += [
            f"symlink out of the root: {link}"
            for link in checks.links_leaving(self.root, self.planted, self.planted_targets)
        ]
        if checks.git_objects_holding(self.root, SECRETS):
            problems.append("a secret is in a git object")
        problems += [f"another host was contacted: {r.method} {r.target}" for r in self.evil.seen()]
        for request in self.server.seen():
            names = [name.lower() for name, _ in request.raw_headers]
            if b"x-injected" in names:
                problems.append(f"a header was injected into {request.method} {request.target}")
        return problems

    def assert_sound(self, run: Run) -> None:
        problems = self.problems(run)
        assert not problems, f"{run.describe()}\n  " + "\n  ".join(problems)

    def assert_mirror_is(self, account: Account) -> None:
        """Every session of `account` on disk, once, byte for byte; nothing else."""
        on_disk = checks.mirrored(self.root)
        want = {s.id: s.markdown for s in account.sessions}
        assert sorted(on_disk) == sorted(want), f"sessions on disk: {sorted(on_disk)}"
        for session_id, copies in on_disk.items():
            assert len(copies) == 1, f"{session_id} is mirrored {len(copies)} times: {copies}"
            path, body = copies[0]
            assert body == want[session_id], f"{path} differs from the cloud's bytes"


def _incremental_cycle() -> int:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        key = settings.resolve_api_key() or ""
        with (
            Store.open(settings.index_url) as store,
            build_client(settings, settings.base_url, key, interactive=False) as client,
        ):
            mirror = Mirror(settings.mirror_root)
            engine = SyncEngine(client, store, mirror, options=sync_options(settings))
            report = run_cycle(settings, store, engine, "incremental")
        return 0 if report.ok else 1
    except SyncdError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.exit_code
    except Exception:
        sys.stderr.write("unexpected error (the daemon logs it and carries on):\n")
        traceback.print_exc()
        return 70
