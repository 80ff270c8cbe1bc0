from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certrenew.config import KeyChoice
from certrenew.errors import PermanentError
from certrenew.inventory.entry import KeyType
from worker.keys import (
    build_csr,
    generate_private_key,
    load_private_key,
    private_key_pem,
    public_key_fingerprint,
    public_keys_equal,
)


def test_same_keeps_an_ec_p256_key_an_ec_p256_key() -> None:
    key = generate_private_key("same", like_type="ec", like_size=256)

    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"


def test_same_keeps_an_ec_p384_key_an_ec_p384_key() -> None:
    key = generate_private_key("same", like_type="ec", like_size=384)

    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp384r1"


def test_same_keeps_an_rsa_2048_key_an_rsa_2048_key() -> None:
    key = generate_private_key("same", like_type="rsa", like_size=2048)

    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537


@pytest.mark.parametrize(
    ("choice", "key_class", "size"),
    [
        ("ec-p256", ec.EllipticCurvePrivateKey, 256),
        ("ec-p384", ec.EllipticCurvePrivateKey, 384),
        ("rsa-2048", rsa.RSAPrivateKey, 2048),
    ],
)
def test_a_configured_key_choice_overrides_the_old_key(
    choice: KeyChoice, key_class: type, size: int
) -> None:
    key = generate_private_key(choice, like_type="rsa", like_size=4096)

    assert isinstance(key, key_class)
    assert key.key_size == size


@pytest.mark.parametrize(
    ("like_type", "like_size", "described"),
    [("rsa", 1024, "RSA 1024"), ("ec", 521, "EC 521"), ("rsa", 8192, "RSA 8192")],
)
def test_same_refuses_a_key_certrenew_does_not_make_and_names_it(
    like_type: KeyType, like_size: int, described: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        generate_private_key("same", like_type=like_type, like_size=like_size)

    assert f"the certificate's key is {described} bits" in str(caught.value)
    assert "rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384" in str(caught.value)
    assert caught.value.code == "unsupported_key"


def test_a_key_survives_pkcs8_pem_and_back(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = private_key_pem(ec_key)

    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_keys_equal(load_private_key(pem).public_key(), ec_key.public_key())


def test_an_rsa_key_survives_pem_and_back(rsa_2048_key: rsa.RSAPrivateKey) -> None:
    loaded = load_private_key(private_key_pem(rsa_2048_key))

    assert public_keys_equal(loaded.public_key(), rsa_2048_key.public_key())


def test_unreadable_key_pem_is_refused_without_quoting_it() -> None:
    secret_looking = (
        b"-----BEGIN PRIVATE KEY-----\nAAAASECRET\n-----END PRIVATE KEY-----\n"
    )

    with pytest.raises(
        PermanentError, match="not an unencrypted PEM private key"
    ) as caught:
        load_private_key(secret_looking)

    assert "SECRET" not in str(caught.value)


def test_different_keys_are_not_equal(
    ec_key: ec.EllipticCurvePrivateKey, other_ec_key: ec.EllipticCurvePrivateKey
) -> None:
    assert not public_keys_equal(ec_key.public_key(), other_ec_key.public_key())
    assert public_key_fingerprint(ec_key.public_key()) != public_key_fingerprint(
        other_ec_key.public_key()
    )


def test_the_csr_names_the_common_name_and_every_san_once_in_order(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    pem = build_csr(
        ec_key,
        common_name="www.example.com",
        dns_names=["example.com", "www.example.com", "api.example.com", "example.com"],
        signature_hash="sha384",
    )

    csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert [attribute.value for attribute in common_names] == ["www.example.com"]
    assert sans.value.get_values_for_type(x509.DNSName) == [
        "www.example.com",
        "example.com",
        "api.example.com",
    ]
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA384)
    assert public_keys_equal(csr.public_key(), ec_key.public_key())


def test_an_rsa_csr_carries_the_rsa_key(rsa_2048_key: rsa.RSAPrivateKey) -> None:
    pem = build_csr(
        rsa_2048_key,
        common_name="*.example.com",
        dns_names=[],
        signature_hash="sha256",
    )

    csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert public_keys_equal(csr.public_key(), rsa_2048_key.public_key())
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)


def test_an_unknown_signature_hash_is_refused_with_the_value(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    with pytest.raises(
        PermanentError, match=r"sha256, sha384, sha512 \(given: 'md5'\)"
    ):
        build_csr(ec_key, common_name="example.com", dns_names=[], signature_hash="md5")


def test_an_empty_common_name_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(PermanentError, match="common_name must not be empty"):
        build_csr(ec_key, common_name="", dns_names=[], signature_hash="sha256")
