"""What every process test checks at the end: one order each, keys that match.

These read the sandbox's admin routes and the inventory folder the way an
auditor would, without going through certrenew's own code.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sandbox import SandboxServer

QUEUE_KEY = "dramatiq:certrenew"
DELAYED_QUEUE_KEY = "dramatiq:certrenew.DQ"


def orders_per_renewed_thumbprint(sandbox: SandboxServer) -> Counter[str]:
    """How many orders the sandbox holds for each renewed certificate."""
    answer = httpx.get(f"{sandbox.admin_url}/orders", timeout=30)
    answer.raise_for_status()
    orders: list[dict[str, Any]] = answer.json()["orders"]
    return Counter(
        order["renewed_thumbprint"] for order in orders if order["renewed_thumbprint"]
    )


def sandbox_requests(sandbox: SandboxServer) -> dict[str, Any]:
    """The sandbox's request counts (`GET /admin/requests`)."""
    answer = httpx.get(f"{sandbox.admin_url}/requests", timeout=30)
    answer.raise_for_status()
    counts: dict[str, Any] = answer.json()
    return counts


def calls_to(sandbox: SandboxServer, route: str) -> int:
    """Requests that reached one API route, whatever their answer."""
    rows = sandbox_requests(sandbox)["requests"]
    return sum(row["count"] for row in rows if row["route"] == route)


def set_faults(sandbox: SandboxServer, **faults: float) -> None:
    """Change the sandbox's injected faults (`PUT /admin/faults`)."""
    answer = httpx.put(f"{sandbox.admin_url}/faults", json=faults, timeout=30)
    answer.raise_for_status()


def assert_installed_with_matching_key(folder: Path, name: str) -> None:
    """The live certificate carries the live key, and no pending key is left."""
    chain = x509.load_pem_x509_certificates((folder / f"{name}.crt").read_bytes())
    key = load_pem_private_key((folder / f"{name}.key").read_bytes(), None)
    leaf_numbers = chain[0].public_key().public_numbers()  # type: ignore[union-attr]
    key_numbers = key.public_key().public_numbers()  # type: ignore[union-attr]
    assert leaf_numbers == key_numbers, f"{name}: the installed leaf is not its key's"
    assert not (folder / f"{name}.key.pending").exists(), (
        f"{name}: a pending key was left beside an installed certificate"
    )
