"""Fixtures for the sandbox tests: a CSR to order with, a client with the test key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox import SandboxServer
from tests.support.sandbox import api_client, make_csr


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def csr(key: ec.EllipticCurvePrivateKey) -> str:
    return make_csr(key, "shop.example.com")


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client
