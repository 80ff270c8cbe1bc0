"""The inventory's vocabulary: entries, problems, and the source interface.

A source reads certificates from where they live (a folder of PEM files,
Kubernetes TLS Secrets) and writes renewed ones back to the same place. The
scan, the worker and the installer speak to every source through
``InventorySource`` only, so a new source fits without changing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from certrenew.config import OrderSettings, PolicySettings

KeyType = Literal["rsa", "ec"]


@dataclass(frozen=True)
class CertificateDetails:
    """The facts of a certificate that a scan does not need to judge it."""

    subject: str
    dns_names: tuple[str, ...]
    # Bits of the modulus for RSA, of the curve for EC (256 for P-256).
    key_type: KeyType
    key_size: int
    signature_hash: str
    serial_number: str
    issuer: str


class CertificateFacts:
    """What the renewal needs to know about a certificate, read once from it.

    The validity, the thumbprint and the common name are given at once: every
    scan needs them, for the policy, the ledger and the gauges. The details
    (names as text, SAN, key, serial) are given too, or read on first use
    from the certificate; a scan of 100,000 certificates then spends nothing
    on details it never shows (bench/scan.py, "step costs").
    """

    __slots__ = ("_details", "common_name", "not_after", "not_before", "thumbprint")

    def __init__(
        self,
        *,
        common_name: str | None,
        not_before: datetime,
        not_after: datetime,
        # SHA-1 of the DER encoding, 40 uppercase hex digits (API.md, "Thumbprints").
        thumbprint: str,
        details: CertificateDetails | Callable[[], CertificateDetails],
    ) -> None:
        self.common_name = common_name
        self.not_before = not_before
        self.not_after = not_after
        self.thumbprint = thumbprint
        self._details = details

    @classmethod
    def of(
        cls,
        *,
        subject: str,
        common_name: str | None,
        dns_names: tuple[str, ...],
        key_type: KeyType,
        key_size: int,
        signature_hash: str,
        not_before: datetime,
        not_after: datetime,
        thumbprint: str,
        serial_number: str,
        issuer: str,
    ) -> CertificateFacts:
        """Facts given in full, as written out (samples, tests)."""
        details = CertificateDetails(
            subject=subject,
            dns_names=dns_names,
            key_type=key_type,
            key_size=key_size,
            signature_hash=signature_hash,
            serial_number=serial_number,
            issuer=issuer,
        )
        return cls(
            common_name=common_name,
            not_before=not_before,
            not_after=not_after,
            thumbprint=thumbprint,
            details=details,
        )

    @property
    def details(self) -> CertificateDetails:
        if not isinstance(self._details, CertificateDetails):
            self._details = self._details()
        return self._details

    @property
    def subject(self) -> str:
        return self.details.subject

    @property
    def dns_names(self) -> tuple[str, ...]:
        return self.details.dns_names

    @property
    def key_type(self) -> KeyType:
        return self.details.key_type

    @property
    def key_size(self) -> int:
        return self.details.key_size

    @property
    def signature_hash(self) -> str:
        return self.details.signature_hash

    @property
    def serial_number(self) -> str:
        return self.details.serial_number

    @property
    def issuer(self) -> str:
        return self.details.issuer

    @property
    def lifetime_seconds(self) -> float:
        return (self.not_after - self.not_before).total_seconds()

    def _identity(self) -> tuple[object, ...]:
        return (
            self.common_name,
            self.not_before,
            self.not_after,
            self.thumbprint,
            self.details,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CertificateFacts):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((self.thumbprint, self.not_after))

    def __repr__(self) -> str:
        return (
            f"CertificateFacts(common_name={self.common_name!r}, "
            f"not_after={self.not_after.isoformat()}, thumbprint={self.thumbprint})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # A reader of details pickles when it is a partial of a module-level
        # function over plain bytes, as facts.read_facts makes it.
        return (
            _restore_facts,
            (
                self.common_name,
                self.not_before,
                self.not_after,
                self.thumbprint,
                self._details,
            ),
        )


def _restore_facts(
    common_name: str | None,
    not_before: datetime,
    not_after: datetime,
    thumbprint: str,
    details: CertificateDetails | Callable[[], CertificateDetails],
) -> CertificateFacts:
    return CertificateFacts(
        common_name=common_name,
        not_before=not_before,
        not_after=not_after,
        thumbprint=thumbprint,
        details=details,
    )


@dataclass(frozen=True)
class Entry:
    """One certificate in the inventory, with its key location and settings."""

    name: str
    source: str
    location: str
    key_location: str
    facts: CertificateFacts
    order: OrderSettings
    policy: PolicySettings
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """A file or object that could not be read as a certificate or key."""

    source: str
    location: str
    error: str


@dataclass(frozen=True)
class Installed:
    """Where a renewed certificate and its key were put."""

    certificate_location: str
    key_location: str
    previous_certificate_location: str | None
    previous_key_location: str | None


@dataclass(frozen=True)
class CertificateEvent:
    """What happened to a certificate, told where its owners look for it.

    ``reason`` is one CamelCase word, as Kubernetes names its events
    (``Renewed``, ``RenewalFailed``); a warning is something to act on.
    """

    reason: str
    message: str
    warning: bool = False


class InventorySource(Protocol):
    """A place certificates are read from and installed back into."""

    @property
    def label(self) -> str:
        """A short, stable name for logs and metrics, e.g. ``files:/etc/ssl``."""
        ...

    def scan(self) -> Iterator[Entry | Problem]:
        """Every certificate of the source, and every problem met on the way."""
        ...

    def load(self, name: str) -> Entry:
        """One entry by name, read afresh; InventoryError if it is gone or bad."""
        ...

    def store_pending_key(self, name: str, key_pem: bytes) -> str:
        """Store the next private key durably before its CSR leaves the process."""
        ...

    def load_pending_key(self, name: str) -> bytes | None:
        """The pending key stored for this entry, if there is one."""
        ...

    def install(self, name: str, chain_pem: bytes, key_pem: bytes) -> Installed:
        """Replace the live certificate (with chain) and key in one step."""
        ...

    def record_event(self, name: str, event: CertificateEvent) -> None:
        """Tell the certificate's owners, where they look, what happened to it.

        Best effort: never raises. A source with no such place does nothing.
        """
        ...

    def close(self) -> None:
        """Release what the source holds open (connections, processes)."""
        ...
