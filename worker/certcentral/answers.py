"""Reading DigiCert's answers: bodies, error lists, and the exceptions they make."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import httpx

from certrenew import __version__
from worker.certcentral.errors import (
    ApiErrorDetail,
    ApiKeyRejected,
    ApiPermanentError,
    ApiPermissionDenied,
    NotFound,
    UnexpectedResponse,
)
from worker.certcentral.models import (
    ResponseShapeError,
    normalize_pem,
)

USER_AGENT = f"certrenew/{__version__}"

Method = Literal["GET", "POST", "PUT"]
T = TypeVar("T")


def permanent_error(
    endpoint: str, status: int, errors: list[ApiErrorDetail]
) -> ApiPermanentError:
    codes = {error.code for error in errors}
    if status == 403 and (
        "access_denied|access_denied_invalid_key" in codes or "access_denied" in codes
    ):
        return ApiKeyRejected(endpoint, status, errors)
    if status == 403 and "access_denied|missing_permission" in codes:
        return ApiPermissionDenied(endpoint, status, errors)
    if status == 404:
        return NotFound(endpoint, status, errors)
    return ApiPermanentError(endpoint, status, errors)


def error_details(response: httpx.Response) -> list[ApiErrorDetail]:
    """Every entry of ``{"errors": [...]}``; none when the body is anything else."""
    try:
        body = response.json()
    except ValueError:
        return []
    entries = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    details = []
    for entry in entries:
        if isinstance(entry, dict):
            code = entry.get("code")
            message = entry.get("message")
            details.append(
                ApiErrorDetail(
                    code=str(code) if code is not None else "unknown",
                    message=str(message) if message is not None else "",
                )
            )
    return details


def answer_summary(response: httpx.Response, errors: list[ApiErrorDetail]) -> str:
    if errors:
        return "; ".join(str(error) for error in errors)
    content_type = response.headers.get("Content-Type", "no content type")
    return (
        f"no error list in the answer ({content_type}, {len(response.content)} bytes)"
    )


def describe_transport_error(error: httpx.RequestError) -> str:
    if isinstance(error, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "connection pool",
        }.get(type(error), "")
        return f"{kind} timeout".strip()
    return str(error) or "connection failed"


def without_frames(error: BaseException) -> BaseException:
    """The error and its causes, without their tracebacks.

    The frames of httpx, httpcore and h11 hold the request's headers, the
    X-DC-DEVKEY among them, in their local variables; a traceback renderer
    that shows locals (structlog's dict tracebacks do by default) would print
    the key (DESIGN.md: never in exceptions or logs). Type and message stay.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return error


def json_object(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise ResponseShapeError("the body is not JSON") from error
    if not isinstance(body, dict):
        raise ResponseShapeError(f"expected a JSON object, got {type(body).__name__}")
    return body


def certificate_body(response: httpx.Response, endpoint: str, format: str) -> bytes:
    body = response.content
    if not format.startswith("pem"):
        return body
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise UnexpectedResponse(
            endpoint,
            response.status_code,
            f"no PEM certificate in the {format} download ({len(body)} bytes)",
        )
    return normalize_pem(text)
