"""The bodies of renewal orders and reissues (worker/payload/build.py)."""

from __future__ import annotations

from typing import Any

import pytest

from certrenew.config import Contact, CustomField, OrderSettings, PolicySettings
from certrenew.errors import PermanentError
from certrenew.inventory.entry import Entry
from tests.worker.payload.samples import (
    NOW,
    THUMBPRINT,
    entry,
    facts,
    order_payload,
)
from worker.payload import (
    build_order_payload,
    build_reissue_payload,
    check_order_payload,
    check_reissue_payload,
    ordered_names,
)


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
