"""The PullStory wire: a keep-alive HTTP/1.1 handler doing auth, limits, faults, logging, writes.

It shares the SpecStory server's fault book, request log and rate window, not its handler:
the two protocols differ in envelopes, auth messages and rate-limit scopes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from syncd.devserver.faults import Fault, FaultBook
from syncd.devserver.headers import bearer_matches
from syncd.devserver.loopback import BadRequestBodyError, KeepAliveHandler, KeepAliveServer
from syncd.devserver.requestlog import RequestLog, RequestRecord
from syncd.devserver.responses import Response, raw_response
from tests.fakes.pullstory.routes import PullStoryApi, error_response

logger = logging.getLogger(__name__)

MAX_REQUEST_BODY = 1024 * 1024


@dataclass(frozen=True)
class PullStoryRecord(RequestRecord):
    """A request as the PullStory server saw it, with its JSON body (None: none, or not JSON)."""

    body: object = None


@dataclass(frozen=True)
class PullStoryContext:
    """Everything a request handler needs, shared by all connections."""

    api: PullStoryApi
    faults: FaultBook
    log: RequestLog
    clock: Callable[[], float]


class PullStoryHTTPServer(KeepAliveServer):
    def __init__(self, address: tuple[str, int], context: PullStoryContext) -> None:
        self.context = context
        super().__init__(address, PullStoryRequestHandler)


class PullStoryRequestHandler(KeepAliveHandler):
    server_version = "syncd-pullstory-devserver/0.1"

    def _server(self) -> PullStoryHTTPServer:
        assert isinstance(self.server, PullStoryHTTPServer)
        return self.server

    def _serve(self) -> None:
        context = self._server().context
        method, path = self.command, urlsplit(self.path).path
        authorization = self.headers.get("Authorization")
        try:
            body = self._read_body()
        except BadRequestBodyError as exc:
            self.close_connection = True
            self._finish(error_response(exc.status, "bad_request", exc.message), b"", None)
            return
        refusal = context.api.gate(method, path, authorization)
        if refusal is not None:
            self._finish(refusal, body, None)
            return
        fault = context.faults.take(method, path, session_content=False)
        if fault is not None and fault.kind == "reset":
            self._record(0, body)
            self._reset()
            return
        self._finish(self._answer(context.api, method, path, body, fault), body, fault)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _answer(
        self, api: PullStoryApi, method: str, path: str, body: bytes, fault: Fault | None
    ) -> Response:
        """The response for an authorized request, shaped by the fault that hit it, if any."""
        try:
            if fault is not None and fault.kind == "status":
                return _fault_response(fault)
            if fault is not None and fault.kind == "body":
                return raw_response(200, fault.body or b"")
            if fault is not None and fault.kind == "latency":
                time.sleep(fault.delay)
            return api.handle(method, path, body)
        except Exception:
            logger.exception("pullstory devserver: %s %s crashed", method, path)
            return error_response(500, "internal_error", "Internal devserver error")

    def _finish(self, response: Response, body: bytes, fault: Fault | None) -> None:
        self._record(response.status, body)
        self._write(response, truncate=fault is not None and fault.kind == "truncate")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") is not None:
            raise BadRequestBodyError(
                411, "Send the body with a Content-Length, not Transfer-Encoding"
            )
        return self._read_sized_body(MAX_REQUEST_BODY)

    def _record(self, status: int, body: bytes) -> None:
        """Recorded before the response is written, so a client never sees it missing."""
        context = self._server().context
        headers = getattr(self, "headers", None)
        split = urlsplit(getattr(self, "path", "") or "")
        context.log.append(
            PullStoryRecord(
                method=self.command or "",
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                status=status,
                if_none_match=None if headers is None else headers.get("If-None-Match"),
                accept=None if headers is None else headers.get("Accept"),
                authorized=headers is not None
                and bearer_matches(headers.get("Authorization"), context.api.token),
                accept_encoding=None if headers is None else headers.get("Accept-Encoding"),
                at=context.clock(),
                body=_json_or_none(body),
            )
        )

    def _write(self, response: Response, *, truncate: bool) -> None:
        data = b"".join(response.parts)
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.length is not None:
                self.send_header("Content-Length", str(len(data)))
            if self.close_connection or truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data[: len(data) // 2] if truncate else data)
        except OSError:
            logger.debug("pullstory devserver: client went away mid-response", exc_info=True)
            self.close_connection = True
        if truncate:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests (bad request line, unknown method...): a PullStory JSON error."""
        self.close_connection = True
        response = error_response(code, "bad_request", message or HTTPStatus(code).phrase)
        self._finish(response, b"", None)


def _fault_response(fault: Fault) -> Response:
    if fault.status in (204, 304):
        return Response(fault.status, [], (), None)
    if fault.body is not None:
        return raw_response(fault.status, fault.body)
    if fault.status == 429:
        message = "Injected fault: rate limited"
        headers = [("Retry-After", "1")]
        return error_response(429, "rate_limit_exceeded", message, headers, retry_after=1)
    headers = [("Retry-After", "1")] if fault.status == 503 else []
    return error_response(
        fault.status, "injected_fault", f"Injected fault: {fault.status}", headers
    )


def _json_or_none(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
