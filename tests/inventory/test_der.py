"""The scan's quick key check: the public half of a key, read from DER.

It may only ever confirm a match: every case it cannot read comes back as
None, so that cryptography decides; nothing may raise.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from certrenew.inventory.der import certificate_public_half, private_key_public_half
from tests.inventory.conftest import NOW, Issue, Key


def leaf_der(chain_pem: bytes) -> bytes:
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    return leaf.public_bytes(serialization.Encoding.DER)


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


def test_an_ed25519_certificate_is_left_to_cryptography() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90))
        .sign(key, None)
    )

    der = certificate.public_bytes(serialization.Encoding.DER)
    assert certificate_public_half(der) is None


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

    for data, read in (
        (certificate, certificate_public_half),
        (pem, private_key_public_half),
    ):
        for position in range(len(data)):
            damaged = bytearray(data)
            damaged[position] ^= 0xFF
            half = read(bytes(damaged))
            assert half is None or half[0] == "ec"
