"""Facts read from real certificates, checked against OpenSSL where it applies."""

from __future__ import annotations

import pickle
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from certrenew.errors import InventoryError
from certrenew.inventory.facts import key_matches_certificate, read_facts
from tests.inventory.conftest import NOW, Issue


def leaf_of(chain_pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificates(chain_pem)[0]


def test_facts_hold_names_key_dates_and_issuer_of_an_ec_certificate(
    issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    chain = issue(
        ec_key,
        "shop.example.com",
        ("shop.example.com", "www.shop.example.com"),
        lifetime_days=90,
        days_left=30,
    )

    facts = read_facts(leaf_of(chain))

    assert facts.common_name == "shop.example.com"
    assert facts.dns_names == ("shop.example.com", "www.shop.example.com")
    assert facts.subject.startswith("CN=shop.example.com,serialNumber=")
    assert "businessCategory=Private Organization" in facts.subject
    assert (facts.key_type, facts.key_size) == ("ec", 256)
    assert facts.signature_hash == "sha256"
    assert facts.not_after == NOW + timedelta(days=30)
    assert facts.not_before == NOW - timedelta(days=60)
    assert facts.not_after.utcoffset() == timedelta(0)
    assert facts.issuer.startswith("CN=certrenew Sample EV Intermediate CA")


def test_an_rsa_key_is_reported_with_its_modulus_bits(
    issue: Issue, rsa_key: rsa.RSAPrivateKey
) -> None:
    facts = read_facts(leaf_of(issue(rsa_key)))

    assert (facts.key_type, facts.key_size) == ("rsa", 2048)


def test_thumbprint_and_serial_equal_what_openssl_prints(
    issue: Issue, ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    chain = issue(ec_key)
    path = tmp_path / "leaf.crt"
    path.write_bytes(chain)

    openssl = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", "-sha1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    serial = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-serial"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    facts = read_facts(leaf_of(chain))
    expected = openssl.strip().split("=", 1)[1].replace(":", "")
    assert facts.thumbprint == expected
    assert len(facts.thumbprint) == 40
    assert facts.thumbprint == facts.thumbprint.upper()
    assert facts.serial_number == serial.strip().removeprefix("serial=").lstrip("0")


def test_a_key_matches_its_own_certificate_and_no_other(
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    leaf = leaf_of(issue(ec_key))

    assert key_matches_certificate(ec_key, leaf)
    assert not key_matches_certificate(other_ec_key, leaf)
    assert not key_matches_certificate(rsa_key, leaf)


def test_facts_cross_a_process_boundary_and_read_their_details_there(
    issue: Issue, rsa_key: rsa.RSAPrivateKey
) -> None:
    chain = issue(rsa_key, "pickled.example.com", ("pickled.example.com",))
    facts = read_facts(leaf_of(chain))

    copy = pickle.loads(pickle.dumps(facts))  # noqa: S301 - our own bytes, as the scan pool sends them

    assert (copy.thumbprint, copy.not_after) == (facts.thumbprint, facts.not_after)
    assert copy.dns_names == ("pickled.example.com",)
    assert (copy.key_type, copy.key_size) == ("rsa", 2048)
    assert copy == facts


def test_a_certificate_with_a_key_type_digicert_does_not_issue_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edwards.example")])
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

    with pytest.raises(InventoryError) as refused:
        read_facts(certificate)

    assert str(refused.value) == (
        "public key type Ed25519 is not supported: certrenew renews RSA and EC "
        "certificates only"
    )
