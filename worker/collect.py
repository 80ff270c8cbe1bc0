"""Check what DigiCert issued before anything is installed.

A download can hand back the wrong certificate (API.md "Quirks": the same PEM
seen twice for one order), so the leaf must carry the pending key and every
name that was ordered. A mismatch fails the renewal loudly and installs
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certrenew.errors import PermanentError
from worker.keys import (
    PrivateKey,
    load_private_key,
    public_key_fingerprint,
    public_keys_equal,
)


class IssuedCertificateMismatch(PermanentError):
    """The issued certificate is not the one ordered (key or names differ)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="issued_certificate_mismatch")


@dataclass(frozen=True)
class IssuedCertificate:
    """An issued leaf, checked against the order, with the chain to install."""

    leaf_pem: bytes
    # Leaf first, then the intermediates toward the root; the root left out.
    # PEM with "\n" line ends, whatever the download used.
    chain_pem: bytes
    # SHA-1 of the leaf's DER, 40 uppercase hex digits (API.md "Thumbprints").
    thumbprint: str
    # Uppercase hex, no separators, as DigiCert's order info writes it.
    serial_number: str
    not_before: datetime
    not_after: datetime


def verify_issued_chain(
    chain_pem: bytes,
    *,
    pending_key_pem: bytes,
    common_name: str,
    dns_names: Sequence[str],
    pending_key: PrivateKey | None = None,
) -> IssuedCertificate:
    """Parse a downloaded PEM bundle and check its leaf against the order.

    ``pending_key`` is the pending key already loaded, when the caller holds it
    (it made the key): loading an RSA key from PEM checks it, which costs as
    much as generating one (bench 7).

    Accepts ``\\r\\n`` line ends, extra whitespace, and 3 or 4 certificates
    (one or two intermediates, with or without the root). Raises
    IssuedCertificateMismatch when the leaf's key is not the pending key or a
    name ordered is missing, and PermanentError when the bundle is unusable.
    """
    certificates = _parse_bundle(chain_pem)
    leaf = _find_leaf(certificates)
    chain = [leaf, *_issuers_of(leaf, certificates)]

    if pending_key is None:
        pending_key = load_private_key(pending_key_pem)
    _check_key(leaf, pending_key)
    _check_names(leaf, common_name, dns_names)

    return IssuedCertificate(
        leaf_pem=_pem(leaf),
        chain_pem=b"".join(_pem(certificate) for certificate in chain),
        thumbprint=hashlib.sha1(  # noqa: S324 - the thumbprint is SHA-1 by definition
            leaf.public_bytes(serialization.Encoding.DER)
        )
        .hexdigest()
        .upper(),
        serial_number=f"{leaf.serial_number:X}",
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def _parse_bundle(chain_pem: bytes) -> list[x509.Certificate]:
    text = chain_pem.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        certificates = x509.load_pem_x509_certificates(text)
    except ValueError as error:
        raise PermanentError(
            f"issued chain: not a PEM certificate bundle ({len(chain_pem)} bytes "
            f"given): {error}",
            code="issued_chain_unreadable",
        ) from error

    # The same certificate can come twice in one download (API.md "Quirks").
    unique: dict[bytes, x509.Certificate] = {}
    for certificate in certificates:
        unique.setdefault(
            certificate.public_bytes(serialization.Encoding.DER), certificate
        )
    return list(unique.values())


def _is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def _find_leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The one certificate that issued none of the others and is not a root."""
    issuers = {certificate.issuer for certificate in certificates}
    leaves = [
        certificate
        for certificate in certificates
        if certificate.subject not in issuers and not _is_self_signed(certificate)
    ]
    if len(leaves) != 1:
        subjects = [leaf.subject.rfc4514_string() for leaf in leaves]
        raise PermanentError(
            f"issued chain: must hold exactly one end-entity certificate "
            f"(given: {len(certificates)} certificates, end-entity candidates "
            f"{subjects})",
            code="issued_chain_unreadable",
        )
    return leaves[0]


def _issuers_of(
    leaf: x509.Certificate, certificates: list[x509.Certificate]
) -> list[x509.Certificate]:
    """The intermediates from the leaf up, following issuer names; no root."""
    by_subject = {certificate.subject: certificate for certificate in certificates}
    path: list[x509.Certificate] = []
    current = leaf
    while (issuer := by_subject.get(current.issuer)) is not None:
        if _is_self_signed(issuer) or issuer in path:
            break
        path.append(issuer)
        current = issuer
    return path


def _check_key(leaf: x509.Certificate, pending_key: PrivateKey) -> None:
    pending_public_key = pending_key.public_key()
    leaf_public_key = leaf.public_key()
    if not public_keys_equal(leaf_public_key, pending_public_key):
        raise IssuedCertificateMismatch(
            "issued certificate: its public key is not the pending key "
            f"(certificate key sha256:{public_key_fingerprint(leaf_public_key)}, "
            f"pending key sha256:{public_key_fingerprint(pending_public_key)})"
        )


def _check_names(
    leaf: x509.Certificate, common_name: str, dns_names: Sequence[str]
) -> None:
    carried = {name.lower() for name in _names_of(leaf)}
    ordered = dict.fromkeys([common_name, *dns_names])
    missing = [name for name in ordered if name.lower() not in carried]
    if missing:
        raise IssuedCertificateMismatch(
            f"issued certificate: names ordered but missing: {', '.join(missing)} "
            f"(certificate SAN carries: {', '.join(sorted(carried)) or 'none'})"
        )


def _names_of(certificate: x509.Certificate) -> list[str]:
    # Only the SAN counts: TLS clients ignore the subject CN (RFC 6125 section
    # 6.4.4), and the CA/B Forum baseline requirements put every name in the SAN.
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return []
    return extension.value.get_values_for_type(x509.DNSName)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)
