"""Turn the bytes of a certificate or key file into objects, or a clear reason.

Every failure is an InventoryError whose message says what is wrong with the
file (empty, DER instead of PEM, truncated, corrupt, encrypted...) and, where
there is one, what to do about it. The caller adds the file's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certrenew.errors import InventoryError

# RFC 7468, section 2: "-----BEGIN label-----", base64 lines, "-----END label-----".
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)

_KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_ENCRYPTED_KEY_LABEL = "ENCRYPTED PRIVATE KEY"

# An ASN.1 SEQUENCE tag: how every DER certificate and key begins.
_DER_SEQUENCE = 0x30


@dataclass(frozen=True)
class _Block:
    label: str
    pem: bytes


def parse_certificates(data: bytes, path: str) -> list[x509.Certificate]:
    """Every certificate of a PEM file, in file order (leaf first in a bundle)."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        # The native parser says only that it failed; the checks below
        # find out why, for a message that helps.
        pass

    blocks = _pem_blocks(data, path, kind="certificate")
    certificates = []
    for number, block in enumerate(blocks, start=1):
        if block.label != "CERTIFICATE":
            continue
        try:
            certificates.append(x509.load_pem_x509_certificate(block.pem))
        except ValueError as error:
            raise InventoryError(
                f"certificate {number} of the file is corrupt: {error}"
            ) from error

    if not certificates:
        found = ", ".join(sorted({block.label for block in blocks}))
        if _KEY_LABELS & {block.label for block in blocks}:
            raise InventoryError(
                f"holds a private key, not a certificate (found: {found}); "
                "keys belong in NAME.key beside NAME.crt"
            )
        raise InventoryError(f"no CERTIFICATE block in this PEM file (found: {found})")
    return certificates


def parse_private_key(data: bytes, path: str) -> PrivateKeyTypes:
    """The one unencrypted private key of a PEM file."""
    try:
        return _load_private_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # As for certificates: the checks below say what is wrong.
        pass

    blocks = _pem_blocks(data, path, kind="key")
    labels = {block.label for block in blocks}
    if _ENCRYPTED_KEY_LABEL in labels or any(
        b"Proc-Type: 4,ENCRYPTED" in block.pem for block in blocks
    ):
        raise _encrypted_key()

    key_blocks = [block for block in blocks if block.label in _KEY_LABELS]
    if not key_blocks:
        found = ", ".join(sorted(labels))
        raise InventoryError(f"no private key in this PEM file (found: {found})")

    try:
        return _load_private_key(key_blocks[0].pem)
    except TypeError as error:
        raise _encrypted_key() from error
    except (ValueError, UnsupportedAlgorithm) as error:
        raise InventoryError(f"private key is corrupt: {error}") from error


def _load_private_key(pem: bytes) -> PrivateKeyTypes:
    # Skipping RSA's slow consistency checks is safe here: every caller
    # compares the key with a certificate's public key right after loading.
    return serialization.load_pem_private_key(
        pem, password=None, unsafe_skip_rsa_key_validation=True
    )


def _encrypted_key() -> InventoryError:
    return InventoryError(
        "private key is encrypted with a passphrase; an unattended renewal "
        "cannot unlock it: store it unencrypted with mode 0600 "
        "(openssl pkey -in KEY -out KEY.plain)"
    )


def _pem_blocks(data: bytes, path: str, *, kind: str) -> list[_Block]:
    if not data.strip():
        raise InventoryError("empty file")

    begins = _BEGIN.findall(data)
    if not begins:
        raise _not_pem(data, path, kind)

    blocks = [
        _Block(match.group(1).decode("ascii"), match.group(0))
        for match in _BLOCK.finditer(data)
    ]
    if len(blocks) < len(begins):
        label = begins[len(blocks)].decode("ascii")
        raise InventoryError(
            f"truncated: '-----BEGIN {label}-----' has no matching END line"
        )
    return blocks


def _not_pem(data: bytes, path: str, kind: str) -> InventoryError:
    if data[0] == _DER_SEQUENCE and kind == "certificate" and _is_der_certificate(data):
        return InventoryError(
            "is a DER (binary) certificate, not PEM; convert it with: "
            f"openssl x509 -inform der -in {path} -out {path}.pem"
        )
    if data[0] == _DER_SEQUENCE and kind == "key" and _is_der_key(data):
        return InventoryError(
            "is a DER (binary) private key, not PEM; convert it with: "
            f"openssl pkey -inform der -in {path} -out {path}.pem"
        )
    wanted = "CERTIFICATE" if kind == "certificate" else "PRIVATE KEY"
    return InventoryError(f"not a PEM file: no '-----BEGIN {wanted}-----' line")


def _is_der_certificate(data: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    return True


def _is_der_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True
