"""The scheduler's HTTP server: the status page, /metrics and the probes.

A stdlib ``ThreadingHTTPServer`` in a daemon thread, started and stopped by
``SchedulerService``. It serves whether this scheduler leads or stands by:
Kubernetes probes a standby too.

- ``GET /``: the status page (``scheduler.status_page``);
- ``POST /requeue``: requeue one failed renewal (a form on the page);
- ``GET /metrics``: Prometheus text, the default registry (counters of API
  calls and renewals) and the scheduler's scrape-time gauges;
- ``GET /healthz``: 200 while the process serves;
- ``GET /readyz``: 200 when Redis answers and the configuration is usable
  (the API key can be read), else 503 with the reason.

Cross-site requests. The requeue form carries a per-process random token in a
hidden field, and the page sets the same token in a ``SameSite=Strict``,
``HttpOnly`` cookie. A POST is accepted only when the field and the cookie
both hold the token and, when the browser sends an ``Origin`` (or, failing
that, a ``Referer``), it names this server's host. Another site can neither
read the token (same-origin policy) nor make the browser send the cookie
(SameSite=Strict), and an Origin from elsewhere is refused before anything is
read. A refused POST gets 403 and changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import redis
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from certrenew.errors import CertrenewError
from scheduler.metrics import (
    SchedulerCollector,
    read_queue_depths,
    read_renewal_facts,
)
from scheduler.requeue import requeue_renewal
from scheduler.status_page import (
    FAILED_SHOWN,
    IN_FLIGHT_SHOWN,
    StatusView,
    render_status_page,
)
from worker.ledger import LedgerConflict
from worker.runtime import Runtime

if TYPE_CHECKING:
    from scheduler.service import SchedulerState

log = structlog.get_logger(__name__)

CSRF_COOKIE = "certrenew_csrf"
MAX_FORM_BYTES = 4096
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


class StatusServer:
    """The HTTP server of one scheduler process."""

    def __init__(
        self,
        runtime: Runtime,
        state: SchedulerState,
        *,
        holder: str,
        host: str,
        port: int,
    ) -> None:
        self.runtime = runtime
        self.state = state
        self.holder = holder
        # One token per process: enough, since it only has to be unguessable
        # by other sites; a restart simply asks the operator to reload.
        self.csrf_token = secrets.token_urlsafe(32)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SchedulerCollector(runtime, state))
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="status-http", daemon=True
        )
        self._thread.start()
        log.info("http_listening", host=self._httpd.server_address[0], port=self.port)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    # -- what the routes answer ------------------------------------------------

    def metrics_text(self) -> bytes:
        return generate_latest(REGISTRY) + generate_latest(self.registry)

    def readiness(self) -> str | None:
        """None when ready, else the reason (never a secret)."""
        try:
            self.runtime.redis.ping()
        except redis.RedisError as error:
            return f"redis unreachable: {error}"
        try:
            self.runtime.settings.certcentral.read_api_key()
        except (CertrenewError, OSError) as error:
            return f"configuration: {error}"
        return None

    def status_view(self, now: datetime) -> StatusView:
        with self.state.lock:
            scan = self.state.last_scan
            scheduler_view = StatusView(
                now=now,
                holder=self.holder,
                is_leader=self.state.is_leader,
                last_scan_at=self.state.last_scan_at,
                last_scan_seconds=self.state.last_scan_seconds,
                last_scan_entries=self.state.last_scan_entries,
                last_scan_problems=len(scan.problems) if scan else 0,
                last_sync_at=self.state.last_sync_at,
                next_due=scan.next_due if scan else [],
                queues=None,
                renewals=None,
                in_flight=[],
                failed=[],
                rate_budget=[],
                key_rejection=None,
            )
        try:
            return replace(
                scheduler_view,
                queues=read_queue_depths(self.runtime.redis),
                renewals=read_renewal_facts(self.runtime, now=now),
                # Only the rows the page shows; the counts come from ZCARDs.
                in_flight=self.runtime.ledger.in_flight(limit=IN_FLIGHT_SHOWN),
                failed=self.runtime.ledger.failed(limit=FAILED_SHOWN),
                rate_budget=self.runtime.budget.usage(),
                key_rejection=self.runtime.key_rejection.current(now),
            )
        except redis.RedisError as error:
            return replace(scheduler_view, redis_error=str(error))

    def refusal(
        self, headers: dict[str, str], form: dict[str, list[str]]
    ) -> str | None:
        """Why a POST must be refused as cross-site, or None to accept it."""
        host = headers.get("host", "")
        claimed = headers.get("origin") or headers.get("referer")
        if claimed and urlsplit(claimed).netloc != host:
            return f"cross-site request refused (origin {claimed!r} is not {host!r})"
        field = (form.get("csrf_token") or [""])[0]
        if not hmac.compare_digest(field.encode(), self.csrf_token.encode()):
            return "cross-site request refused (missing or wrong form token)"
        cookie = _cookie(headers.get("cookie", ""), CSRF_COOKIE)
        if not hmac.compare_digest(cookie.encode(), self.csrf_token.encode()):
            return "cross-site request refused (missing or wrong token cookie)"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: StatusServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "certrenew"
    sys_version = ""

    def do_GET(self) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._send(HTTPStatus.OK, TEXT_TYPE, b"ok\n")
        elif path == "/readyz":
            reason = app.readiness()
            if reason is None:
                self._send(HTTPStatus.OK, TEXT_TYPE, b"ready\n")
            else:
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE, TEXT_TYPE, f"{reason}\n".encode()
                )
        elif path == "/metrics":
            self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, app.metrics_text())
        elif path == "/":
            page = render_status_page(
                app.status_view(datetime.now(UTC)), csrf_token=app.csrf_token
            )
            cookie = (
                f"{CSRF_COOKIE}={app.csrf_token}; Path=/; HttpOnly; SameSite=Strict"
            )
            self._send(HTTPStatus.OK, HTML_TYPE, page.encode(), cookie=cookie)
        else:
            self._send(HTTPStatus.NOT_FOUND, TEXT_TYPE, b"not found\n")

    def do_POST(self) -> None:
        app = self.server.app
        if urlsplit(self.path).path != "/requeue":
            self._send(HTTPStatus.NOT_FOUND, TEXT_TYPE, b"not found\n")
            return
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_FORM_BYTES:
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TEXT_TYPE, b"form too large\n"
            )
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        headers = {name.lower(): value for name, value in self.headers.items()}
        refusal = app.refusal(headers, form)
        if refusal is not None:
            log.warning("requeue_refused", reason=refusal)
            self._send(HTTPStatus.FORBIDDEN, TEXT_TYPE, f"{refusal}\n".encode())
            return

        thumbprint = (form.get("thumbprint") or [""])[0]
        try:
            requeue_renewal(app.runtime, thumbprint, now=datetime.now(UTC))
        except (LedgerConflict, ValueError) as error:
            self._send(
                HTTPStatus.CONFLICT, TEXT_TYPE, f"not requeued: {error}\n".encode()
            )
            return
        except redis.RedisError as error:
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE, TEXT_TYPE, f"redis: {error}\n".encode()
            )
            return
        # Post/redirect/get: a reload of the page does not post again.
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        *,
        cookie: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        if cookie is not None:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug(
            "http_request", request=self.requestline, client=self.client_address[0]
        )


def _cookie(header: str, name: str) -> str:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return ""
    morsel = cookies.get(name)
    return "" if morsel is None else morsel.value
