"""Order and reissue bodies for CertCentral, and the checks DigiCert would make.

``build_order_payload`` turns an entry and its order settings into the body of
``POST /order/certificate/{product}`` (the endpoint page,
order-secure-site-ev.txt), sending only the fields that are set.
``check_order_payload`` refuses locally what DigiCert would refuse, listing
every problem at once, so a bad payload costs no API call (issue 4). Each
message starts with DigiCert's error code where API.md knows one, then names
the field, the rule and the value given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography import x509

from certrenew.config import Contact
from certrenew.errors import PayloadError, PermanentError
from certrenew.inventory.entry import CertificateFacts, Entry

SIGNATURE_HASHES = ("sha256", "sha384", "sha512")
PAYMENT_METHODS = ("balance", "profile", "card")
ORDER_VALIDITY_MAX_YEARS = 3
ORDER_VALIDITY_MAX_DAYS = 1095
CERT_VALIDITY_MAX_DAYS = 397
ALTERNATIVE_ORDER_ID_MAX_LENGTH = 64
# The page asks for "a custom alphanumeric ID"; dashes, underscores and dots are
# allowed too, as ids derived from names and dates need them.
ALTERNATIVE_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
# RFC 1035 section 2.3.1 labels (letters, digits, inner hyphens, 1-63 octets).
# No underscores: CA/B Forum ballot SC12 ended them in public TLS names.
DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DNS_NAME_MAX_LENGTH = 253
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# "dd MMM YYYY", e.g. "09 JUN 2021" (order_validity / cert_validity).
DAY_MONTH_YEAR = re.compile(r"^(\d{2}) ([A-Za-z]{3}) (\d{4})$")
MONTHS = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
SHOWN_VALUE_MAX_LENGTH = 80


# Building


def ordered_names(facts: CertificateFacts) -> tuple[str, tuple[str, ...]]:
    """The common name to order and the other DNS names, each once, in order.

    A certificate without a common name is ordered under its first SAN.
    """
    common_name = facts.common_name or (facts.dns_names[0] if facts.dns_names else "")
    if not common_name:
        raise PermanentError(
            f"certificate {facts.thumbprint}: has neither a common name nor a "
            "DNS name to order",
            code="no_names",
        )
    others = tuple(
        name for name in dict.fromkeys(facts.dns_names) if name != common_name
    )
    return common_name, others


def build_order_payload(
    entry: Entry,
    *,
    csr_pem: str,
    alternative_order_id: str,
    validity_days: int,
    renewal_of_order_id: int | None,
    previous_organization_id: int | None = None,
) -> dict[str, Any]:
    """The body of a renewal order for ``entry.order.product``.

    Without an organization in the settings, the renewal is ordered for the
    organization of the order it renews (``previous_organization_id``): an EV
    certificate names its organization, and the renewal must name the same.
    """
    settings = entry.order
    payload: dict[str, Any] = {
        "certificate": _certificate(
            entry, csr_pem=csr_pem, validity_days=validity_days
        ),
        "order_validity": {"years": settings.order_validity_years},
        "renewed_thumbprint": entry.facts.thumbprint,
        "alternative_order_id": alternative_order_id,
        "skip_approval": settings.skip_approval,
        # The page types these two as int 0/1, not bool.
        "auto_reissue": int(settings.auto_reissue),
        "auto_renew": int(settings.auto_renew),
        "disable_renewal_notifications": settings.disable_renewal_notifications,
        "disable_ct": settings.disable_ct,
        "payment_method": settings.payment_method,
    }
    organization_id = settings.organization_id or previous_organization_id
    if organization_id is not None:
        payload["organization"] = {"id": organization_id}
    if renewal_of_order_id is not None:
        payload["renewal_of_order_id"] = renewal_of_order_id
    if settings.container_id is not None:
        payload["container"] = {"id": settings.container_id}
    if settings.additional_emails:
        payload["additional_emails"] = list(settings.additional_emails)
    if settings.custom_fields:
        payload["custom_fields"] = [
            {"metadata_id": field.metadata_id, "value": field.value}
            for field in settings.custom_fields
        ]
    if settings.organization_contact is not None:
        payload["organization_contact"] = _contact(settings.organization_contact)
    if settings.technical_contact is not None:
        payload["technical_contact"] = _contact(settings.technical_contact)
    # "Not allowed if guest access is disabled in your account settings": sent
    # only when the operator set it, so an account without guest access works.
    if settings.enable_guest_access is not None:
        payload["enable_guest_access"] = int(settings.enable_guest_access)
    for name in ("dcv_method", "comments", "locale", "custom_renewal_message"):
        value = getattr(settings, name)
        if value is not None:
            payload[name] = value
    return payload


def build_reissue_payload(
    entry: Entry, *, csr_pem: str, validity_days: int
) -> dict[str, Any]:
    """The body of ``POST /order/certificate/{order_id}/reissue`` (API.md)."""
    certificate = _certificate(entry, csr_pem=csr_pem, validity_days=validity_days)
    return {"certificate": certificate, "skip_approval": entry.order.skip_approval}


def _certificate(entry: Entry, *, csr_pem: str, validity_days: int) -> dict[str, Any]:
    settings = entry.order
    common_name, other_names = ordered_names(entry.facts)
    certificate: dict[str, Any] = {"common_name": common_name}
    if other_names:
        certificate["dns_names"] = list(other_names)
    certificate["csr"] = csr_pem
    certificate["signature_hash"] = settings.signature_hash
    certificate["server_platform"] = {"id": settings.server_platform_id}
    certificate["cert_validity"] = {"days": validity_days}
    if settings.profile_option is not None:
        certificate["profile_option"] = settings.profile_option
    if settings.ca_cert_id is not None:
        certificate["ca_cert_id"] = settings.ca_cert_id
    return certificate


def _contact(contact: Contact) -> dict[str, str]:
    return {
        name: value for name, value in contact.model_dump().items() if value is not None
    }


# Checking


def check_order_payload(payload: Mapping[str, Any], *, now: datetime) -> None:
    """Raise PayloadError listing every reason DigiCert would refuse this order.

    certrenew places renewal orders only, so a payload without
    ``renewed_thumbprint`` or ``renewal_of_order_id`` is refused too.
    """
    problems = _Problems()
    today = now.astimezone(UTC).date()

    certificate = problems.object_at(payload, "certificate", required=True)
    if certificate is not None:
        _check_certificate(certificate, problems, common_name_required=True)
    order_ends_on = _check_order_validity(payload, problems, today)
    if certificate is not None:
        cert_ends_on = _check_cert_validity(certificate, problems, today)
        if cert_ends_on and order_ends_on and cert_ends_on > order_ends_on:
            problems.add(
                "cert_validity_exceeds_order_validity: certificate.cert_validity: "
                f"the certificate would end on {cert_ends_on}, after the order "
                f"on {order_ends_on} (given: "
                f"{_shown(certificate.get('cert_validity'))})"
            )
    _check_organization(payload, problems)
    _check_renewal(payload, problems)
    _check_alternative_order_id(payload, problems)
    _check_payment(payload, problems)
    _check_options(payload, problems)
    _check_deprecated_validity(payload, problems, today)
    problems.raise_if_any()


def check_reissue_payload(payload: Mapping[str, Any], *, now: datetime) -> None:
    """Raise PayloadError listing every reason DigiCert would refuse this reissue."""
    problems = _Problems()
    today = now.astimezone(UTC).date()

    certificate = problems.object_at(payload, "certificate", required=True)
    if certificate is not None:
        _check_certificate(certificate, problems, common_name_required=False)
        _check_cert_validity(certificate, problems, today)
    problems.flag(payload, "skip_approval")
    problems.raise_if_any()


def _check_certificate(
    certificate: Mapping[str, Any], problems: _Problems, *, common_name_required: bool
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
            f"signing request (given: {_shown(csr)})"
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


def _check_order_validity(
    payload: Mapping[str, Any], problems: _Problems, today: date
) -> date | None:
    """Check ``order_validity``; return the order's last day when it is known."""
    validity = problems.object_at(payload, "order_validity", required=True)
    if validity is None:
        return None
    if not {"years", "days", "custom_expiration_date"} & validity.keys():
        problems.add(
            "order_validity.years: required unless order_validity.days or "
            "order_validity.custom_expiration_date is given (given: nothing)"
        )
        return None

    ends_on: list[date | None] = []
    if "years" in validity:
        years = problems.integer_in(
            "order_validity.years", validity["years"], 1, ORDER_VALIDITY_MAX_YEARS
        )
        ends_on.append(_add_years(today, years) if years is not None else None)
    if "days" in validity:
        days = problems.integer_in(
            "order_validity.days", validity["days"], 1, ORDER_VALIDITY_MAX_DAYS
        )
        ends_on.append(today + timedelta(days=days) if days is not None else None)
    if "custom_expiration_date" in validity:
        ends_on.append(
            problems.custom_date(
                "order_validity.custom_expiration_date",
                validity["custom_expiration_date"],
                today,
                _add_years(today, ORDER_VALIDITY_MAX_YEARS),
                "three years",
            )
        )
    # custom_expiration_date overrides days, which overrides years (the page).
    return ends_on[-1]


def _check_cert_validity(
    certificate: Mapping[str, Any], problems: _Problems, today: date
) -> date | None:
    """Check ``certificate.cert_validity``; return the certificate's last day."""
    validity = problems.object_at(certificate, "cert_validity", parent="certificate")
    if validity is None:
        return None

    ends_on: list[date | None] = []
    if "years" in validity:
        years = problems.integer_in(
            "certificate.cert_validity.years", validity["years"], 1, 1
        )
        ends_on.append(_add_years(today, years) if years is not None else None)
    if "days" in validity:
        days = problems.integer_in(
            "certificate.cert_validity.days",
            validity["days"],
            1,
            CERT_VALIDITY_MAX_DAYS,
        )
        ends_on.append(today + timedelta(days=days) if days is not None else None)
    if "custom_expiration_date" in validity:
        ends_on.append(
            problems.custom_date(
                "certificate.cert_validity.custom_expiration_date",
                validity["custom_expiration_date"],
                today,
                today + timedelta(days=CERT_VALIDITY_MAX_DAYS),
                f"{CERT_VALIDITY_MAX_DAYS} days",
            )
        )
    return ends_on[-1] if ends_on else None


def _check_organization(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_renewal(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_alternative_order_id(
    payload: Mapping[str, Any], problems: _Problems
) -> None:
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


def _check_payment(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_options(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_emails(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_contacts(payload: Mapping[str, Any], problems: _Problems) -> None:
    for name in ("organization_contact", "technical_contact"):
        contact = problems.object_at(payload, name)
        if contact is not None:
            for part in ("first_name", "last_name", "email"):
                problems.string_at(contact, part, name, required=True)
            for part in ("job_title", "telephone", "telephone_extension"):
                problems.string_at(contact, part, name)


def _check_custom_fields(payload: Mapping[str, Any], problems: _Problems) -> None:
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


def _check_deprecated_validity(
    payload: Mapping[str, Any], problems: _Problems, today: date
) -> None:
    if "validity_years" in payload:
        problems.integer_in(
            "validity_years", payload["validity_years"], 1, ORDER_VALIDITY_MAX_YEARS
        )
    value = payload.get("custom_expiration_date")
    if value is None:
        return
    parsed = _iso_date(value)
    latest = _add_years(today, ORDER_VALIDITY_MAX_YEARS)
    if parsed is None or not today < parsed <= latest:
        problems.invalid(
            "custom_expiration_date",
            f"must be a yyyy-MM-dd date after {today} and at most {latest}",
            value,
        )


def _iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= SHOWN_VALUE_MAX_LENGTH:
        return text
    return f"{text[:SHOWN_VALUE_MAX_LENGTH]}... ({len(text)} characters)"


class _Problems:
    """Collects every problem of one payload, each as a finished message."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise PayloadError(list(self.messages))

    def invalid(self, field: str, rule: str, value: Any) -> None:
        self.add(f"invalid_value:{field}: {rule} (given: {_shown(value)})")

    def missing(self, field: str, rule: str = "required") -> None:
        self.add(f"{field}: {rule} (given: nothing)")

    def object_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str = "",
        *,
        required: bool = False,
    ) -> Mapping[str, Any] | None:
        field = f"{parent}.{name}" if parent else name
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field)
            return None
        if not isinstance(value, Mapping):
            self.invalid(field, "must be an object", value)
            return None
        return value

    def string_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str,
        *,
        required: bool = False,
        rule: str = "required",
    ) -> str | None:
        field = f"{parent}.{name}" if parent else name
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field, rule)
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.invalid(field, "must be a non-empty string", value)
            return None
        return value

    def integer_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str,
        *,
        required: bool = False,
    ) -> int | None:
        field = f"{parent}.{name}"
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field)
            return None
        return self.integer_in(field, value, None, None)

    def integer_in(
        self, field: str, value: Any, low: int | None, high: int | None
    ) -> int | None:
        if low is not None and high is not None:
            rule = f"must be an integer from {low} to {high}"
        elif low is not None:
            rule = f"must be an integer of at least {low}"
        else:
            rule = "must be an integer"
        # bool is an int in Python but not in JSON.
        in_range = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (low is None or value >= low)
            and (high is None or value <= high)
        )
        if not in_range:
            self.invalid(field, rule, value)
            return None
        return int(value)

    def flag(self, payload: Mapping[str, Any], name: str) -> None:
        if name in payload and not isinstance(payload[name], bool):
            self.invalid(name, "must be true or false", payload[name])

    def dns_name(self, field: str, value: Any) -> None:
        if not _is_dns_name(value):
            self.invalid(
                field,
                "must be a DNS name (letters, digits, inner hyphens, at least two "
                "labels; '*.' allowed as the first label)",
                value,
            )

    def custom_date(
        self, field: str, value: Any, today: date, latest: date, span: str
    ) -> date | None:
        parsed = _day_month_year(value)
        if parsed is None:
            self.invalid(
                field, "must be a date as dd MMM YYYY, e.g. 09 JUN 2026", value
            )
            return None
        if not today < parsed <= latest:
            self.invalid(
                field, f"must be after {today} and within {span} (by {latest})", value
            )
            return None
        return parsed


def _day_month_year(value: Any) -> date | None:
    match = DAY_MONTH_YEAR.match(value) if isinstance(value, str) else None
    if match is None or match[2].upper() not in MONTHS:
        return None
    try:
        return date(int(match[3]), MONTHS.index(match[2].upper()) + 1, int(match[1]))
    except ValueError:
        return None


def _is_dns_name(value: Any) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= DNS_NAME_MAX_LENGTH:
        return False
    labels = value.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(DNS_LABEL.match(label) for label in labels)
