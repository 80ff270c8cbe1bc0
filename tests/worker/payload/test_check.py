"""The checks of a whole order or reissue body (worker/payload/check.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from certrenew.errors import PayloadError, PermanentError
from tests.worker.payload.samples import (
    NOW,
    order_payload,
    problems_of,
)
from worker.payload import (
    check_order_payload,
    check_reissue_payload,
)


def test_every_problem_is_reported_at_once_with_its_reason() -> None:
    payload: dict[str, Any] = {
        "certificate": {"common_name": "bad_name.example.com", "csr": "garbage"},
        "order_validity": {"years": 5},
        "renewed_thumbprint": "XYZ",
        "alternative_order_id": "a" * 65,
    }

    assert problems_of(payload) == [
        "invalid_value:certificate.common_name: must be a DNS name (letters, digits, "
        "inner hyphens, at least two labels; '*.' allowed as the first label) "
        "(given: 'bad_name.example.com')",
        "csr_invalid_cannot_parse: certificate.csr: must be a PEM certificate "
        "signing request (given: 'garbage')",
        "certificate.signature_hash: required (given: nothing)",
        "invalid_value:order_validity.years: must be an integer from 1 to 3 (given: 5)",
        "organization: required (given: nothing)",
        "invalid_value:renewed_thumbprint: must be the SHA-1 thumbprint, 40 hex "
        "digits (given: 'XYZ')",
        "invalid_value:alternative_order_id: must be at most 64 characters "
        f"(65 given) (given: {'a' * 65!r})",
    ]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("certificate", "certificate: required (given: nothing)"),
        ("order_validity", "order_validity: required (given: nothing)"),
        ("organization", "organization: required (given: nothing)"),
    ],
)
def test_a_missing_top_level_field_is_named(
    csr_pem: str, field: str, message: str
) -> None:
    payload = order_payload(csr_pem)
    del payload[field]

    assert message in problems_of(payload)


@pytest.mark.parametrize("field", ["common_name", "csr", "signature_hash"])
def test_a_missing_certificate_field_is_named(csr_pem: str, field: str) -> None:
    payload = order_payload(csr_pem)
    del payload["certificate"][field]

    assert problems_of(payload) == [f"certificate.{field}: required (given: nothing)"]


def test_a_certificate_that_is_not_an_object_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"] = "www.example.com"

    assert problems_of(payload) == [
        "invalid_value:certificate: must be an object (given: 'www.example.com')"
    ]


def test_an_organization_may_be_given_by_its_details(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["organization"] = {
        "name": "Example Inc.",
        "address": "1 Main St",
        "city": "Lehi",
        "country": "us",
    }

    check_order_payload(payload, now=NOW)


def test_an_organization_without_id_or_details_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["organization"] = {"name": "Example Inc."}

    assert problems_of(payload) == [
        f"organization.{part}: required when organization.id is not given "
        "(given: nothing)"
        for part in ("address", "city", "country")
    ]


@pytest.mark.parametrize("organization_id", [0, "12345", True])
def test_an_organization_id_must_be_a_positive_integer(
    csr_pem: str, organization_id: Any
) -> None:
    payload = order_payload(csr_pem)
    payload["organization"] = {"id": organization_id}

    assert problems_of(payload) == [
        "invalid_value:organization.id: must be an integer of at least 1 "
        f"(given: {organization_id!r})"
    ]


def test_a_csr_without_line_breaks_inside_the_armour_parses(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    lines = csr_pem.strip().splitlines()
    payload["certificate"]["csr"] = lines[0] + "".join(lines[1:-1]) + lines[-1]

    check_order_payload(payload, now=NOW)


def test_a_csr_that_does_not_parse_is_refused_with_digicerts_code(
    csr_pem: str,
) -> None:
    payload = order_payload(csr_pem)
    broken = csr_pem.replace("M", "A", 3)
    payload["certificate"]["csr"] = broken

    (problem,) = problems_of(payload)
    assert problem.startswith(
        "csr_invalid_cannot_parse: certificate.csr: must be a PEM certificate "
        "signing request (given: '-----BEGIN CERTIFICATE REQUEST"
    )
    assert problem.endswith(f"... ({len(repr(broken))} characters))")


@pytest.mark.parametrize(
    "name",
    [
        "*.example.com",
        "xn--bcher-kva.example",
        "a-b.example.co.uk",
        "EXAMPLE.COM",
    ],
)
def test_valid_dns_names_and_wildcards_are_accepted(csr_pem: str, name: str) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"]["dns_names"] = [name]

    check_order_payload(payload, now=NOW)


@pytest.mark.parametrize(
    "name",
    [
        "localhost",
        "under_score.example.com",
        "-lead.example.com",
        "trail-.example.com",
        "www.*.example.com",
        "*.*.example.com",
        "10.0.0.1",
        "example.com.",
        "bücher.example",
        "a" * 64 + ".example.com",
        ("a" * 60 + ".") * 5 + "com",
        "",
        42,
    ],
)
def test_invalid_dns_names_are_refused_with_the_name(csr_pem: str, name: Any) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"]["dns_names"] = ["ok.example.com", name]

    (problem,) = problems_of(payload)
    assert problem.startswith("invalid_value:certificate.dns_names[1]: must be a DNS")
    assert repr(name)[:40] in problem


def test_dns_names_must_be_a_list(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"]["dns_names"] = "example.com"

    assert problems_of(payload) == [
        "invalid_value:certificate.dns_names: must be a list (given: 'example.com')"
    ]


def test_an_unknown_signature_hash_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"]["signature_hash"] = "sha1"

    assert problems_of(payload) == [
        "invalid_value:certificate.signature_hash: must be one of sha256, sha384, "
        "sha512 (given: 'sha1')"
    ]


def test_a_renewal_without_thumbprint_or_order_id_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    del payload["renewed_thumbprint"]

    assert problems_of(payload) == [
        "renewed_thumbprint: a renewal order must carry renewed_thumbprint or "
        "renewal_of_order_id (given: neither)"
    ]


def test_a_renewal_by_order_id_alone_is_accepted(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    del payload["renewed_thumbprint"]
    payload["renewal_of_order_id"] = 4242

    check_order_payload(payload, now=NOW)


@pytest.mark.parametrize(
    "thumbprint", ["A" * 39, "A" * 41, "G" * 40, "AA:" * 13 + "A", 12345]
)
def test_a_thumbprint_must_be_40_hex_digits(csr_pem: str, thumbprint: Any) -> None:
    payload = order_payload(csr_pem)
    payload["renewed_thumbprint"] = thumbprint

    assert problems_of(payload) == [
        "invalid_value:renewed_thumbprint: must be the SHA-1 thumbprint, 40 hex "
        f"digits (given: {thumbprint!r})"
    ]


def test_a_lowercase_thumbprint_is_accepted(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["renewed_thumbprint"] = "ab" * 20

    check_order_payload(payload, now=NOW)


@pytest.mark.parametrize("order_id", [0, -1, "17", 1.5])
def test_a_previous_order_id_must_be_a_positive_integer(
    csr_pem: str, order_id: Any
) -> None:
    payload = order_payload(csr_pem)
    payload["renewal_of_order_id"] = order_id

    assert problems_of(payload) == [
        "invalid_value:renewal_of_order_id: must be an integer of at least 1 "
        f"(given: {order_id!r})"
    ]


def test_an_alternative_order_id_of_64_characters_is_accepted(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["alternative_order_id"] = "a" * 64

    check_order_payload(payload, now=NOW)


@pytest.mark.parametrize("alternative_id", ["has space", "semi;colon", "-lead", ""])
def test_an_alternative_order_id_must_be_alphanumeric(
    csr_pem: str, alternative_id: str
) -> None:
    payload = order_payload(csr_pem)
    payload["alternative_order_id"] = alternative_id

    assert problems_of(payload) == [
        "invalid_value:alternative_order_id: must be letters and digits, with "
        f"'-', '_' or '.' after the first (given: {alternative_id!r})"
    ]


def test_payment_by_card_needs_card_and_billing_address(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["payment_method"] = "card"
    payload["billing_address"] = "1 Main St"

    assert problems_of(payload) == [
        "credit_card: required when payment_method is 'card' (given: nothing)",
        "billing_address: required when payment_method is 'card' "
        "(given: not an object)",
    ]


def test_payment_by_card_with_both_objects_is_accepted(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["payment_method"] = "card"
    payload["credit_card"] = {"number": "4111111111111111"}
    payload["billing_address"] = {"address": "1 Main St"}

    check_order_payload(payload, now=NOW)


def test_an_unknown_payment_method_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["payment_method"] = "invoice"

    assert problems_of(payload) == [
        "invalid_value:payment_method: must be one of balance, profile, card "
        "(given: 'invoice')"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("skip_approval", "yes", "must be true or false (given: 'yes')"),
        ("disable_ct", 1, "must be true or false (given: 1)"),
        ("auto_reissue", 2, "must be an integer from 0 to 1 (given: 2)"),
        ("auto_renew", "1", "must be an integer from 0 to 1 (given: '1')"),
        ("enable_guest_access", -1, "must be an integer from 0 to 1 (given: -1)"),
        ("comments", 5, "must be a non-empty string (given: 5)"),
        ("container", {"id": "x"}, None),
        ("additional_emails", ["not-an-email"], None),
        ("custom_fields", [{"metadata_id": 1}], None),
        ("technical_contact", {"first_name": "Ada"}, None),
    ],
)
def test_option_types_are_checked_and_named(
    csr_pem: str, field: str, value: Any, message: str | None
) -> None:
    payload = order_payload(csr_pem)
    payload[field] = value

    problems = problems_of(payload)
    if message is not None:
        assert problems == [f"invalid_value:{field}: {message}"]
    else:
        assert problems
        assert all(field in problem for problem in problems)


def test_a_contact_names_each_missing_part(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["organization_contact"] = {"first_name": "Ada"}

    assert problems_of(payload) == [
        "organization_contact.last_name: required (given: nothing)",
        "organization_contact.email: required (given: nothing)",
    ]


def test_the_check_does_not_change_the_payload(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    before = copy.deepcopy(payload)

    check_order_payload(payload, now=NOW)

    assert payload == before


def test_a_reissue_without_a_csr_is_refused() -> None:
    with pytest.raises(PayloadError) as caught:
        check_reissue_payload(
            {"certificate": {"common_name": "example.com"}, "skip_approval": "no"},
            now=NOW,
        )

    assert caught.value.problems == [
        "certificate.csr: required (given: nothing)",
        "invalid_value:skip_approval: must be true or false (given: 'no')",
    ]


def test_the_payload_error_is_permanent_and_lists_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        check_order_payload({}, now=NOW)

    assert isinstance(caught.value, PermanentError)
    assert caught.value.code == "invalid_payload"
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert len(caught.value.problems) == 4
