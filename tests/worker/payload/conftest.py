"""A real CSR for the payload tests (EC P-256: the key type does not matter)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from worker.keys import build_csr


@pytest.fixture(scope="module")
def csr_pem(ec_key: ec.EllipticCurvePrivateKey) -> str:
    return build_csr(
        ec_key,
        common_name="www.example.com",
        dns_names=["example.com", "api.example.com"],
        signature_hash="sha256",
    )
