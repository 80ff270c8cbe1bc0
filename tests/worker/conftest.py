"""Real keys and a small real CA (root, two intermediates) for the worker tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from worker.keys import PrivateKey

ISSUED_AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="session")
def rsa_2048_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def other_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class SmallCa:
    """Root -> intermediate 1 -> intermediate 2 (issues the leaves)."""

    root: Authority
    intermediate_1: Authority
    intermediate_2: Authority

    def issue(
        self,
        key: PrivateKey,
        *,
        common_name: str,
        dns_names: Sequence[str],
        days: int = 199,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.intermediate_2.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(ISSUED_AT)
            .not_valid_after(ISSUED_AT + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        )
        if dns_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]),
                critical=False,
            )
        return builder.sign(self.intermediate_2.key, hashes.SHA256())

    def bundle(
        self, leaf: x509.Certificate, *, with_root: bool = True, line_end: str = "\n"
    ) -> bytes:
        """A pem_all-like download: leaf, intermediates, then the root."""
        certificates = [
            leaf,
            self.intermediate_2.certificate,
            self.intermediate_1.certificate,
        ]
        if with_root:
            certificates.append(self.root.certificate)
        text = "".join(pem_text(certificate) for certificate in certificates)
        return text.replace("\n", line_end).encode("ascii")


def pem_text(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _authority(common_name: str, parent: Authority | None) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = parent.certificate.subject if parent else _name(common_name)
    signing_key = parent.key if parent else key
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED_AT - timedelta(days=365))
        .not_valid_after(ISSUED_AT + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(signing_key, hashes.SHA256())
    )
    return Authority(key, certificate)


@pytest.fixture(scope="session")
def small_ca() -> SmallCa:
    root = _authority("Test Root", None)
    intermediate_1 = _authority("Test Intermediate 1", root)
    intermediate_2 = _authority("Test Intermediate 2", intermediate_1)
    return SmallCa(root, intermediate_1, intermediate_2)
