"""Keys, a CA and certificates made once per session, and a way to lay them out."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certrenew.samples import LocalCA

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Issue = Callable[..., bytes]


@pytest.fixture(scope="session")
def local_ca() -> LocalCA:
    return LocalCA(NOW)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def other_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def issue(local_ca: LocalCA) -> Issue:
    """Issue a leaf (plus the intermediate) for a key from the session's CA."""

    def issue_certificate(
        key: Key,
        common_name: str = "www.example.com",
        dns_names: tuple[str, ...] = ("www.example.com", "example.com"),
        *,
        lifetime_days: int = 398,
        days_left: int = 200,
    ) -> bytes:
        not_after = NOW + timedelta(days=days_left)
        return local_ca(
            csr_pem(key, common_name),
            common_name,
            list(dns_names),
            not_after - timedelta(days=lifetime_days),
            not_after,
        )

    return issue_certificate


def csr_pem(key: Key, common_name: str) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def write_pair(
    folder: Path, name: str, certificate_pem: bytes, key: Key, suffix: str = ".crt"
) -> tuple[Path, Path]:
    certificate = write(folder / f"{name}{suffix}", certificate_pem)
    key_file = write(folder / f"{name}.key", key_pem(key), 0o600)
    return certificate, key_file
