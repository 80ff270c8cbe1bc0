"""A real HTTP server on loopback, for the stand-ins that play a remote service.

The plumbing the stand-ins share: a ``ThreadingHTTPServer`` on 127.0.0.1 with a
port of its own, served from a daemon thread, started and stopped by the test.
Each request is read whole into an ``Incoming`` and handed to the stand-in's
``respond``, which decides the answer and writes it through the handler (most
with ``send``; a stand-in that hangs or drops a connection needs the handler
itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EVERY_METHOD = ("GET", "POST", "PUT", "DELETE", "PATCH")


@dataclass(frozen=True)
class Incoming:
    """One request as it arrived; ``target`` is the path with its query."""

    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


Respond = Callable[[Incoming, BaseHTTPRequestHandler], None]


class LoopbackHttpServer:
    """Serves ``methods`` through ``respond``; any other method gets 501."""

    def __init__(self, respond: Respond, *, methods: Iterable[str]) -> None:
        self._http = ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler_for(respond, methods)
        )
        # A short poll keeps stop() quick: shutdown waits for the next poll.
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def origin(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
) -> None:
    """Write one answer; a 204 carries neither a length nor a body (RFC 9110 15.3.5)."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if status != 204:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 204:
        handler.wfile.write(body)


def _handler_for(
    respond: Respond, methods: Iterable[str]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read what the stand-in recorded instead."""

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            incoming = Incoming(
                method=self.command,
                target=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            respond(incoming, self)

    # BaseHTTPRequestHandler finds the method ``do_<METHOD>`` by name.
    for method in methods:
        setattr(Handler, f"do_{method}", Handler.answer)
    return Handler
