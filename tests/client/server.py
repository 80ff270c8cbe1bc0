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
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback_http import Incoming, LoopbackHttpServer, send

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
    """A loopback HTTP server with a port of its own, answering from the script."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._http = LoopbackHttpServer(self._respond, methods=("GET", "POST", "PUT"))

    @property
    def base_url(self) -> str:
        return f"{self._http.origin}{PREFIX}"

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._released.set()
        self._http.stop()

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

    def _respond(self, incoming: Incoming, handler: BaseHTTPRequestHandler) -> None:
        request = Received(
            method=incoming.method,
            path=incoming.path.removeprefix(PREFIX),
            query=incoming.query,
            headers=incoming.headers,
            body=incoming.body,
        )
        answer = self._next(request)

        if isinstance(answer, Hang):
            self._released.wait()
            handler.close_connection = True
            return
        if isinstance(answer, Drop):
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        _reply(handler, answer)


def _reply(handler: BaseHTTPRequestHandler, answer: Reply) -> None:
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

    send(
        handler,
        answer.status,
        payload,
        {name: value for name, value in headers.items() if value},
    )
