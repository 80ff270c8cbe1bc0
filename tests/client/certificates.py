"""A real three-certificate chain (EC P-256), as DigiCert would send it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_chain(common_name: str = "shop.example.com") -> list[str]:
    """PEM text of leaf, intermediate and root, leaf first, with ``\\r\\n`` ends."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    root_key, intermediate_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(3)
    )
    root = _certificate("Test Root", root_key, "Test Root", root_key, now, ca=True)
    intermediate = _certificate(
        "Test Intermediate", intermediate_key, "Test Root", root_key, now, ca=True
    )
    leaf = _certificate(
        common_name, leaf_key, "Test Intermediate", intermediate_key, now, ca=False
    )
    return [
        cert.public_bytes(serialization.Encoding.PEM).decode().replace("\n", "\r\n")
        for cert in (leaf, intermediate, root)
    ]


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    now: datetime,
    *,
    ca: bool,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=199))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
