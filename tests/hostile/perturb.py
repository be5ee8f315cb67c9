"""Cases: one perturbation of the healthy account, and the helpers that spell them.

A case names the answers it bends (`match`), how it bends them (`bend`, given the healthy
answer), or how it changes the account itself (`account`) while it is active. Everything
else about the run is the same for every case (see test_hostile_server.py).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.hostile.account import Account, Session, route_of
from tests.hostile.server import Answer, Request

Match = Callable[[Request], bool]
Bend = Callable[[Request, Answer], Answer]


@dataclass(frozen=True)
class Place:
    """Where a case runs: the mirror root, a sibling folder that must stay untouched,
    and a second server that must never hear from syncd."""

    root: Path
    outside: Path
    evil_url: str


@dataclass(frozen=True)
class Case:
    name: str
    match: Match = lambda request: False
    bend: Bend | None = None
    account: Callable[[Account], None] | None = None
    warm: bool = False  # mirror the healthy account first: nothing it wrote may be lost
    git: bool = False  # run with SYNCD_GIT__ENABLED=true and search the git objects too
    expect_ok: bool = False  # a legal answer: the hostile run itself must exit 0
    # Plant something in the tree before the hostile run; undo it before converging.
    prepare: Callable[[Place], None] | None = None
    undo: Callable[[Place], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # The hostile run ends with a 429: the next one may honour it instead of converging,
    # if the pause it announces is bounded (see PAUSE_CEILING in the test).
    pauses: bool = False
    # Sessions the case deletes in the cloud: the only ones the hostile run may remove.
    may_remove: frozenset[str] = frozenset()
    # The hostile run must end within this many seconds (a server that drips).
    max_seconds: float | None = None


# --- which answers -----------------------------------------------------------------------


def on(route: str, key: str | None = None, method: str | None = None) -> Match:
    """Requests for `route` (see account.route_of), of one project or session when `key`
    is given (the last id in the path), and of one method when `method` is given."""

    def match(request: Request) -> bool:
        if route_of(request) != route or (method and request.method != method):
            return False
        return key is None or key in request.segments

    return match


def anything(request: Request) -> bool:
    return route_of(request) != "pullstory"


# --- how they are bent -------------------------------------------------------------------


def header(name: str, value: bytes | str, *, status: int | None = None) -> Bend:
    def bend(request: Request, answer: Answer) -> Answer:
        if status is not None:
            answer.status = status
        return answer.set(name, value)

    return bend


def headers(*pairs: tuple[str, bytes | str]) -> Bend:
    def bend(request: Request, answer: Answer) -> Answer:
        for name, value in pairs:
            answer.set(name, value)
        return answer

    return bend


def raw_header_line(line: bytes) -> Bend:
    """Append a header line exactly as given (it may hold CR, LF or other bytes)."""

    def bend(request: Request, answer: Answer) -> Answer:
        name, _, value = line.partition(b": ")
        answer.headers.append((name.decode("latin-1"), value))
        return answer

    return bend


def status(code: int, body: bytes = b"", **extra_headers: str) -> Bend:
    def bend(request: Request, answer: Answer) -> Answer:
        bent = Answer(code, body, [h for h in answer.headers if h[0].startswith("X-Rate")])
        for name, value in extra_headers.items():
            bent.set(name.replace("_", "-"), value)
        return bent

    return bend


def body(data: bytes, **wire: Any) -> Bend:
    def bend(request: Request, answer: Answer) -> Answer:
        answer.body = data
        for key, value in wire.items():
            setattr(answer, key, value)
        return answer

    return bend


def wire(**fields: Any) -> Bend:
    """Same body, different wire behaviour (length, chunking, dripping, resets)."""

    def bend(request: Request, answer: Answer) -> Answer:
        for key, value in fields.items():
            setattr(answer, key, value(answer) if callable(value) else value)
        return answer

    return bend


def payload(change: Callable[[Any], Any]) -> Bend:
    """Rewrite the decoded JSON payload; `change` returns the new one (or bytes)."""

    def bend(request: Request, answer: Answer) -> Answer:
        if answer.status != 200:
            return answer
        new = change(json.loads(answer.body))
        answer.body = new if isinstance(new, bytes) else json.dumps(new).encode()
        return answer

    return bend


def gzipped(request: Request, answer: Answer) -> Answer:
    answer.body = gzip.compress(answer.body)
    return answer.set("Content-Encoding", "gzip")


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def listing_with(change: Callable[[Any], Any]) -> Bend:
    """Change `data.sessions` of a listing (a list of summaries) with `change`."""

    def bend(data: Any) -> Any:
        data["data"]["sessions"] = change(data["data"]["sessions"])
        return data

    return payload(bend)


def paginated(request: Request, answer: Answer) -> Answer:
    """The listing in two pages: all but the last session, then (for any query parameter
    whose value is the cursor) the last one."""
    data = json.loads(answer.body)
    sessions = data["data"]["sessions"]
    if "page-2" in request.query.values():
        data["data"].update(sessions=sessions[-1:], nextCursor=None)
    else:
        data["data"].update(sessions=sessions[:-1], nextCursor="page-2")
    answer.body = json.dumps(data).encode()
    return answer


def bare_lf(answer: Answer) -> bytes:
    """The whole answer with bare LF line endings instead of CRLF."""
    head = [f"HTTP/1.1 {answer.status} OK".encode()] + [
        k.encode() + b": " + v for k, v in answer.headers
    ]
    head += [b"Content-Length: %d" % len(answer.body), b"Connection: close"]
    return b"\n".join(head) + b"\n\n" + answer.body


# --- account changes ---------------------------------------------------------------------


def rename(session_id: str, name: str) -> Callable[[Account], None]:
    def change(account: Account) -> None:
        account.session(session_id).name = name

    return change


def rename_project(project_id: str, name: str) -> Callable[[Account], None]:
    def change(account: Account) -> None:
        next(p for p in account.projects if p["id"] == project_id)["name"] = name

    return change


def extra_session(
    session_id: str, project_id: str, name: str = "extra"
) -> Callable[[Account], None]:
    """One more session, with a hostile id or project id, while the case is active."""

    def change(account: Account) -> None:
        template = account.sessions[0]
        account.sessions.append(
            Session(
                session_id,
                project_id,
                name,
                b"# extra\n\n_**User**_\n\nhello\n",
                template.started_at,
                template.updated_at,
            )
        )

    return change


def extra_project(project: dict[str, Any]) -> Callable[[Account], None]:
    def change(account: Account) -> None:
        account.projects.append(project)

    return change


def change_session(session_id: str, markdown: bytes) -> Callable[[Account], None]:
    def change(account: Account) -> None:
        account.session(session_id).markdown = markdown

    return change


def remove_session(session_id: str) -> Callable[[Account], None]:
    """The session is deleted in the cloud while the case is active."""

    def change(account: Account) -> None:
        account.sessions = [s for s in account.sessions if s.id != session_id]

    return change


def both(*changes: Callable[[Account], None]) -> Callable[[Account], None]:
    def change(account: Account) -> None:
        for one in changes:
            one(account)

    return change
