"""The HTTP server of `dirkit serve`: checks every request (Host, token, CSRF, Origin), then routes it."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dirkit.backends.trees import RemoteOptions
from dirkit.errors import DirkitError
from dirkit.web import sync_views, views
from dirkit.web.jobs import JsonObject
from dirkit.web.page import ASSETS, asset_text, render_index
from dirkit.web.security import CSRF_HEADER, TOKEN_HEADER, Gate, Secrets, allowed_hosts, token_cookie
from dirkit.web.workspace import Workspace

log = logging.getLogger("dirkit")
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT_SECONDS = 10.0
"""A client that sends nothing for this long is dropped (so stopping the server never waits on one)."""
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

CHECKED_HEADERS = ("Host", "Cookie", "Origin", TOKEN_HEADER, CSRF_HEADER)
Query = Mapping[str, str]
GetView = Callable[[Workspace, Query], JsonObject]
PostView = Callable[[Workspace, Mapping[str, object]], JsonObject]

GET_VIEWS: dict[str, GetView] = {
    "/api/runs": views.list_runs,
    "/api/backup-files": views.list_backup_files,
    "/api/plan-steps": views.plan_steps,
}
POST_VIEWS: dict[str, PostView] = {
    "/api/compare": views.start_compare,
    "/api/plan": views.start_plan,
    "/api/apply": views.start_apply,
    "/api/sync-plan": sync_views.start_sync_plan,
    "/api/sync-apply": sync_views.start_sync_apply,
    "/api/undo": views.start_undo,
    "/api/restore": views.start_restore,
}


class DirkitServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its gate and workspace; it joins its request threads on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], workspace: Workspace, secrets: Secrets | None = None
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)
        self.workspace = workspace
        host, port = self.server_address[0], self.server_address[1]
        self.port = int(port)
        self.bind_host = str(host)
        self.gate = Gate(secrets or Secrets.fresh(), allowed_hosts(self.bind_host, self.port), self.port)

    def url(self, with_token: bool = True) -> str:
        """Return the page's address (with the token, for the first visit)."""
        host = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={self.gate.secrets.token}" if with_token else base

    def handle_error(self, request: object, client_address: object) -> None:
        """Log a request that failed past its handler (a client gone mid-answer) instead of printing it."""
        log.debug("request from %s failed", client_address, exc_info=True)

    def close(self) -> None:
        """Stop the jobs (runs finish their current steps), then close the socket and join request threads."""
        self.workspace.jobs.close()
        self.server_close()


class RequestHandler(BaseHTTPRequestHandler):
    """One request: refused with 403 unless its Host, token (and for a POST, Origin and CSRF) are right."""

    server: DirkitServer
    protocol_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_SECONDS
    server_version = "dirkit"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the library never prints, and request lines may carry the token."""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: JsonObject) -> None:
        body = json.dumps(value, ensure_ascii=True).encode("ascii")
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": self.server.workspace.scrub(message)})

    def _headers(self) -> dict[str, str]:
        return {name: value for name in CHECKED_HEADERS if (value := self.headers.get(name)) is not None}

    def _query(self) -> dict[str, str]:
        pairs = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {name: values[-1] for name, values in pairs.items()}

    def _route(self) -> str:
        return urlsplit(self.path).path

    def _allowed(self, query: Mapping[str, str]) -> bool:
        gate = self.server.gate
        if not gate.host_ok(self.headers.get("Host")):
            self._error(
                HTTPStatus.FORBIDDEN, "this server answers only to its own address (Host header refused)"
            )
            return False
        if not gate.token_ok(self._headers(), query.get("token")):
            self._error(
                HTTPStatus.FORBIDDEN, "the session token is missing or wrong: open the URL dirkit printed"
            )
            return False
        return True

    def do_GET(self) -> None:
        """Serve the page, its assets, a compare report, a job's state, or a listing."""
        query = self._query()
        if not self._allowed(query):
            return
        route = self._route()
        if route == "/" and "token" in query:
            headers = {
                "Set-Cookie": token_cookie(self.server.port, self.server.gate.secrets.token),
                "Location": "/",
            }
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", headers)
        elif route == "/":
            space = self.server.workspace
            page = render_index(self.server.gate.secrets.csrf, space.shown_trees()).encode("utf-8")
            self._send(
                HTTPStatus.OK, page, "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_POLICY}
            )
        elif route.startswith("/assets/") and route[len("/assets/") :] in ASSETS:
            name = route[len("/assets/") :]
            self._send(HTTPStatus.OK, asset_text(name).encode("utf-8"), ASSETS[name])
        elif route.startswith("/report/"):
            self._report(route[len("/report/") :])
        elif route.startswith("/api/jobs/"):
            job = self.server.workspace.jobs.get(route[len("/api/jobs/") :])
            if job is None:
                self._error(HTTPStatus.NOT_FOUND, f"{route}: no such job")
            else:
                self._json(HTTPStatus.OK, job.to_json())
        elif route in GET_VIEWS:
            self._call(lambda: GET_VIEWS[route](self.server.workspace, query), HTTPStatus.OK)
        elif route in POST_VIEWS:
            self._error(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{route}: changes things, so only a POST from the page"
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, f"{route}: not found")

    def _report(self, report_id: str) -> None:
        page = self.server.workspace.reports.get(report_id)
        if page is None:
            self._error(HTTPStatus.NOT_FOUND, f"{report_id}: no such compare (compare again)")
            return
        body = page.encode("utf-8", "surrogateescape")
        self._send(
            HTTPStatus.OK, body, "text/html; charset=utf-8", {"Content-Security-Policy": REPORT_POLICY}
        )

    def do_POST(self) -> None:
        """Start a job; only from this server's page (Origin and CSRF token checked)."""
        if not self._allowed({}):
            return
        if not self.server.gate.post_ok(self._headers()):
            self._error(
                HTTPStatus.FORBIDDEN, "refused: a change must come from this server's page (Origin, CSRF)"
            )
            return
        route = self._route()
        view = POST_VIEWS.get(route)
        if view is None:
            self._error(HTTPStatus.NOT_FOUND, f"{route}: not found")
            return
        body = self._body()
        if body is not None:
            self._call(lambda: view(self.server.workspace, body), HTTPStatus.ACCEPTED)

    def _body(self) -> dict[str, object] | None:
        if self.headers.get_content_type() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request as application/json")
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._error(
                HTTPStatus.BAD_REQUEST, f"the request body must have a length of at most {MAX_BODY_BYTES}"
            )
            return None
        try:
            value = json.loads(self.rfile.read(length) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            value = None
        if not isinstance(value, dict):
            self._error(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
            return None
        return value

    def _call(self, view: Callable[[], JsonObject], status: int) -> None:
        try:
            value = view()
        except (DirkitError, OSError) as error:
            self._error(HTTPStatus.BAD_REQUEST, self.server.workspace.message(error))
            return
        self._json(status, value)

    def _refuse_method(self) -> None:
        if self._allowed({}):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command}: only GET and POST are answered")

    def do_PUT(self) -> None:
        """Refuse: nothing is changed by PUT."""
        self._refuse_method()

    def do_DELETE(self) -> None:
        """Refuse: nothing is deleted by DELETE (deletions are steps of a plan)."""
        self._refuse_method()


def start_server(trees: Sequence[str], remote: RemoteOptions, bind: str, port: int) -> DirkitServer:
    """Return a server listening on bind:port (port 0: a free one) for the given start trees."""
    return DirkitServer((bind, port), Workspace(trees=tuple(trees), remote=remote))


def serve_until_stopped(server: DirkitServer, ready: threading.Event | None = None) -> None:
    """Serve requests until interrupted (Ctrl-C raises here), then stop jobs and join every thread."""
    try:
        if ready is not None:
            ready.set()
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close()
