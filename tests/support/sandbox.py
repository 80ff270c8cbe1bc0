"""A real sandbox served over loopback HTTP, for tests, plus its fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from sandbox import SandboxConfig, SandboxServer

TEST_API_KEY = "test-key"
VALIDATED_ORG = 112233
PENDING_EV_ORG = 445566
EV_PRODUCT = "ssl_ev_securesite_flex"


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, **settings: Any
) -> Iterator[SandboxServer]:
    """Serve a sandbox (admin on, key ``test-key`` unless configured) until exit."""
    if config is None:
        settings.setdefault("api_keys", (TEST_API_KEY,))
        settings.setdefault("admin", True)
        settings.setdefault("seed", 1)
        config = SandboxConfig(**settings)
    server = SandboxServer(config, host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox per test: key ``test-key``, admin routes on."""
    with running_sandbox() as server:
        yield server


def make_csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, common_name: str
) -> str:
    """A real PEM CSR for the key; the API reads no names from it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name)
    return csr.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()


def order_body(csr: str, **changes: Any) -> dict[str, Any]:
    """A valid EV order for the validated organization; ``changes`` override."""
    body: dict[str, Any] = {
        "certificate": {
            "common_name": "shop.example.com",
            "dns_names": ["www.shop.example.com"],
            "csr": csr,
            "signature_hash": "sha256",
        },
        "organization": {"id": VALIDATED_ORG},
        "order_validity": {"years": 1},
        "skip_approval": True,
    }
    body.update(changes)
    return body


def api_client(server: SandboxServer, key: str = TEST_API_KEY) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-DC-DEVKEY": key})


def admin_client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.admin_url)
