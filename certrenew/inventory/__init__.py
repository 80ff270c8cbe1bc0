"""Where certificates live: inventory sources and the entries they yield."""

from certrenew.inventory.entry import (
    CertificateFacts,
    Entry,
    Installed,
    InventorySource,
    Problem,
)

__all__ = ["CertificateFacts", "Entry", "Installed", "InventorySource", "Problem"]
