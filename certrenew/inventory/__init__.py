"""Where certificates live: inventory sources and the entries they yield."""

from certrenew.inventory.entry import (
    CertificateEvent,
    CertificateFacts,
    Entry,
    Installed,
    InventorySource,
    Problem,
)

__all__ = [
    "CertificateEvent",
    "CertificateFacts",
    "Entry",
    "Installed",
    "InventorySource",
    "Problem",
]
