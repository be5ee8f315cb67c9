"""The wire: a keep-alive HTTP/1.1 handler doing auth, rate limits, faults, logging and writes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from syncd.devserver.faults import Fault, FaultBook
from syncd.devserver.headers import bearer_matches
from syncd.devserver.loopback import BadRequestBodyError, KeepAliveHandler, KeepAliveServer
from syncd.devserver.ratelimit import RateDecision, RateWindow
from syncd.devserver.requestlog import RequestLog, RequestRecord
from syncd.devserver.responses import Response, error_response, not_modified, raw_response
from syncd.devserver.routes import Api, ApiRequest, is_graphql, is_session_content

logger = logging.getLogger(__name__)

WRITE_CHUNK = 64 * 1024
MAX_REQUEST_BODY = 256 * 1024 * 1024
AUTH_ERROR = "Invalid or missing authentication token"
OVERSIZE_EXTRA = b"\n\n<!-- bytes the listing's markdownSize does not announce -->\n"


@dataclass(frozen=True)
class ServerContext:
    """Everything a request handler needs, shared by all connections."""

    api_key: str
    api: Api
    rate: RateWindow
    graphql_rate: RateWindow
    faults: FaultBook
    log: RequestLog

    def window_for(self, path: str) -> tuple[RateWindow, str]:
        """The rate window a request spends and what it counts: GraphQL has its own budget."""
        if is_graphql(path):
            return self.graphql_rate, "GraphQL queries"
        return self.rate, "requests"


class DevHTTPServer(KeepAliveServer):
    def __init__(self, address: tuple[str, int], context: ServerContext) -> None:
        self.context = context
        super().__init__(address, DevRequestHandler)


class DevRequestHandler(KeepAliveHandler):
    server_version = "syncd-devserver/0.1"

    def _dev_server(self) -> DevHTTPServer:
        assert isinstance(self.server, DevHTTPServer)
        return self.server

    def _serve(self) -> None:
        context = self._dev_server().context
        split = urlsplit(self.path)
        method, path = self.command, split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        window, counted = context.window_for(path)
        decision = window.hit()
        authorized = bearer_matches(self.headers.get("Authorization"), context.api_key)
        fault: Fault | None = None
        try:
            body = self._read_body()
        except BadRequestBodyError as exc:
            self.close_connection = True
            response = error_response(exc.status, exc.message)
        else:
            if not authorized:
                response = error_response(401, AUTH_ERROR)
            elif not decision.allowed:
                message = f"Rate limit of {decision.limit} {counted} exceeded; retry in "
                response = error_response(429, f"{message}{decision.retry_after} s")
            else:
                fault = context.faults.take(
                    method, path, session_content=is_session_content(method, path)
                )
                if fault is not None and fault.kind == "reset":
                    self._log(path, query, 0, authorized)
                    self._reset()
                    return
                request = ApiRequest(
                    method, path, query, body, self.headers["Accept"], self.headers["If-None-Match"]
                )
                response = self._answer(context.api, request, fault)
        response.headers.extend(decision.headers())
        self._log(path, query, response.status, authorized)
        truncate = fault is not None and fault.kind == "truncate"
        self._write(response, truncate=truncate)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _answer(self, api: Api, request: ApiRequest, fault: Fault | None) -> Response:
        """The response for an authorized request, shaped by the fault that hit it, if any."""
        try:
            if fault is not None and fault.kind == "status":
                if fault.status == 304:
                    # A lagging cache or replica: "not modified", whatever was asked.
                    return not_modified([])
                if fault.body is not None:
                    response = raw_response(fault.status, fault.body)
                else:
                    response = error_response(fault.status, f"Injected fault: {fault.status}")
                if fault.status in (429, 503):
                    response.headers.append(("Retry-After", "1"))
                return response
            if fault is not None and fault.kind == "body":
                return raw_response(200, fault.body or b"")
            if fault is not None and fault.kind == "latency":
                time.sleep(fault.delay)
            oversize = None
            if fault is not None and fault.kind == "oversize":
                oversize = fault.body or OVERSIZE_EXTRA
            return api.handle(request, oversize=oversize)
        except Exception:
            logger.exception("devserver: %s %s crashed", request.method, request.path)
            return error_response(500, "Internal devserver error")

    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise BadRequestBodyError(400, f"Unsupported Transfer-Encoding: {encoding}")
            return self._read_chunked()
        return self._read_sized_body(MAX_REQUEST_BODY)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequestBodyError(400, "Invalid chunk size") from None
            if size == 0:
                break
            total += size
            if total > MAX_REQUEST_BODY:
                raise BadRequestBodyError(413, f"Request body over {MAX_REQUEST_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers are ignored
        return b"".join(chunks)

    def _log(self, path: str, query: dict[str, str], status: int, authorized: bool) -> None:
        """Recorded before the response is written, so a client never sees it missing."""
        headers = getattr(self, "headers", None)
        self._dev_server().context.log.append(
            RequestRecord(
                method=self.command or "",
                path=path,
                query=query,
                status=status,
                if_none_match=None if headers is None else headers.get("If-None-Match"),
                accept=None if headers is None else headers.get("Accept"),
                authorized=authorized,
                accept_encoding=None if headers is None else headers.get("Accept-Encoding"),
                at=self._dev_server().context.rate.now(),
            )
        )

    def _write(self, response: Response, *, truncate: bool) -> None:
        try:
            self._send_head(response)
            if self.command == "HEAD" or not response.length:
                return
            limit = response.length // 2 if truncate else response.length
            sent = self._stream(response, limit)
        except OSError:
            logger.debug("devserver: client went away mid-response", exc_info=True)
            self.close_connection = True
            return
        if sent != limit:
            logger.error("devserver: body was %d bytes, announced %d", sent, limit)
        if truncate or sent != limit:
            self.close_connection = True

    def _send_head(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.length is not None:
            self.send_header("Content-Length", str(response.length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _stream(self, response: Response, limit: int) -> int:
        """Write at most `limit` body bytes in WRITE_CHUNK writes; returns bytes written."""
        buffer = bytearray()
        sent = 0
        for piece in response.parts:
            view = memoryview(piece)
            while view and sent + len(buffer) < limit:
                room = min(WRITE_CHUNK - len(buffer), limit - sent - len(buffer))
                buffer += view[:room]
                view = view[room:]
                if len(buffer) == WRITE_CHUNK:
                    self.wfile.write(buffer)
                    sent += len(buffer)
                    buffer.clear()
            if sent + len(buffer) >= limit:
                break
        if buffer:
            self.wfile.write(buffer)
            sent += len(buffer)
        return sent

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests (bad request line, unknown method...): a wrapped JSON error."""
        context = self._dev_server().context
        raw_path = getattr(self, "path", "") or ""
        window, _ = context.window_for(urlsplit(raw_path).path)
        decision: RateDecision = window.hit()
        response = error_response(code, message or HTTPStatus(code).phrase)
        response.headers.extend(decision.headers())
        self.close_connection = True
        headers = getattr(self, "headers", None)
        authorized = headers is not None and bearer_matches(
            headers.get("Authorization"), context.api_key
        )
        self._log(urlsplit(raw_path).path, {}, code, authorized)
        self._write(response, truncate=False)
