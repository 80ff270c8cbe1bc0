"""Read a certificate once into the facts a renewal needs.

Parsing is done with pyca/cryptography in process: no ``openssl`` subprocess,
so a scan costs file reading plus parsing and nothing more. What a scan asks
of every certificate beyond that (CA or leaf, its common name, whether a key
file matches it) is read from the DER by ``der``, cryptography answering
whatever that walk cannot read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import partial

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID, PublicKeyAlgorithmOID

from certrenew.errors import InventoryError
from certrenew.inventory.der import certificate_fields, private_key_public_half
from certrenew.inventory.entry import CertificateDetails, CertificateFacts, KeyType

# Short names for the EV subject fields (EV guidelines, 9.2), as OpenSSL
# prints them; RFC 4514 alone would show their dotted OIDs.
_ATTRIBUTE_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    NameOID.JURISDICTION_COUNTRY_NAME: "jurisdictionC",
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: "jurisdictionST",
    NameOID.JURISDICTION_LOCALITY_NAME: "jurisdictionL",
}


_RENEWABLE_KEY_ALGORITHMS = frozenset(
    {
        PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5,
        PublicKeyAlgorithmOID.RSASSA_PSS,
        PublicKeyAlgorithmOID.EC_PUBLIC_KEY,
    }
)
_KEY_ALGORITHM_NAMES = {
    PublicKeyAlgorithmOID.DSA: "DSA",
    PublicKeyAlgorithmOID.ED25519: "Ed25519",
    PublicKeyAlgorithmOID.ED448: "Ed448",
}


class ParsedCertificate:
    """A certificate as cryptography parsed it, with its DER and the fields a
    scan reads from that DER (``der.certificate_fields``; None when the walk
    could not read them, and cryptography answers instead)."""

    __slots__ = ("certificate", "der", "fields")

    def __init__(self, certificate: x509.Certificate) -> None:
        self.certificate = certificate
        self.der = certificate.public_bytes(Encoding.DER)
        self.fields = certificate_fields(self.der)

    @property
    def is_ca(self) -> bool:
        """True when basicConstraints says CA (RFC 5280, section 4.2.1.9)."""
        if self.fields is None:
            return is_certificate_authority(self.certificate)
        return self.fields.is_ca

    def facts(self) -> CertificateFacts:
        """The facts of the certificate; InventoryError for a key type
        certrenew cannot renew (only RSA and EC keys are ordered from
        DigiCert).

        The details are read from the DER on first use: a partial over
        bytes, so facts cross process boundaries (a parallel scan) unread.
        """
        certificate = self.certificate
        _check_key_algorithm(certificate)
        if self.fields is None:
            common_name = _common_name(certificate.subject)
        else:
            common_name = self.fields.common_name
        return CertificateFacts(
            common_name=common_name,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            thumbprint=thumbprint_of_der(self.der),
            details=partial(read_details, self.der),
        )

    def key_pem_confirmed(self, key_pem: bytes) -> bool:
        """True when the key file carries the public half of this
        certificate's key: the scan's quick check. False is no verdict: the
        quick check cannot tell, and the caller loads the key to decide."""
        half = None if self.fields is None else self.fields.public_half
        return half is not None and private_key_public_half(key_pem) == half


def read_facts(certificate: x509.Certificate) -> CertificateFacts:
    """The facts of one parsed certificate (see ParsedCertificate.facts)."""
    return ParsedCertificate(certificate).facts()


def leaf_of(certificates: Iterable[ParsedCertificate]) -> ParsedCertificate | None:
    """The end-entity certificate of a bundle: the first one that is not a CA.

    A bundle is usually leaf first (RFC 8446, section 4.4.2), but some are
    written root first; the CA flag decides, not the position.
    """
    return next((c for c in certificates if not c.is_ca), None)


def read_details(certificate_der: bytes) -> CertificateDetails:
    """The details of a certificate given as DER (see CertificateFacts)."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    key_type, key_size = _key_type_and_size(certificate.public_key())
    return CertificateDetails(
        subject=certificate.subject.rfc4514_string(_ATTRIBUTE_NAMES),
        dns_names=_dns_names(certificate),
        key_type=key_type,
        key_size=key_size,
        signature_hash=_signature_hash_name(certificate),
        serial_number=f"{certificate.serial_number:X}",
        issuer=certificate.issuer.rfc4514_string(_ATTRIBUTE_NAMES),
    )


def thumbprint_of_der(certificate_der: bytes) -> str:
    """SHA-1 of the DER encoding as 40 uppercase hex digits (API.md,
    "Thumbprints"): what ``openssl x509 -fingerprint -sha1`` prints, without
    the colons."""
    # hashlib over the DER the facts keep anyway, not fingerprint(), which
    # encodes the certificate once more (0.5 against 4.5 µs).
    return hashlib.sha1(certificate_der).hexdigest().upper()  # noqa: S324 - the thumbprint is defined as SHA-1; it identifies, it does not protect


def is_certificate_authority(certificate: x509.Certificate) -> bool:
    """True when basicConstraints says CA (RFC 5280, section 4.2.1.9)."""
    try:
        constraints = certificate.extensions.get_extension_for_oid(
            ExtensionOID.BASIC_CONSTRAINTS
        ).value
    except x509.ExtensionNotFound:
        return False
    return isinstance(constraints, x509.BasicConstraints) and constraints.ca


def key_matches_certificate(
    key: PrivateKeyTypes, certificate: x509.Certificate
) -> bool:
    """True when the private key belongs to the certificate's public key."""
    # cryptography compares public keys of one kind natively, about six times
    # faster than encoding both to DER (measured for bench/scan.py).
    public_key: object = key.public_key()
    return public_key == certificate.public_key()


def _check_key_algorithm(certificate: x509.Certificate) -> None:
    # The algorithm's OID, without decoding the key: what a scan can afford.
    algorithm = certificate.public_key_algorithm_oid
    if algorithm not in _RENEWABLE_KEY_ALGORITHMS:
        name = _KEY_ALGORITHM_NAMES.get(algorithm, algorithm.dotted_string)
        raise InventoryError(
            f"public key type {name} is not supported: "
            "certrenew renews RSA and EC certificates only"
        )


def _key_type_and_size(key: CertificatePublicKeyTypes) -> tuple[KeyType, int]:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size
    raise InventoryError(
        f"public key type {type(key).__name__} is not supported: "
        "certrenew renews RSA and EC certificates only"
    )


def _common_name(name: x509.Name) -> str | None:
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _dns_names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(names.get_values_for_type(x509.DNSName))


def _signature_hash_name(certificate: x509.Certificate) -> str:
    # Ed25519 and Ed448 signatures carry no separate hash.
    algorithm = certificate.signature_hash_algorithm
    return algorithm.name if algorithm is not None else "none"
