"""What the scan reads from DER: the CA flag, the common name, the key.

Each answer must be cryptography's, or None so that cryptography answers.
The key check may only ever confirm a match, and nothing may raise.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from certrenew.inventory.der import (
    PublicHalf,
    certificate_fields,
    private_key_public_half,
)
from certrenew.inventory.facts import is_certificate_authority
from tests.inventory.conftest import NOW, Issue, Key


def leaf_der(chain_pem: bytes) -> bytes:
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    return leaf.public_bytes(serialization.Encoding.DER)


def certificate_public_half(der: bytes) -> PublicHalf | None:
    fields = certificate_fields(der)
    return None if fields is None else fields.public_half


def self_signed(
    subject: x509.Name,
    *,
    constraints: x509.BasicConstraints | None = None,
    critical: bool = True,
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | None = None,
) -> x509.Certificate:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("a.example")]), critical=False
        )
    )
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=critical)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def cn(value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.NameAttribute[str]:
    return x509.NameAttribute(NameOID.COMMON_NAME, value, _type=kind)


ORGANIZATION = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Ltd")
LEAF = x509.BasicConstraints(ca=False, path_length=None)


@pytest.mark.parametrize(
    ("subject", "constraints"),
    [
        (x509.Name([cn("www.example.com")]), None),
        (x509.Name([ORGANIZATION, cn("shop.example.com")]), LEAF),
        (x509.Name([cn("printable.example", _ASN1Type.PrintableString)]), LEAF),
        (x509.Name([cn("ia5.example", _ASN1Type.IA5String)]), LEAF),
        (x509.Name([cn("bücher.example")]), LEAF),
        (x509.Name([ORGANIZATION]), LEAF),
        (x509.Name([cn("first.example"), cn("second.example")]), LEAF),
        (
            x509.Name(
                [x509.RelativeDistinguishedName([ORGANIZATION, cn("multi.example")])]
            ),
            LEAF,
        ),
        (x509.Name([cn("Root CA")]), x509.BasicConstraints(ca=True, path_length=None)),
        (x509.Name([cn("Issuing CA")]), x509.BasicConstraints(ca=True, path_length=0)),
    ],
    ids=[
        "no-constraints",
        "after-organization",
        "printable",
        "ia5",
        "non-ascii",
        "no-common-name",
        "two-common-names",
        "multi-valued-rdn",
        "root-ca",
        "ca-with-path-length",
    ],
)
def test_the_ca_flag_and_common_name_are_what_cryptography_reads(
    subject: x509.Name, constraints: x509.BasicConstraints | None
) -> None:
    for critical in (True, False):
        certificate = self_signed(subject, constraints=constraints, critical=critical)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)

        fields = certificate_fields(
            certificate.public_bytes(serialization.Encoding.DER)
        )

        assert fields is not None
        assert fields.is_ca is is_certificate_authority(certificate)
        assert fields.common_name == (names[0].value if names else None)


def test_an_ev_certificate_reads_as_cryptography_reads_it(
    issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    leaf, intermediate = x509.load_pem_x509_certificates(issue(ec_key, "ev.example"))

    for certificate, is_ca in ((leaf, False), (intermediate, True)):
        fields = certificate_fields(
            certificate.public_bytes(serialization.Encoding.DER)
        )
        common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)

        assert fields is not None
        assert fields.is_ca is is_ca
        assert fields.common_name == common_name[0].value


def test_a_common_name_in_another_string_type_is_left_to_cryptography() -> None:
    for kind in (_ASN1Type.BMPString, _ASN1Type.T61String, _ASN1Type.UniversalString):
        certificate = self_signed(x509.Name([cn("wide.example", kind)]))

        der = certificate.public_bytes(serialization.Encoding.DER)
        assert certificate_fields(der) is None


def private_pem(
    key: Key | ed25519.Ed25519PrivateKey,
    form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    encryption: serialization.KeySerializationEncryption | None = None,
) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, form, encryption or serialization.NoEncryption()
    )


def openssl(tmp_path: Path, key_pem: bytes, *arguments: str) -> bytes:
    source = tmp_path / "in.pem"
    source.write_bytes(key_pem)
    return subprocess.run(
        ["openssl", *arguments, "-in", str(source)],
        check=True,
        capture_output=True,
    ).stdout


@pytest.fixture(scope="module")
def p384_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
    ids=["pkcs8", "traditional"],
)
@pytest.mark.parametrize("key_name", ["ec_key", "p384_key", "rsa_key"])
def test_a_key_file_carries_the_public_half_of_its_certificate(
    request: pytest.FixtureRequest,
    issue: Issue,
    key_name: str,
    form: serialization.PrivateFormat,
) -> None:
    key = request.getfixturevalue(key_name)
    certificate_half = certificate_public_half(leaf_der(issue(key)))

    key_half = private_key_public_half(private_pem(key, form))

    assert certificate_half is not None
    assert key_half == certificate_half
    expected_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The half read is the key's own: its bytes are in the public key's DER.
    assert certificate_half[1] in expected_public
    assert certificate_half[2] in expected_public


def test_another_key_has_another_half(
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    certificate_half = certificate_public_half(leaf_der(issue(ec_key)))

    assert private_key_public_half(private_pem(other_ec_key)) != certificate_half
    assert private_key_public_half(private_pem(rsa_key)) != certificate_half


def test_a_pem_written_with_crlf_and_surrounding_blank_lines_is_read(
    issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    pem = b"\n\n" + private_pem(ec_key).replace(b"\n", b"\r\n") + b"\r\n\n"

    assert private_key_public_half(pem) == certificate_public_half(
        leaf_der(issue(ec_key))
    )


def test_keys_the_walk_does_not_read_are_left_to_cryptography(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    pem = private_pem(ec_key, serialization.PrivateFormat.TraditionalOpenSSL)
    without_point = openssl(tmp_path, pem, "ec", "-no_public")
    compressed = openssl(tmp_path, pem, "ec", "-conv_form", "compressed")
    encrypted = private_pem(
        ec_key, encryption=serialization.BestAvailableEncryption(b"secret")
    )
    legacy_encrypted = openssl(
        tmp_path, pem, "ec", "-aes128", "-passout", "pass:secret"
    )

    assert b"Proc-Type: 4,ENCRYPTED" in legacy_encrypted
    for unread in (
        without_point,
        compressed,
        encrypted,
        legacy_encrypted,
        private_pem(ed25519.Ed25519PrivateKey.generate()),
        pem + pem,  # two blocks
        b"",
        b"not a key at all",
    ):
        assert private_key_public_half(unread) is None


def test_an_ed25519_key_is_left_to_cryptography() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = self_signed(x509.Name([cn("ed.example")]), key=key)

    fields = certificate_fields(certificate.public_bytes(serialization.Encoding.DER))

    assert fields is not None
    assert fields.common_name == "ed.example"
    assert fields.public_half is None


def test_every_truncation_of_a_pair_gives_none_and_never_raises(
    issue: Issue, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    for key in (rsa_key, ec_key):
        certificate = leaf_der(issue(key))
        pem = private_pem(key, serialization.PrivateFormat.TraditionalOpenSSL)
        body = pem.splitlines()

        for length in range(len(certificate)):
            assert certificate_public_half(certificate[:length]) is None
        for lines in range(len(body) - 2):
            # Fewer base64 lines than written, the END line kept.
            cut = b"\n".join([*body[: lines + 1], body[-1]])
            assert private_key_public_half(cut) is None


def test_damaged_bytes_anywhere_never_raise(
    issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    certificate = leaf_der(issue(ec_key))
    pem = private_pem(ec_key)

    for position in range(len(certificate)):
        damaged = bytearray(certificate)
        damaged[position] ^= 0xFF
        fields = certificate_fields(bytes(damaged))
        assert fields is None or isinstance(fields.is_ca, bool)
    for position in range(len(pem)):
        damaged = bytearray(pem)
        damaged[position] ^= 0xFF
        half = private_key_public_half(bytes(damaged))
        assert half is None or half[0] == "ec"
