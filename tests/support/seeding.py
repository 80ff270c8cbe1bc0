"""Certificates the sandbox issued in the past, written out as an inventory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox import SandboxServer
from tests.support.sandbox import VALIDATED_ORG, make_csr


def seed_certificate(
    sandbox: SandboxServer,
    folder: Path,
    name: str,
    *,
    common_name: str,
    validity: tuple[datetime, datetime],
    dns_names: tuple[str, ...] = (),
    organization_id: int = VALIDATED_ORG,
    order_valid_till: datetime | None = None,
) -> str:
    """An issued order at the sandbox and its files in ``folder``; the thumbprint."""
    valid_from, valid_till = validity
    key = ec.generate_private_key(ec.SECP256R1())
    body: dict[str, object] = {
        "common_name": common_name,
        "dns_names": list(dns_names),
        "csr": make_csr(key, common_name),
        "organization_id": organization_id,
        "valid_from": valid_from.isoformat(),
        "valid_till": valid_till.isoformat(),
    }
    if order_valid_till is not None:
        body["order_valid_till"] = order_valid_till.isoformat()
    answer = httpx.post(f"{sandbox.admin_url}/orders", json=body, timeout=30)
    answer.raise_for_status()
    seeded = answer.json()

    (folder / f"{name}.crt").write_text(seeded["pem_all"].replace("\r\n", "\n"))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / f"{name}.key").write_bytes(key_pem)
    (folder / f"{name}.key").chmod(0o600)
    thumbprint: str = seeded["thumbprint"]
    return thumbprint


def seed_certificates(
    sandbox: SandboxServer,
    folder: Path,
    names: list[str],
    *,
    validity: tuple[datetime, datetime],
) -> dict[str, str]:
    """One seeded certificate per name (``NAME.example.com``); name -> thumbprint."""
    return {
        name: seed_certificate(
            sandbox, folder, name, common_name=f"{name}.example.com", validity=validity
        )
        for name in names
    }
