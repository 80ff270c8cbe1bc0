"""The checks DigiCert would make of an order or a reissue body.

Every problem of a body is reported at once, in one PayloadError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from worker.payload.problems import Problems, shown
from worker.payload.validity import (
    check_cert_validity,
    check_deprecated_validity,
    check_order_validity,
)

SIGNATURE_HASHES = ("sha256", "sha384", "sha512")
PAYMENT_METHODS = ("balance", "profile", "card")
ALTERNATIVE_ORDER_ID_MAX_LENGTH = 64
# The page asks for "a custom alphanumeric ID"; dashes, underscores and dots are
# allowed too, as ids derived from names and dates need them.
ALTERNATIVE_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_order_payload(payload: Mapping[str, Any], *, now: datetime) -> None:
    """Raise PayloadError listing every reason DigiCert would refuse this order.

    certrenew places renewal orders only, so a payload without
    ``renewed_thumbprint`` or ``renewal_of_order_id`` is refused too.
    """
    problems = Problems()
    today = now.astimezone(UTC).date()

    certificate = problems.object_at(payload, "certificate", required=True)
    if certificate is not None:
        _check_certificate(certificate, problems, common_name_required=True)
    order_ends_on = check_order_validity(payload, problems, today)
    if certificate is not None:
        cert_ends_on = check_cert_validity(certificate, problems, today)
        if cert_ends_on and order_ends_on and cert_ends_on > order_ends_on:
            problems.add(
                "cert_validity_exceeds_order_validity: certificate.cert_validity: "
                f"the certificate would end on {cert_ends_on}, after the order "
                f"on {order_ends_on} (given: "
                f"{shown(certificate.get('cert_validity'))})"
            )
    _check_organization(payload, problems)
    _check_renewal(payload, problems)
    _check_alternative_order_id(payload, problems)
    _check_payment(payload, problems)
    _check_options(payload, problems)
    check_deprecated_validity(payload, problems, today)
    problems.raise_if_any()


def check_reissue_payload(payload: Mapping[str, Any], *, now: datetime) -> None:
    """Raise PayloadError listing every reason DigiCert would refuse this reissue."""
    problems = Problems()
    today = now.astimezone(UTC).date()

    certificate = problems.object_at(payload, "certificate", required=True)
    if certificate is not None:
        _check_certificate(certificate, problems, common_name_required=False)
        check_cert_validity(certificate, problems, today)
    problems.flag(payload, "skip_approval")
    problems.raise_if_any()


def _check_certificate(
    certificate: Mapping[str, Any], problems: Problems, *, common_name_required: bool
) -> None:
    common_name = problems.string_at(
        certificate, "common_name", "certificate", required=common_name_required
    )
    if common_name is not None:
        problems.dns_name("certificate.common_name", common_name)

    dns_names = certificate.get("dns_names")
    if dns_names is not None:
        if not isinstance(dns_names, list):
            problems.invalid("certificate.dns_names", "must be a list", dns_names)
        else:
            for index, name in enumerate(dns_names):
                problems.dns_name(f"certificate.dns_names[{index}]", name)

    csr = problems.string_at(certificate, "csr", "certificate", required=True)
    if csr is not None and not _csr_parses(csr):
        problems.add(
            "csr_invalid_cannot_parse: certificate.csr: must be a PEM certificate "
            f"signing request (given: {shown(csr)})"
        )

    signature_hash = problems.string_at(
        certificate, "signature_hash", "certificate", required=common_name_required
    )
    if signature_hash is not None and signature_hash not in SIGNATURE_HASHES:
        problems.invalid(
            "certificate.signature_hash",
            f"must be one of {', '.join(SIGNATURE_HASHES)}",
            signature_hash,
        )

    platform = problems.object_at(certificate, "server_platform", parent="certificate")
    if platform is not None:
        problems.integer_at(
            platform, "id", "certificate.server_platform", required=True
        )
    for name in ("profile_option", "ca_cert_id"):
        problems.string_at(certificate, name, "certificate")


def _csr_parses(text: str) -> bool:
    # DigiCert takes a CSR with or without line breaks inside the armour (API.md).
    body = re.sub(r"-----(BEGIN|END) (NEW )?CERTIFICATE REQUEST-----", "", text)
    base64_text = "".join(body.split())
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + "\n".join(base64_text[i : i + 64] for i in range(0, len(base64_text), 64))
        + "\n-----END CERTIFICATE REQUEST-----\n"
    )
    if "CERTIFICATE REQUEST-----" not in text:
        return False
    try:
        x509.load_pem_x509_csr(pem.encode("ascii", "replace"))
    except ValueError:
        return False
    return True


def _check_organization(payload: Mapping[str, Any], problems: Problems) -> None:
    organization = problems.object_at(payload, "organization", required=True)
    if organization is None:
        return
    if "id" in organization:
        problems.integer_in("organization.id", organization["id"], 1, None)
        return
    # Without an id, the details of a new organization (Create organization).
    for name in ("name", "address", "city", "country"):
        problems.string_at(
            organization,
            name,
            "organization",
            required=True,
            rule="required when organization.id is not given",
        )


def _check_renewal(payload: Mapping[str, Any], problems: Problems) -> None:
    thumbprint = payload.get("renewed_thumbprint")
    order_id = payload.get("renewal_of_order_id")
    if thumbprint is None and order_id is None:
        problems.add(
            "renewed_thumbprint: a renewal order must carry renewed_thumbprint "
            "or renewal_of_order_id (given: neither)"
        )
    if thumbprint is not None and not (
        isinstance(thumbprint, str) and THUMBPRINT.match(thumbprint)
    ):
        problems.invalid(
            "renewed_thumbprint",
            "must be the SHA-1 thumbprint, 40 hex digits",
            thumbprint,
        )
    if order_id is not None:
        problems.integer_in("renewal_of_order_id", order_id, 1, None)


def _check_alternative_order_id(payload: Mapping[str, Any], problems: Problems) -> None:
    value = payload.get("alternative_order_id")
    if value is None:
        return
    if not isinstance(value, str):
        problems.invalid("alternative_order_id", "must be a string", value)
    elif len(value) > ALTERNATIVE_ORDER_ID_MAX_LENGTH:
        problems.invalid(
            "alternative_order_id",
            f"must be at most {ALTERNATIVE_ORDER_ID_MAX_LENGTH} characters "
            f"({len(value)} given)",
            value,
        )
    elif not ALTERNATIVE_ORDER_ID.match(value):
        problems.invalid(
            "alternative_order_id",
            "must be letters and digits, with '-', '_' or '.' after the first",
            value,
        )


def _check_payment(payload: Mapping[str, Any], problems: Problems) -> None:
    method = payload.get("payment_method")
    if method is None:
        return
    if method not in PAYMENT_METHODS:
        problems.invalid(
            "payment_method", f"must be one of {', '.join(PAYMENT_METHODS)}", method
        )
        return
    if method != "card":
        return
    # Card details are never quoted back: only whether they are there.
    for name in ("credit_card", "billing_address"):
        if not isinstance(payload.get(name), Mapping):
            problems.add(
                f"{name}: required when payment_method is 'card' "
                f"(given: {'nothing' if name not in payload else 'not an object'})"
            )


def _check_options(payload: Mapping[str, Any], problems: Problems) -> None:
    for name in ("skip_approval", "disable_renewal_notifications", "disable_ct"):
        problems.flag(payload, name)
    for name in ("auto_reissue", "auto_renew", "enable_guest_access"):
        if name in payload:
            problems.integer_in(name, payload[name], 0, 1)
    for name in ("dcv_method", "comments", "locale", "custom_renewal_message"):
        problems.string_at(payload, name, "")

    _check_emails(payload, problems)

    container = problems.object_at(payload, "container")
    if container is not None:
        problems.integer_in("container.id", container.get("id"), 1, None)
    _check_custom_fields(payload, problems)
    _check_contacts(payload, problems)


def _check_emails(payload: Mapping[str, Any], problems: Problems) -> None:
    emails = payload.get("additional_emails")
    if emails is None:
        return
    if not isinstance(emails, list):
        problems.invalid("additional_emails", "must be a list", emails)
        return
    for index, email in enumerate(emails):
        if not (isinstance(email, str) and EMAIL.match(email)):
            problems.invalid(
                f"additional_emails[{index}]", "must be an email address", email
            )


def _check_contacts(payload: Mapping[str, Any], problems: Problems) -> None:
    for name in ("organization_contact", "technical_contact"):
        contact = problems.object_at(payload, name)
        if contact is not None:
            for part in ("first_name", "last_name", "email"):
                problems.string_at(contact, part, name, required=True)
            for part in ("job_title", "telephone", "telephone_extension"):
                problems.string_at(contact, part, name)


def _check_custom_fields(payload: Mapping[str, Any], problems: Problems) -> None:
    fields = payload.get("custom_fields")
    if fields is None:
        return
    if not isinstance(fields, list):
        problems.invalid("custom_fields", "must be a list", fields)
        return
    for index, field in enumerate(fields):
        where = f"custom_fields[{index}]"
        if not isinstance(field, Mapping):
            problems.invalid(where, "must be an object", field)
            continue
        problems.integer_at(field, "metadata_id", where, required=True)
        problems.string_at(field, "value", where, required=True)
