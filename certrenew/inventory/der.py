"""What a scan reads of a certificate and its key, straight from their DER.

cryptography parses every certificate first: it checks the structure and
gives the validity. A scan then asks three more questions of each pair of
files: is the certificate a CA's, what is its common name, and does the key
belong to it. cryptography answers them by building Python objects for the
whole subject, every extension and both keys: for an EV certificate and its
EC key, about three times what reading and parsing the pair cost (bench 1).
A walk over a few DER headers (ITU-T X.690) reads the same answers in a
fraction of that.

For the key, both files carry its public half: the certificate in its
SubjectPublicKeyInfo (RFC 5280, section 4.1.2.7), the key file too (an RSA
private key holds its modulus and exponent, RFC 8017, appendix A.1.2; an EC
private key its public point, which OpenSSL and cryptography always write,
RFC 5915, section 3). Comparing the two halves is the test TLS servers make
when they load a pair (OpenSSL's X509_check_private_key compares the public
parts only), without the scalar multiplication that loading an EC key does.

Whatever the walk does not read for sure (another key algorithm, a key
without its public point, a compressed point, a name in a string type other
than UTF8String, PrintableString or IA5String, anything malformed) gives
None, and the caller asks cryptography, which decides and explains. So the
walk can confirm that a key matches; it never declares that one does not.
"""

from __future__ import annotations

import binascii
from typing import NamedTuple

# DER tags (X.690, section 8) of the elements walked here.
_BOOLEAN = 0x01
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_OBJECT_IDENTIFIER = 0x06
_SEQUENCE = 0x30
_SET = 0x31
_CONTEXT_0 = 0xA0
_CONTEXT_1 = 0xA1
_CONTEXT_3 = 0xA3
_ANY = -1

# The string types a common name is read from, and their encodings.
_STRING_ENCODINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii"}

# The contents of the algorithms' OIDs: rsaEncryption and id-ecPublicKey
# (RFC 3279, sections 2.3.1 and 2.3.5).
_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")
_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
# Whole OID elements (tag, length 3, contents) of id-at-commonName and
# id-ce-basicConstraints (RFC 5280, appendix A): an attribute or extension
# whose contents begin with one of them is that attribute or extension.
_COMMON_NAME = bytes.fromhex("0603550403")
_BASIC_CONSTRAINTS = bytes.fromhex("0603551d13")

# The public half of a key: ("rsa", modulus, exponent) or ("ec", curve OID,
# point), each the bytes of its DER contents. DER has one encoding for each
# value, so two halves are equal exactly when the keys are.
PublicHalf = tuple[str, bytes, bytes]


class CertificateFields(NamedTuple):
    """The answers a scan reads from a certificate's DER."""

    # basicConstraints says CA (RFC 5280, section 4.2.1.9).
    is_ca: bool
    # The subject's first commonName; None when it has none.
    common_name: str | None
    # None for a key the walk does not read (RSA-PSS, Ed25519, ...).
    public_half: PublicHalf | None


class _Malformed(Exception):
    """The bytes are not the DER the walk expects."""


def certificate_fields(certificate_der: bytes) -> CertificateFields | None:
    """The fields of a DER certificate, or None when cryptography must answer."""
    der = certificate_der
    try:
        # Certificate ::= SEQUENCE { tbsCertificate, ... }; TBSCertificate
        # ::= SEQUENCE { version [0] OPTIONAL, serialNumber, signature,
        # issuer, validity, subject, subjectPublicKeyInfo, issuerUniqueID
        # [1] OPTIONAL, subjectUniqueID [2] OPTIONAL, extensions [3]
        # OPTIONAL } (RFC 5280, section 4.1).
        start, end = _whole(der, 0, len(der), _SEQUENCE)
        start, end = _expect(der, start, end, _SEQUENCE)
        if start < end and der[start] == _CONTEXT_0:
            _, start = _expect(der, start, end, _CONTEXT_0)
        for tag in (_INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE):
            _, start = _expect(der, start, end, tag)
        subject = start
        _, key_info = _expect(der, subject, end, _SEQUENCE)
        _, start = _expect(der, key_info, end, _SEQUENCE)
        key_info_end, is_ca = start, False
        while start < end:
            tag = der[start]
            extensions, start = _expect(der, start, end, _ANY)
            if tag == _CONTEXT_3:
                is_ca = _basic_constraints_ca(der, extensions, start)
        return CertificateFields(
            is_ca=is_ca,
            common_name=_common_name(der, subject, key_info),
            public_half=_key_info_half(der, key_info, key_info_end),
        )
    except (_Malformed, UnicodeDecodeError):
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


# Certificates


def _common_name(der: bytes, start: int, end: int) -> str | None:
    # Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }.
    start, end = _whole(der, start, end, _SEQUENCE)
    while start < end:
        attribute, start = _expect(der, start, end, _SET)
        while attribute < start:
            pair, attribute = _expect(der, attribute, start, _SEQUENCE)
            if not der.startswith(_COMMON_NAME, pair):
                continue
            value = pair + len(_COMMON_NAME)
            encoding = _STRING_ENCODINGS.get(der[value]) if value < attribute else None
            if encoding is None:
                raise _Malformed  # a string type left to cryptography
            text_start, text_end = _whole(der, value, attribute, der[value])
            return der[text_start:text_end].decode(encoding)
    return None


def _basic_constraints_ca(der: bytes, start: int, end: int) -> bool:
    # Extensions ::= SEQUENCE OF SEQUENCE { extnID OID, critical BOOLEAN
    # DEFAULT FALSE, extnValue OCTET STRING }; BasicConstraints ::= SEQUENCE
    # { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }.
    start, end = _whole(der, start, end, _SEQUENCE)
    while start < end:
        extension, start = _expect(der, start, end, _SEQUENCE)
        if not der.startswith(_BASIC_CONSTRAINTS, extension):
            continue
        extension += len(_BASIC_CONSTRAINTS)
        if extension < start and der[extension] == _BOOLEAN:
            _, extension = _expect(der, extension, start, _BOOLEAN)
        value_start, value_end = _whole(der, extension, start, _OCTET_STRING)
        flag, flag_end = _whole(der, value_start, value_end, _SEQUENCE)
        if flag == flag_end or der[flag] != _BOOLEAN:
            return False  # cA left out: DEFAULT FALSE
        flag_start, flag_end = _expect(der, flag, flag_end, _BOOLEAN)
        return der[flag_start:flag_end] != b"\x00"
    return False


def _key_info_half(der: bytes, start: int, end: int) -> PublicHalf | None:
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }
    start, end = _whole(der, start, end, _SEQUENCE)
    algorithm_start, start = _expect(der, start, end, _SEQUENCE)
    algorithm, curve = _algorithm(der, algorithm_start, start)
    key = _bits(der, start, end)
    if algorithm == _RSA_ENCRYPTION:
        return _rsa_half(key, 0, len(key), private=False)
    if algorithm == _EC_PUBLIC_KEY and curve is not None:
        return _ec_half(curve, key)
    return None


# Private keys


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
        inner, start = _expect(der, start, end, _ANY)
        if tag == _CONTEXT_0:
            oid_start, oid_end = _whole(der, inner, start, _OBJECT_IDENTIFIER)
            curve = der[oid_start:oid_end]
        elif tag == _CONTEXT_1:
            point = _bits(der, inner, start)
    if curve is None or point is None:
        raise _Malformed
    return _ec_half(curve, point)


# Both


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
        curve_start, curve_end = _expect(der, start, end, _ANY)
        return algorithm, der[curve_start:curve_end]
    return algorithm, None


def _bits(der: bytes, start: int, end: int) -> bytes:
    # A BIT STRING's contents open with the count of unused bits: none in a key.
    bits_start, bits_end = _whole(der, start, end, _BIT_STRING)
    if bits_start == bits_end or der[bits_start] != 0:
        raise _Malformed
    return der[bits_start + 1 : bits_end]


# Elements


def _whole(der: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """The contents of the one element, of ``tag``, that fills ``start:end``."""
    contents_start, contents_end = _expect(der, start, end, tag)
    if contents_end != end:
        raise _Malformed
    return contents_start, contents_end


def _expect(der: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """Where the contents of the element at ``start`` begin and end, which
    must be of ``tag`` (or any, for _ANY); the next element begins where
    they end (X.690, section 8.1: tag, length, contents)."""
    # One function for every element, its checks inline: the walk reads
    # about twenty elements a pair, and each call costs (bench 1).
    if end - start < 2 or (tag != _ANY and der[start] != tag):
        raise _Malformed
    if der[start] & 0x1F == 0x1F:
        raise _Malformed  # a tag number the walk never meets
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
