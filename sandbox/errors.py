"""The sandbox's own errors: it shares nothing with certrenew but HTTP.

``SandboxError`` is the root. ``ApiError`` is an answer to send: an HTTP status
and the list of ``{"code", "message"}`` problems DigiCert puts under ``errors``
(API.md, Errors: more than one can come back at once).
"""

from __future__ import annotations

from dataclasses import dataclass


class SandboxError(Exception):
    """Root of every error the sandbox raises."""


class SandboxConfigError(SandboxError):
    """The sandbox was started with settings it cannot use."""


@dataclass(frozen=True)
class Problem:
    """One entry of a DigiCert ``errors`` list."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ApiError(SandboxError):
    """An error answer: the HTTP status and every problem found."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.code for problem in problems))
        self.status = status
        self.problems = problems

    @classmethod
    def one(cls, status: int, code: str, message: str) -> ApiError:
        return cls(status, [Problem(code, message)])

    def body(self) -> dict[str, list[dict[str, str]]]:
        return {"errors": [problem.to_json() for problem in self.problems]}


def not_found(what: str, given: str) -> ApiError:
    return ApiError.one(404, f"not_found|{what}", f"No {what} found for '{given}'.")
