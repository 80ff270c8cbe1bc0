"""A real HTTP server on loopback that answers from a script, for the client tests.

Each test scripts the answers it needs, in order (``Reply``, ``Hang``, ``Drop``),
and reads back what the server received. The sandbox plays the whole API; this
server plays single answers, including the broken ones the sandbox is not built
to give at a chosen moment.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/services/v2"


@dataclass(frozen=True)
class Reply:
    """An answer: a JSON body unless ``body`` is bytes already."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Read the request, then answer nothing until the server stops."""


@dataclass(frozen=True)
class Drop:
    """Read the request, then close the connection without a word."""


Answer = Reply | Hang | Drop


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class CannedServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a port of its own."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll keeps stop() quick: shutdown waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PREFIX}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    def _next(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            if self._answers:
                return self._answers.popleft()
        return Reply(
            599,
            {"errors": [{"code": "unscripted", "message": "no answer scripted"}]},
        )

    def _wait_until_stopped(self) -> None:
        self._released.wait()


def _handler_for(server: CannedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``received`` instead."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            request = Received(
                method=self.command,
                path=url.path.removeprefix(PREFIX),
                query=parse_qs(url.query),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            answer = server._next(request)

            if isinstance(answer, Hang):
                server._wait_until_stopped()
                self.close_connection = True
                return
            if isinstance(answer, Drop):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(answer)

        def _reply(self, answer: Reply) -> None:
            if isinstance(answer.body, bytes):
                payload = answer.body
                content_type = "text/plain"
            elif answer.body is None:
                payload = b""
                content_type = ""
            else:
                payload = json.dumps(answer.body).encode()
                content_type = "application/json"
            headers = {"Content-Type": content_type, **answer.headers}

            self.send_response(answer.status)
            for name, value in headers.items():
                if value:
                    self.send_header(name, value)
            if answer.status != 204:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if answer.status != 204:
                self.wfile.write(payload)

    return Handler
