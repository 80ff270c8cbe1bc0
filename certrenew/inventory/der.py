"""The public half of a key, read straight from DER, for the scan's key check.

A scan asks of every pair of files whether the key belongs to the
certificate. Loading the key with cryptography answers it, but for an EC
key that load also multiplies the private scalar out to check the point:
about 20 µs a key, as long as reading and parsing the certificate (bench 1).

Both files already carry the public half of the key: the certificate in its
SubjectPublicKeyInfo (RFC 5280, section 4.1.2.7), the key file too. An RSA
private key holds its modulus and exponent (RFC 8017, appendix A.1.2), an
EC private key its public point, which OpenSSL and cryptography always
write (RFC 5915, section 3). Comparing the two halves is the test TLS
servers make when they load a pair (OpenSSL's X509_check_private_key
compares the public parts only), and it takes a walk over a few DER headers
(ITU-T X.690): a few microseconds.

Whatever the walk does not read for sure (another algorithm, a key without
its public point, a compressed point, anything malformed) gives None, and
the caller loads the key with cryptography, which decides and explains. So
the walk can confirm that a key matches; it never declares that one does not.
"""

from __future__ import annotations

import binascii

# DER tags (X.690, section 8) of the elements walked here.
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_OBJECT_IDENTIFIER = 0x06
_SEQUENCE = 0x30
_CONTEXT_0 = 0xA0
_CONTEXT_1 = 0xA1

# The contents of the algorithms' OIDs: rsaEncryption and id-ecPublicKey
# (RFC 3279, sections 2.3.1 and 2.3.5).
_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")
_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")

# The public half of a key: ("rsa", modulus, exponent) or ("ec", curve OID,
# point), each the bytes of its DER contents. DER has one encoding for each
# value, so two halves are equal exactly when the keys are.
PublicHalf = tuple[str, bytes, bytes]


class _Malformed(Exception):
    """The bytes are not the DER the walk expects."""


def certificate_public_half(certificate_der: bytes) -> PublicHalf | None:
    """The public half of a DER certificate's key; None for a key the walk
    does not read (RSA-PSS, Ed25519, ...)."""
    der = certificate_der
    try:
        start, end = _subject_public_key_info(der)
        algorithm_start, start = _expect(der, start, end, _SEQUENCE)
        algorithm, curve = _algorithm(der, algorithm_start, start)
        key = _bits(der, start, end)
        if algorithm == _RSA_ENCRYPTION:
            return _rsa_half(key, 0, len(key), private=False)
        if algorithm == _EC_PUBLIC_KEY and curve is not None:
            return _ec_half(curve, key)
    except _Malformed:
        pass
    return None


def private_key_public_half(key_pem: bytes) -> PublicHalf | None:
    """The public half carried by an unencrypted PEM private key: PKCS #8
    (``PRIVATE KEY``), PKCS #1 (``RSA PRIVATE KEY``) or SEC 1 (``EC PRIVATE
    KEY``); None when the walk cannot read one."""
    try:
        label, der = _pem(key_pem)
        if label == b"PRIVATE KEY":
            return _pkcs8_half(der)
        if label == b"RSA PRIVATE KEY":
            return _rsa_half(der, 0, len(der), private=True)
        if label == b"EC PRIVATE KEY":
            return _ec_private_key_half(der, 0, len(der), curve=None)
    except _Malformed:
        pass
    return None


def _subject_public_key_info(der: bytes) -> tuple[int, int]:
    # Certificate ::= SEQUENCE { tbsCertificate, ... }; TBSCertificate ::=
    # SEQUENCE { version [0] OPTIONAL, serialNumber, signature, issuer,
    # validity, subject, subjectPublicKeyInfo, ... } (RFC 5280, section 4.1).
    start, end = _whole(der, 0, len(der), _SEQUENCE)
    start, end = _expect(der, start, end, _SEQUENCE)
    if start < end and der[start] == _CONTEXT_0:
        _, start = _element(der, start, end)
    for tag in (_INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE):
        _, start = _expect(der, start, end, tag)
    return _expect(der, start, end, _SEQUENCE)


def _pem(data: bytes) -> tuple[bytes, bytes]:
    """The label and decoded body of a file that is one PEM block (RFC 7468)."""
    text = data.strip()
    if not text.startswith(b"-----BEGIN "):
        raise _Malformed
    label_end = text.find(b"-----", 11)
    label = text[11:label_end]
    footer = b"-----END " + label + b"-----"
    if label_end < 0 or not label or not text.endswith(footer):
        raise _Malformed
    body = text[16 + len(label) : -len(footer)]
    # Headers (an old encrypted key's Proc-Type) or a second block.
    if b":" in body or b"-" in body:
        raise _Malformed
    try:
        return label, binascii.a2b_base64(body)
    except binascii.Error as error:
        raise _Malformed from error


def _pkcs8_half(der: bytes) -> PublicHalf:
    # PrivateKeyInfo ::= SEQUENCE { version, privateKeyAlgorithm, privateKey
    # OCTET STRING, ... } (RFC 5208, section 5).
    start, end = _whole(der, 0, len(der), _SEQUENCE)
    _, start = _expect(der, start, end, _INTEGER)
    algorithm_start, start = _expect(der, start, end, _SEQUENCE)
    algorithm, curve = _algorithm(der, algorithm_start, start)
    key_start, key_end = _expect(der, start, end, _OCTET_STRING)
    if algorithm == _RSA_ENCRYPTION:
        return _rsa_half(der, key_start, key_end, private=True)
    if algorithm == _EC_PUBLIC_KEY and curve is not None:
        return _ec_private_key_half(der, key_start, key_end, curve=curve)
    raise _Malformed


def _ec_private_key_half(
    der: bytes, start: int, end: int, *, curve: bytes | None
) -> PublicHalf:
    # ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING,
    # parameters [0] OPTIONAL, publicKey [1] BIT STRING OPTIONAL }.
    start, end = _whole(der, start, end, _SEQUENCE)
    _, start = _expect(der, start, end, _INTEGER)
    _, start = _expect(der, start, end, _OCTET_STRING)
    point = None
    while start < end:
        tag = der[start]
        inner, start = _element(der, start, end)
        if tag == _CONTEXT_0:
            oid_start, oid_end = _whole(der, inner, start, _OBJECT_IDENTIFIER)
            curve = der[oid_start:oid_end]
        elif tag == _CONTEXT_1:
            point = _bits(der, inner, start)
    if curve is None or point is None:
        raise _Malformed
    return _ec_half(curve, point)


def _rsa_half(der: bytes, start: int, end: int, *, private: bool) -> PublicHalf:
    # RSAPublicKey ::= SEQUENCE { modulus, publicExponent }; RSAPrivateKey
    # has a version first, then the same two (RFC 8017, appendix A.1).
    start, end = _whole(der, start, end, _SEQUENCE)
    if private:
        _, start = _expect(der, start, end, _INTEGER)
    modulus_start, start = _expect(der, start, end, _INTEGER)
    modulus = der[modulus_start:start]
    exponent_start, exponent_end = _expect(der, start, end, _INTEGER)
    return ("rsa", modulus, der[exponent_start:exponent_end])


def _ec_half(curve: bytes, point: bytes) -> PublicHalf:
    # Only the uncompressed form (SEC 1, section 2.3.3) is compared; a pair
    # with a compressed point goes to cryptography, which reads both forms.
    if not point or point[0] != 0x04:
        raise _Malformed
    return ("ec", curve, point)


def _algorithm(der: bytes, start: int, end: int) -> tuple[bytes, bytes | None]:
    """An AlgorithmIdentifier's OID, and its parameters when they are an OID
    (an EC key's named curve)."""
    oid_start, start = _expect(der, start, end, _OBJECT_IDENTIFIER)
    algorithm = der[oid_start:start]
    if start < end and der[start] == _OBJECT_IDENTIFIER:
        curve_start, curve_end = _element(der, start, end)
        return algorithm, der[curve_start:curve_end]
    return algorithm, None


def _bits(der: bytes, start: int, end: int) -> bytes:
    # A BIT STRING's contents open with the count of unused bits: none in a key.
    bits_start, bits_end = _whole(der, start, end, _BIT_STRING)
    if bits_start == bits_end or der[bits_start] != 0:
        raise _Malformed
    return der[bits_start + 1 : bits_end]


def _whole(der: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """The contents of the one element, of ``tag``, that fills ``start:end``."""
    contents_start, contents_end = _expect(der, start, end, tag)
    if contents_end != end:
        raise _Malformed
    return contents_start, contents_end


def _expect(der: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """The contents of the element of ``tag`` at ``start``."""
    if start >= end or der[start] != tag:
        raise _Malformed
    return _element(der, start, end)


def _element(der: bytes, start: int, end: int) -> tuple[int, int]:
    """Where the contents of the element at ``start`` begin and end; the next
    element begins where they end (X.690, section 8.1: tag, length, contents)."""
    if end - start < 2 or der[start] & 0x1F == 0x1F:
        raise _Malformed  # too short, or a tag number the walk never meets
    length = der[start + 1]
    if length < 0x80:
        contents = start + 2
    elif 0x81 <= length <= 0x83:
        # The long form: the next one to three bytes give the length.
        # Indefinite lengths are not DER; nothing here needs more.
        contents = start + 2 + (length & 0x7F)
        length = int.from_bytes(der[start + 2 : contents], "big")
    else:
        raise _Malformed
    if contents + length > end:
        raise _Malformed
    return contents, contents + length
