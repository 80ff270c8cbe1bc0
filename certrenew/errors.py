"""The exceptions certrenew raises, under one root.

    CertrenewError
    ├── ConfigError              a setting is missing or wrong (exit status 2)
    ├── InventoryError           a certificate or key cannot be read or used
    ├── PermanentError           retrying cannot help: the renewal fails now
    │   └── PayloadError         a payload DigiCert would refuse, caught locally
    └── TransientError           retrying later may help (timeouts, 5xx, 429)

Third-party exceptions are translated into these where they enter certrenew,
with the original kept as ``__cause__``.
"""

from __future__ import annotations


class CertrenewError(Exception):
    """Root of every error certrenew raises on purpose."""


class ConfigError(CertrenewError):
    """Configuration that cannot be used; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class InventoryError(CertrenewError):
    """A certificate, key or inventory location that cannot be read or used."""


class PermanentError(CertrenewError):
    """A failure that a retry cannot fix; the renewal fails with this reason."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


class PayloadError(PermanentError):
    """An order payload that DigiCert would refuse, found before sending it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems), code="invalid_payload")


class TransientError(CertrenewError):
    """A failure that may pass: the caller retries with backoff."""

    def __init__(
        self, message: str, *, retry_after_seconds: float | None = None
    ) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)
