"""DigiCert's error answers, as exceptions that say whether a retry can help.

Every 4xx/5xx body is ``{"errors": [{"code": ..., "message": ...}, ...]}`` and
may hold several entries at once (API.md, "Errors"); every entry is kept.

    CertrenewError
    ├── PermanentError
    │   └── ApiPermanentError        4xx other than 408 and 429
    │       ├── ApiKeyRejected       403 access_denied|access_denied_invalid_key
    │       ├── ApiPermissionDenied  403 access_denied|missing_permission
    │       ├── NotFound             404
    │       └── UnexpectedResponse   a 2xx answer whose JSON has the wrong shape
    └── TransientError
        └── ApiTransientError        5xx, 408, timeouts, connection errors
            ├── RateLimited          429, with Retry-After when DigiCert sends one
            └── OutcomeUnknown       a POST that may have created an order

Each of them also is an ``ApiError``: the HTTP status (``None`` when no answer
came), the error entries and the route template of the call. Neither the API
key nor an id appears in an ``endpoint``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from certrenew.errors import PermanentError, TransientError


@dataclass(frozen=True)
class ApiErrorDetail:
    """One entry of DigiCert's ``errors`` list."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


class ApiError:
    """What every CertCentral error carries, whichever branch it is on."""

    status: int | None
    errors: list[ApiErrorDetail]
    endpoint: str

    def _set_api_fields(
        self, endpoint: str, status: int | None, errors: Sequence[ApiErrorDetail]
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.errors = list(errors)

    @property
    def codes(self) -> list[str]:
        return [error.code for error in self.errors]


def describe_errors(errors: Sequence[ApiErrorDetail]) -> str:
    """``code: message; code: message``, or a note that there were none."""
    if not errors:
        return "no error details in the answer"
    return "; ".join(str(error) for error in errors)


class ApiPermanentError(ApiError, PermanentError):
    """DigiCert refused the request; sending it again gets the same answer."""

    verb = "refused"

    def __init__(
        self, endpoint: str, status: int, errors: Sequence[ApiErrorDetail]
    ) -> None:
        self._set_api_fields(endpoint, status, errors)
        code = errors[0].code if errors else f"http_{status}"
        super().__init__(
            f"DigiCert {self.verb} {endpoint} (HTTP {status}): "
            f"{describe_errors(errors)}",
            code=code,
        )


class ApiKeyRejected(ApiPermanentError):
    """The API key is unknown or revoked: every call of every worker will fail."""

    verb = "rejected the API key on"


class ApiPermissionDenied(ApiPermanentError):
    """The key is valid but lacks the permission this call needs."""

    verb = "denied the API key's permission for"


class NotFound(ApiPermanentError):
    """The order, certificate, product or route does not exist."""

    verb = "found nothing at"


class UnexpectedResponse(ApiPermanentError):
    """A success answer whose JSON lacks what the API documents."""

    def __init__(self, endpoint: str, status: int, problem: str) -> None:
        detail = ApiErrorDetail("unexpected_response", problem)
        ApiError._set_api_fields(self, endpoint, status, [detail])
        PermanentError.__init__(
            self,
            f"DigiCert answered {endpoint} (HTTP {status}) with a body certrenew "
            f"cannot read: {problem}",
            code="unexpected_response",
        )


class ApiTransientError(ApiError, TransientError):
    """The call failed in a way that may pass: the caller retries with backoff."""

    def __init__(
        self,
        endpoint: str,
        status: int | None,
        errors: Sequence[ApiErrorDetail],
        *,
        reason: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        self._set_api_fields(endpoint, status, errors)
        super().__init__(
            self._message(endpoint, status, errors, reason),
            retry_after_seconds=retry_after_seconds,
        )

    @staticmethod
    def _message(
        endpoint: str,
        status: int | None,
        errors: Sequence[ApiErrorDetail],
        reason: str | None,
    ) -> str:
        if status is None:
            return f"DigiCert did not answer {endpoint}: {reason}"
        text = f"DigiCert failed {endpoint} (HTTP {status}): "
        return text + (reason or describe_errors(errors))


class RateLimited(ApiTransientError):
    """429: the key is over one of DigiCert's rolling limits (API.md)."""

    @staticmethod
    def _message(
        endpoint: str,
        status: int | None,
        errors: Sequence[ApiErrorDetail],
        reason: str | None,
    ) -> str:
        return (
            f"DigiCert rate limit hit on {endpoint} (HTTP {status}): "
            f"{reason or describe_errors(errors)}"
        )


class OutcomeUnknown(ApiTransientError):
    """A POST that may have created an order ended without a usable answer.

    The order may exist. Before posting again the caller must look it up by the
    ``alternative_order_id`` it sent (``find_by_alternative_order_id``) and adopt
    it if found, or, for a reissue, read the order's status (DESIGN.md, step 5).
    """

    def __init__(
        self,
        endpoint: str,
        status: int | None,
        errors: Sequence[ApiErrorDetail],
        *,
        reason: str,
        alternative_order_id: str | None = None,
    ) -> None:
        self.alternative_order_id = alternative_order_id
        super().__init__(endpoint, status, errors, reason=reason)

    @staticmethod
    def _message(
        endpoint: str,
        status: int | None,
        errors: Sequence[ApiErrorDetail],
        reason: str | None,
    ) -> str:
        answer = "no answer" if status is None else f"HTTP {status}"
        return (
            f"outcome of {endpoint} unknown ({answer}: {reason}); the order may "
            "exist: look it up by its alternative_order_id before posting again"
        )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date.

    RFC 9110, section 10.2.3. DigiCert documents no Retry-After on its 429
    (API.md, "Rate limits": unconfirmed either way), so one is honoured when
    present and ``None`` is returned when it is absent or unreadable. A date in
    the past means "now" (0).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until_http_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; email.utils leaves "-0000" naive.
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
