from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.errors import PermanentError
from tests.worker.conftest import ISSUED_AT, SmallCa, pem_text
from worker.collect import IssuedCertificateMismatch, verify_issued_chain
from worker.keys import private_key_pem

COMMON_NAME = "www.example.com"
DNS_NAMES = ["example.com", "api.example.com"]
ALL_NAMES = [COMMON_NAME, *DNS_NAMES]


@pytest.fixture(scope="module")
def pending_key_pem(ec_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key_pem(ec_key)


@pytest.fixture(scope="module")
def leaf(small_ca: SmallCa, ec_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return small_ca.issue(ec_key, common_name=COMMON_NAME, dns_names=ALL_NAMES)


def test_a_matching_four_certificate_chain_is_accepted_without_its_root(
    small_ca: SmallCa, leaf: x509.Certificate, pending_key_pem: bytes
) -> None:
    issued = verify_issued_chain(
        small_ca.bundle(leaf),
        pending_key_pem=pending_key_pem,
        common_name=COMMON_NAME,
        dns_names=DNS_NAMES,
    )

    der = leaf.public_bytes(serialization.Encoding.DER)
    assert issued.thumbprint == hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - DigiCert's thumbprint
    assert len(issued.thumbprint) == 40
    assert issued.serial_number == f"{leaf.serial_number:X}"
    assert issued.not_before == ISSUED_AT
    assert issued.not_after == leaf.not_valid_after_utc
    assert issued.leaf_pem == pem_text(leaf).encode()
    assert [c.subject for c in x509.load_pem_x509_certificates(issued.chain_pem)] == [
        leaf.subject,
        small_ca.intermediate_2.certificate.subject,
        small_ca.intermediate_1.certificate.subject,
    ]


def test_a_crlf_chain_is_normalised_to_newlines(
    small_ca: SmallCa, leaf: x509.Certificate, pending_key_pem: bytes
) -> None:
    download = small_ca.bundle(leaf, line_end="\r\n")
    assert b"\r\n" in download

    issued = verify_issued_chain(
        download,
        pending_key_pem=pending_key_pem,
        common_name=COMMON_NAME,
        dns_names=DNS_NAMES,
    )

    assert b"\r" not in issued.chain_pem
    assert issued.chain_pem.count(b"-----BEGIN CERTIFICATE-----") == 3


def test_a_three_certificate_chain_with_extra_whitespace_is_accepted(
    small_ca: SmallCa, leaf: x509.Certificate, pending_key_pem: bytes
) -> None:
    # One intermediate plus the root: a chain from a CA with a single ICA.
    text = "\n\n  \n".join(
        pem_text(certificate)
        for certificate in (
            leaf,
            small_ca.intermediate_2.certificate,
            small_ca.intermediate_1.certificate,
        )
    )

    issued = verify_issued_chain(
        f"\n  {text}\n\n".encode(),
        pending_key_pem=pending_key_pem,
        common_name=COMMON_NAME,
        dns_names=DNS_NAMES,
    )

    assert issued.chain_pem.startswith(pem_text(leaf).encode())
    assert issued.chain_pem.count(b"-----BEGIN CERTIFICATE-----") == 3


def test_the_leaf_is_found_wherever_it_sits_in_the_bundle(
    small_ca: SmallCa, leaf: x509.Certificate, pending_key_pem: bytes
) -> None:
    shuffled = "".join(
        pem_text(certificate)
        for certificate in (
            small_ca.root.certificate,
            small_ca.intermediate_1.certificate,
            leaf,
            small_ca.intermediate_2.certificate,
            leaf,
        )
    )

    issued = verify_issued_chain(
        shuffled.encode(),
        pending_key_pem=pending_key_pem,
        common_name=COMMON_NAME,
        dns_names=DNS_NAMES,
    )

    assert issued.chain_pem == small_ca.bundle(leaf, with_root=False)


def test_a_leaf_with_another_key_is_a_mismatch_naming_both_keys(
    small_ca: SmallCa,
    other_ec_key: ec.EllipticCurvePrivateKey,
    pending_key_pem: bytes,
) -> None:
    wrong = small_ca.issue(other_ec_key, common_name=COMMON_NAME, dns_names=ALL_NAMES)

    with pytest.raises(IssuedCertificateMismatch) as caught:
        verify_issued_chain(
            small_ca.bundle(wrong),
            pending_key_pem=pending_key_pem,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )

    message = str(caught.value)
    assert "its public key is not the pending key" in message
    assert message.count("sha256:") == 2
    assert "PRIVATE" not in message
    assert isinstance(caught.value, PermanentError)
    assert caught.value.code == "issued_certificate_mismatch"


def test_a_pending_key_given_loaded_is_the_one_the_leaf_is_checked_against(
    small_ca: SmallCa, leaf: x509.Certificate, pending_key_pem: bytes
) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(IssuedCertificateMismatch, match="not the pending key"):
        verify_issued_chain(
            small_ca.bundle(leaf),
            pending_key_pem=pending_key_pem,
            pending_key=other_key,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )


def test_a_leaf_missing_an_ordered_san_is_a_mismatch_naming_it(
    small_ca: SmallCa, ec_key: ec.EllipticCurvePrivateKey, pending_key_pem: bytes
) -> None:
    short = small_ca.issue(
        ec_key, common_name=COMMON_NAME, dns_names=[COMMON_NAME, "example.com"]
    )

    with pytest.raises(IssuedCertificateMismatch) as caught:
        verify_issued_chain(
            small_ca.bundle(short),
            pending_key_pem=pending_key_pem,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )

    assert str(caught.value) == (
        "issued certificate: names ordered but missing: api.example.com "
        "(certificate SAN carries: example.com, www.example.com)"
    )


def test_a_common_name_only_in_the_subject_is_missing(
    small_ca: SmallCa, ec_key: ec.EllipticCurvePrivateKey, pending_key_pem: bytes
) -> None:
    no_cn_in_san = small_ca.issue(ec_key, common_name=COMMON_NAME, dns_names=DNS_NAMES)

    with pytest.raises(IssuedCertificateMismatch, match=r"missing: www\.example\.com"):
        verify_issued_chain(
            small_ca.bundle(no_cn_in_san),
            pending_key_pem=pending_key_pem,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )


def test_extra_names_and_other_case_are_accepted(
    small_ca: SmallCa, ec_key: ec.EllipticCurvePrivateKey, pending_key_pem: bytes
) -> None:
    wider = small_ca.issue(
        ec_key,
        common_name=COMMON_NAME,
        dns_names=[
            "WWW.example.com",
            "example.com",
            "api.example.com",
            "x.example.com",
        ],
    )

    issued = verify_issued_chain(
        small_ca.bundle(wider),
        pending_key_pem=pending_key_pem,
        common_name=COMMON_NAME,
        dns_names=DNS_NAMES,
    )

    assert issued.leaf_pem == pem_text(wider).encode()


def test_a_bundle_without_certificates_is_refused(pending_key_pem: bytes) -> None:
    with pytest.raises(PermanentError, match=r"not a PEM certificate bundle \(9 bytes"):
        verify_issued_chain(
            b"not a pem",
            pending_key_pem=pending_key_pem,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )


def test_a_bundle_with_two_leaves_is_refused(
    small_ca: SmallCa,
    leaf: x509.Certificate,
    other_ec_key: ec.EllipticCurvePrivateKey,
    pending_key_pem: bytes,
) -> None:
    other = small_ca.issue(other_ec_key, common_name="b.example.com", dns_names=[])
    bundle = small_ca.bundle(leaf) + pem_text(other).encode()

    with pytest.raises(PermanentError, match="exactly one end-entity certificate"):
        verify_issued_chain(
            bundle,
            pending_key_pem=pending_key_pem,
            common_name=COMMON_NAME,
            dns_names=DNS_NAMES,
        )
