"""The next private key and the CSR that carries it.

A new key for every renewal (FIELD.md, "private key"), of the old key's type
and size unless configuration says otherwise. Only the keys DigiCert issues
public TLS certificates for, and that every TLS stack accepts, are made:
RSA 2048/3072/4096 and ECDSA P-256/P-384.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from certrenew.config import KeyChoice
from certrenew.errors import PermanentError
from certrenew.inventory.entry import KeyType

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

RSA_SIZES = (2048, 3072, 4096)
EC_CURVES: dict[int, ec.EllipticCurve] = {256: ec.SECP256R1(), 384: ec.SECP384R1()}
SIGNATURE_HASHES: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
# RFC 8017 section 7.2: 65537 is the usual public exponent, and the only one
# many verifiers accept.
RSA_PUBLIC_EXPONENT = 65537

_CHOICES: dict[str, tuple[KeyType, int]] = {
    "rsa-2048": ("rsa", 2048),
    "rsa-3072": ("rsa", 3072),
    "rsa-4096": ("rsa", 4096),
    "ec-p256": ("ec", 256),
    "ec-p384": ("ec", 384),
}


def generate_private_key(
    choice: KeyChoice, *, like_type: KeyType, like_size: int
) -> PrivateKey:
    """A new private key: ``choice``, or for "same" the old key's type and size.

    Raises PermanentError when "same" names a key certrenew does not make (say
    an RSA 1024 or a P-521 certificate): the operator must choose one.
    """
    key_type, key_size = (
        (like_type, like_size) if choice == "same" else _CHOICES[choice]
    )

    if key_type == "rsa" and key_size in RSA_SIZES:
        return rsa.generate_private_key(
            public_exponent=RSA_PUBLIC_EXPONENT, key_size=key_size
        )
    if key_type == "ec" and key_size in EC_CURVES:
        return ec.generate_private_key(EC_CURVES[key_size])

    raise PermanentError(
        f"new key: the certificate's key is {key_type.upper()} {key_size} bits, "
        "which certrenew does not generate (order.key = 'same'); set order.key "
        "to one of rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384",
        code="unsupported_key",
    )


def private_key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM.

    Unencrypted on purpose: the server that uses the key must read it unattended,
    so a passphrase would have to be stored beside it. The key file's mode (0600,
    set by the inventory source) is what protects it.
    """
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """An RSA or EC private key from unencrypted PEM; PermanentError otherwise.

    The message never quotes the key material.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise PermanentError(
            f"private key: not an unencrypted PEM private key ({len(pem)} bytes given)",
            code="invalid_private_key",
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PermanentError(
            f"private key: must be RSA or EC (given: {type(key).__name__})",
            code="invalid_private_key",
        )
    return key


def build_csr(
    key: PrivateKey,
    *,
    common_name: str,
    dns_names: Sequence[str],
    signature_hash: str,
) -> str:
    """A PEM CSR: subject CN = ``common_name``, SAN = it and every DNS name.

    DigiCert reads nothing from the CSR (API.md), but a CSR that names what is
    ordered keeps the request self-describing and lets anyone check it.
    """
    algorithm = SIGNATURE_HASHES.get(signature_hash)
    if algorithm is None:
        raise PermanentError(
            f"CSR: signature_hash must be one of {', '.join(SIGNATURE_HASHES)} "
            f"(given: {signature_hash!r})",
            code="invalid_value:signature_hash",
        )
    if not common_name:
        raise PermanentError(
            "CSR: common_name must not be empty (given: '')",
            code="invalid_value:common_name",
        )

    names = subject_alternative_names(common_name, dns_names)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
            critical=False,
        )
        .sign(key, algorithm)
    )
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def subject_alternative_names(common_name: str, dns_names: Sequence[str]) -> list[str]:
    """The common name, then every DNS name, each once, in the order given."""
    return list(dict.fromkeys([common_name, *dns_names]))


def public_keys_equal(a: PublicKeyTypes, b: PublicKeyTypes) -> bool:
    """Whether two public keys are the same key (their SubjectPublicKeyInfo)."""
    return _public_key_der(a) == _public_key_der(b)


def public_key_fingerprint(key: PublicKeyTypes) -> str:
    """SHA-256 of the SubjectPublicKeyInfo, in hex: names a key in messages."""
    return hashlib.sha256(_public_key_der(key)).hexdigest()


def _public_key_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
