"""HTTP plumbing: a threaded standard-library server in front of the service.

Per `/services/v2` request, in order: injected latency, the API key (403),
the rolling rate limits and 429 storms (429), injected 5xx, then the route.
`/admin` routes exist only with ``admin=True``.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sandbox import admin, api
from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.routing import Answer, Call, Route, match
from sandbox.service import SandboxService

API_PREFIX = "/services/v2"
ADMIN_PREFIX = "/admin"
KEY_HEADER = "X-DC-DEVKEY"
SHUTDOWN_POLL_SECONDS = 0.05


class SandboxServer:
    """A sandbox served on a background thread (``port=0`` picks a free one)."""

    def __init__(
        self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config
        self.service = SandboxService(config)
        handler = type("BoundHandler", (SandboxRequestHandler,), {"sandbox": self})
        self._http = ThreadingHTTPServer((host, port), handler)
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def host(self) -> str:
        return str(self._http.server_address[0])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.port}{ADMIN_PREFIX}"

    def start(self) -> None:
        """Serve on a daemon thread; the socket already listens when this returns."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="sandbox-http", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        # A short poll keeps stop() quick: tests start and stop many sandboxes.
        self._http.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS)

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def answer(self, method: str, target: str, key: str | None, body: bytes) -> Answer:
        parts = urlsplit(target)
        call = Call(method, parts.path, parts.query, body)
        if parts.path.startswith(API_PREFIX + "/"):
            call.path = parts.path.removeprefix(API_PREFIX)
            return self._api(call, key)
        if self.config.admin and parts.path.startswith(ADMIN_PREFIX + "/"):
            call.path = parts.path.removeprefix(ADMIN_PREFIX)
            return self._routed(admin.ROUTES, call)
        return _error_answer(
            ApiError.one(404, "not_found|route", f"No route {method} {parts.path}.")
        )

    def _api(self, call: Call, key: str | None) -> Answer:
        service = self.service
        if service.faults.latency_seconds():
            time.sleep(service.faults.latency_seconds())
        try:
            route, _ = match(api.ROUTES, call.method, call.path)
            template = f"{call.method} {route.template}"
        except ApiError:
            template = f"{call.method} (unknown)"

        with service.lock:
            answer = self._guarded(call, key)
            service.count(template, answer.status)
        return answer

    def _guarded(self, call: Call, key: str | None) -> Answer:
        service = self.service
        account = service.config.account_of(key) if key else None
        if key is None or account is None:
            return _error_answer(
                ApiError.one(
                    403,
                    "access_denied|access_denied_invalid_key",
                    "The API key is missing, unknown or revoked.",
                )
            )
        if not service.allow(key) or service.faults.storm_hits():
            answer = _error_answer(
                ApiError.one(
                    429,
                    "request_limit_exceeded",
                    "Too many requests for this API key; retry later.",
                )
            )
            # API.md leaves Retry-After unconfirmed: sent only when configured.
            retry_after = service.faults.settings.retry_after_seconds
            if retry_after:
                answer.headers["Retry-After"] = str(int(retry_after))
            return answer
        if service.faults.server_error_hits():
            return _error_answer(
                ApiError.one(503, "service_unavailable", "Injected server error.")
            )
        call.account = account
        return self._routed(api.ROUTES, call)

    def _routed(self, routes: list[Route], call: Call) -> Answer:
        service = self.service
        with service.lock:
            try:
                route, call.params = match(routes, call.method, call.path)
                service.tick()
                answer = route.handler(service, call)
            except ApiError as error:
                return _error_answer(error)
            if call.method != "GET":
                service.save()
            return answer


def _error_answer(error: ApiError) -> Answer:
    return Answer(error.status, error.body())


class SandboxRequestHandler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "certrenew-sandbox"
    # Headers and body go out in one segment: no Nagle / delayed-ACK stalls.
    disable_nagle_algorithm = True
    wbufsize = -1

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        key = self.headers.get(KEY_HEADER)
        answer = self.sandbox.answer(self.command, self.path, key, body)
        if answer.drop_connection:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = answer.payload()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if answer.status != 204:
            self.wfile.write(payload)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the sandbox's callers count requests through /admin/requests."""
