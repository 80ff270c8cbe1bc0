"""Requests, answers and route templates, apart from the HTTP plumbing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from sandbox.errors import ApiError


@dataclass
class Call:
    """One request as a handler sees it."""

    method: str
    path: str
    query_text: str
    body_bytes: bytes
    params: dict[str, str] = field(default_factory=dict)
    account: str = ""

    def query(self, name: str) -> str | None:
        values = parse_qs(self.query_text).get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The JSON body; malformed JSON is DigiCert's ``bad_request_format``."""
        try:
            return json.loads(self.body_bytes or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ApiError.one(
                400,
                "bad_request_format",
                f"The request body is not valid JSON: {error}.",
            ) from error

    def int_param(self, name: str, what: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise ApiError.one(404, f"not_found|{what}", f"No {what} '{value}'.")
        return int(value)


@dataclass
class Answer:
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    drop_connection: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


Handler = Callable[[Any, Call], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, method: str, template: str, handler: Handler) -> Route:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        return cls(method, template, handler, re.compile(f"^{regex}$"))


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a path; 404 ``not_found|route`` when none (API.md, Errors)."""
    for route in routes:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    raise ApiError.one(404, "not_found|route", f"No route {method} {path}.")
