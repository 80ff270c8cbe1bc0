"""The inventory's vocabulary: entries, problems, and the source interface.

A source reads certificates from where they live (a folder of PEM files,
Kubernetes TLS Secrets) and writes renewed ones back to the same place. The
scan, the worker and the installer speak to every source through
``InventorySource`` only, so a new source fits without changing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from certrenew.config import OrderSettings, PolicySettings

KeyType = Literal["rsa", "ec"]


@dataclass(frozen=True)
class CertificateFacts:
    """What the renewal needs to know about a certificate, read once from it."""

    subject: str
    common_name: str | None
    dns_names: tuple[str, ...]
    key_type: KeyType
    # Bits of the modulus for RSA, of the curve for EC (256 for P-256).
    key_size: int
    signature_hash: str
    not_before: datetime
    not_after: datetime
    # SHA-1 of the DER encoding, 40 uppercase hex digits (API.md, "Thumbprints").
    thumbprint: str
    serial_number: str
    issuer: str

    @property
    def lifetime_seconds(self) -> float:
        return (self.not_after - self.not_before).total_seconds()


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

    def close(self) -> None:
        """Release what the source holds open (connections, processes)."""
        ...
