from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Contact, CustomField, OrderSettings, PolicySettings
from certrenew.errors import PayloadError, PermanentError
from certrenew.inventory.entry import CertificateFacts, Entry
from worker.keys import build_csr
from worker.payload import (
    build_order_payload,
    build_reissue_payload,
    check_order_payload,
    check_reissue_payload,
    ordered_names,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
THUMBPRINT = "A" * 40


def facts(
    common_name: str | None = "www.example.com",
    dns_names: tuple[str, ...] = ("www.example.com", "example.com", "api.example.com"),
) -> CertificateFacts:
    return CertificateFacts(
        subject=f"CN={common_name}",
        common_name=common_name,
        dns_names=dns_names,
        key_type="ec",
        key_size=256,
        signature_hash="sha256",
        not_before=datetime(2025, 11, 1, tzinfo=UTC),
        not_after=datetime(2026, 5, 20, tzinfo=UTC),
        thumbprint=THUMBPRINT,
        serial_number="0A1B",
        issuer="CN=Test Intermediate 2",
    )


def entry(**order: Any) -> Entry:
    settings = {"organization_id": 12345, **order}
    return Entry(
        name="www",
        source="files:certs",
        location="certs/www.pem",
        key_location="certs/www.key",
        facts=facts(),
        order=OrderSettings(**settings),
        policy=PolicySettings(),
    )


@pytest.fixture(scope="module")
def csr_pem(ec_key: ec.EllipticCurvePrivateKey) -> str:
    return build_csr(
        ec_key,
        common_name="www.example.com",
        dns_names=["example.com", "api.example.com"],
        signature_hash="sha256",
    )


def order_payload(csr_pem: str, **order: Any) -> dict[str, Any]:
    return build_order_payload(
        entry(**order),
        csr_pem=csr_pem,
        alternative_order_id="certrenew-" + "a" * 20,
        validity_days=199,
        renewal_of_order_id=None,
    )


def problems_of(payload: dict[str, Any]) -> list[str]:
    with pytest.raises(PayloadError) as caught:
        check_order_payload(payload, now=NOW)
    return caught.value.problems


# Building


def test_the_default_renewal_order_carries_the_required_fields(csr_pem: str) -> None:
    payload = build_order_payload(
        entry(),
        csr_pem=csr_pem,
        alternative_order_id="certrenew-abc",
        validity_days=199,
        renewal_of_order_id=98765,
    )

    assert payload == {
        "certificate": {
            "common_name": "www.example.com",
            "dns_names": ["example.com", "api.example.com"],
            "csr": csr_pem,
            "signature_hash": "sha256",
            "server_platform": {"id": -1},
            "cert_validity": {"days": 199},
        },
        "organization": {"id": 12345},
        "order_validity": {"years": 1},
        "renewed_thumbprint": THUMBPRINT,
        "renewal_of_order_id": 98765,
        "alternative_order_id": "certrenew-abc",
        "skip_approval": True,
        "auto_reissue": 0,
        "auto_renew": 0,
        "disable_renewal_notifications": False,
        "disable_ct": False,
        "payment_method": "balance",
    }
    check_order_payload(payload, now=NOW)


def test_an_unknown_previous_order_id_is_left_out(csr_pem: str) -> None:
    assert "renewal_of_order_id" not in order_payload(csr_pem)


def test_a_certificate_without_a_common_name_is_ordered_under_its_first_san() -> None:
    assert ordered_names(facts(None, ("a.example.com", "b.example.com"))) == (
        "a.example.com",
        ("b.example.com",),
    )


def test_a_certificate_without_any_name_cannot_be_ordered() -> None:
    with pytest.raises(PermanentError, match="neither a common name nor a DNS name"):
        ordered_names(facts(None, ()))


def test_a_single_name_certificate_sends_no_dns_names(csr_pem: str) -> None:
    single = Entry(
        name="one",
        source="files:certs",
        location="certs/one.pem",
        key_location="certs/one.key",
        facts=facts("example.com", ("example.com",)),
        order=OrderSettings(organization_id=1),
        policy=PolicySettings(),
    )

    payload = build_order_payload(
        single,
        csr_pem=csr_pem,
        alternative_order_id="x1",
        validity_days=10,
        renewal_of_order_id=None,
    )

    assert "dns_names" not in payload["certificate"]


CONTACT = Contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")


@pytest.mark.parametrize(
    ("setting", "value", "path", "expected"),
    [
        ("product", "ssl_securesite_flex", None, None),
        ("organization_id", 777, ("organization",), {"id": 777}),
        ("order_validity_years", 3, ("order_validity",), {"years": 3}),
        ("signature_hash", "sha384", ("certificate", "signature_hash"), "sha384"),
        ("server_platform_id", 2, ("certificate", "server_platform"), {"id": 2}),
        ("dcv_method", "dns-txt-token", ("dcv_method",), "dns-txt-token"),
        ("skip_approval", False, ("skip_approval",), False),
        ("auto_reissue", True, ("auto_reissue",), 1),
        ("auto_renew", True, ("auto_renew",), 1),
        (
            "disable_renewal_notifications",
            True,
            ("disable_renewal_notifications",),
            True,
        ),
        ("custom_renewal_message", "Renew it", ("custom_renewal_message",), "Renew it"),
        (
            "additional_emails",
            ["ops@example.com"],
            ("additional_emails",),
            ["ops@example.com"],
        ),
        ("comments", "by certrenew", ("comments",), "by certrenew"),
        ("locale", "de", ("locale",), "de"),
        ("container_id", 55, ("container",), {"id": 55}),
        (
            "custom_fields",
            [CustomField(metadata_id=9, value="cost-centre-1")],
            ("custom_fields",),
            [{"metadata_id": 9, "value": "cost-centre-1"}],
        ),
        (
            "organization_contact",
            CONTACT,
            ("organization_contact",),
            {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        ),
        (
            "technical_contact",
            CONTACT.model_copy(update={"telephone": "+1 555 0100"}),
            ("technical_contact",),
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "telephone": "+1 555 0100",
            },
        ),
        ("payment_method", "profile", ("payment_method",), "profile"),
        ("ca_cert_id", "5E9E9E", ("certificate", "ca_cert_id"), "5E9E9E"),
        (
            "profile_option",
            "some_profile",
            ("certificate", "profile_option"),
            "some_profile",
        ),
        ("disable_ct", True, ("disable_ct",), True),
        ("enable_guest_access", True, ("enable_guest_access",), 1),
        ("enable_guest_access", False, ("enable_guest_access",), 0),
    ],
)
def test_each_order_setting_lands_in_its_payload_field(
    csr_pem: str, setting: str, value: Any, path: tuple[str, ...] | None, expected: Any
) -> None:
    payload = order_payload(csr_pem, **{setting: value})

    if path is None:
        # The product goes in the URL, never in the body.
        assert value not in str(payload)
        return
    found: Any = payload
    for key in path:
        found = found[key]
    assert found == expected
    check_order_payload(payload, now=NOW)


@pytest.mark.parametrize(
    "field",
    [
        "dcv_method",
        "custom_renewal_message",
        "additional_emails",
        "comments",
        "locale",
        "container",
        "custom_fields",
        "organization_contact",
        "technical_contact",
        "enable_guest_access",
    ],
)
def test_an_unset_optional_setting_is_not_sent(csr_pem: str, field: str) -> None:
    assert field not in order_payload(csr_pem)


def test_unset_certificate_options_are_not_sent(csr_pem: str) -> None:
    certificate = order_payload(csr_pem)["certificate"]

    assert "ca_cert_id" not in certificate
    assert "profile_option" not in certificate


def test_the_cert_validity_and_thumbprint_come_from_the_renewal(csr_pem: str) -> None:
    payload = build_order_payload(
        entry(),
        csr_pem=csr_pem,
        alternative_order_id="id1",
        validity_days=46,
        renewal_of_order_id=None,
    )

    assert payload["certificate"]["cert_validity"] == {"days": 46}
    assert payload["renewed_thumbprint"] == THUMBPRINT


def test_the_reissue_body_carries_the_certificate_and_skip_approval(
    csr_pem: str,
) -> None:
    payload = build_reissue_payload(
        entry(skip_approval=False, ca_cert_id="ICA1"), csr_pem=csr_pem, validity_days=99
    )

    assert payload == {
        "certificate": {
            "common_name": "www.example.com",
            "dns_names": ["example.com", "api.example.com"],
            "csr": csr_pem,
            "signature_hash": "sha256",
            "server_platform": {"id": -1},
            "cert_validity": {"days": 99},
            "ca_cert_id": "ICA1",
        },
        "skip_approval": False,
    }
    check_reissue_payload(payload, now=NOW)


# Checking


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


@pytest.mark.parametrize(
    ("order_validity", "valid"),
    [
        ({"years": 1}, True),
        ({"years": 3}, True),
        ({"years": 0}, False),
        ({"years": 4}, False),
        ({"days": 1095}, True),
        ({"days": 1096}, False),
        ({"days": 0}, False),
        ({"custom_expiration_date": "01 MAY 2029"}, True),
        ({"custom_expiration_date": "02 MAY 2029"}, False),
        ({"custom_expiration_date": "01 may 2027"}, True),
        ({"custom_expiration_date": "01 MAY 2026"}, False),
        ({"custom_expiration_date": "2027-05-01"}, False),
        ({"custom_expiration_date": "31 FEB 2027"}, False),
    ],
)
def test_order_validity_ranges_and_formats(
    csr_pem: str, order_validity: dict[str, Any], valid: bool
) -> None:
    payload = order_payload(csr_pem)
    payload["order_validity"] = order_validity
    payload["certificate"]["cert_validity"] = {"days": 1}

    if valid:
        check_order_payload(payload, now=NOW)
    else:
        (problem,) = problems_of(payload)
        field = next(iter(order_validity))
        assert problem.startswith(f"invalid_value:order_validity.{field}: must be")
        assert problem.endswith(f"(given: {order_validity[field]!r})")


def test_order_validity_without_a_length_is_refused(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["order_validity"] = {}

    assert problems_of(payload) == [
        "order_validity.years: required unless order_validity.days or "
        "order_validity.custom_expiration_date is given (given: nothing)"
    ]


@pytest.mark.parametrize(
    ("days", "valid"), [(1, True), (365, True), (397, False), (398, False), (0, False)]
)
def test_cert_validity_days_stay_within_the_page_and_a_one_year_order(
    csr_pem: str, days: int, valid: bool
) -> None:
    payload = order_payload(csr_pem)
    payload["certificate"]["cert_validity"] = {"days": days}

    if valid:
        check_order_payload(payload, now=NOW)
    elif days == 397:
        # 397 days is on the page, but the one-year order ends on 2027-05-01.
        assert problems_of(payload) == [
            "cert_validity_exceeds_order_validity: certificate.cert_validity: the "
            "certificate would end on 2027-06-02, after the order on 2027-05-01 "
            "(given: {'days': 397})"
        ]
    else:
        assert problems_of(payload) == [
            "invalid_value:certificate.cert_validity.days: must be an integer from "
            f"1 to 397 (given: {days})"
        ]


def test_a_certificate_ending_with_the_order_is_accepted(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["order_validity"] = {"days": 30}
    payload["certificate"]["cert_validity"] = {"days": 30}
    check_order_payload(payload, now=NOW)

    payload["certificate"]["cert_validity"] = {"days": 31}
    (problem,) = problems_of(payload)
    assert problem.startswith("cert_validity_exceeds_order_validity:")


@pytest.mark.parametrize(
    ("cert_validity", "message"),
    [
        (
            {"years": 2},
            "invalid_value:certificate.cert_validity.years: must be an integer "
            "from 1 to 1 (given: 2)",
        ),
        (
            {"custom_expiration_date": "03 JUN 2027"},
            "invalid_value:certificate.cert_validity.custom_expiration_date: must "
            "be after 2026-05-01 and within 397 days (by 2027-06-02) (given: "
            "'03 JUN 2027')",
        ),
        (
            {"custom_expiration_date": "June 1st"},
            "invalid_value:certificate.cert_validity.custom_expiration_date: must "
            "be a date as dd MMM YYYY, e.g. 09 JUN 2026 (given: 'June 1st')",
        ),
    ],
)
def test_cert_validity_years_and_custom_dates_are_checked(
    csr_pem: str, cert_validity: dict[str, Any], message: str
) -> None:
    payload = order_payload(csr_pem, order_validity_years=2)
    payload["certificate"]["cert_validity"] = cert_validity

    assert problems_of(payload) == [message]


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


def test_deprecated_validity_years_uses_digicerts_code(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["validity_years"] = 4

    assert problems_of(payload) == [
        "invalid_value:validity_years: must be an integer from 1 to 3 (given: 4)"
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


def test_a_reissue_checks_its_cert_validity(csr_pem: str) -> None:
    payload = build_reissue_payload(entry(), csr_pem=csr_pem, validity_days=400)

    with pytest.raises(PayloadError, match=r"cert_validity.days: must be an integer"):
        check_reissue_payload(payload, now=NOW)


def test_the_payload_error_is_permanent_and_lists_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        check_order_payload({}, now=NOW)

    assert isinstance(caught.value, PermanentError)
    assert caught.value.code == "invalid_payload"
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert len(caught.value.problems) == 4


def test_without_a_configured_organization_the_renewal_keeps_the_old_orders(
    csr_pem: str,
) -> None:
    def organization(configured: int | None, previous: int | None) -> Any:
        payload = build_order_payload(
            entry(organization_id=configured),
            csr_pem=csr_pem,
            alternative_order_id="certrenew" + "A" * 40 + "g1",
            validity_days=199,
            renewal_of_order_id=7,
            previous_organization_id=previous,
        )
        return payload.get("organization")

    assert organization(None, 445566) == {"id": 445566}
    assert organization(112233, 445566) == {"id": 112233}
    assert organization(None, None) is None
