"""Checks an order or reissue body the way DigiCert's endpoint page describes.

Every problem is collected, so one 400 answer lists them all (API.md, Errors).
Codes: ``missing_param:<field>`` for a required field left out,
``invalid_type:<field>`` for the wrong JSON type, ``invalid_value:<field>`` for
a value out of range, plus the documented ``csr_invalid_cannot_parse`` and
``cert_validity_exceeds_order_validity``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sandbox.ca import SIGNATURE_HASHES
from sandbox.errors import ApiError, Problem
from sandbox.validity import (
    CERT_VALIDITY_MAX_DAYS,
    ORDER_MAX_DAYS,
    ORDER_MAX_YEARS,
    add_years,
    end_of_day,
    parse_custom_date,
)

ALTERNATIVE_ORDER_ID_MAX_LENGTH = 64
PAYMENT_METHODS = ("balance", "profile", "card")
TOKEN_DCV_METHODS = ("dns-txt-token", "http-token", "dns-cname-token")
THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
PEM_ARMOUR = re.compile(r"-----(BEGIN|END) (NEW )?CERTIFICATE REQUEST-----")

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class CertificateFields:
    common_name: str
    dns_names: tuple[str, ...]
    csr: str
    public_key: PublicKey
    signature_hash: str


@dataclass(frozen=True)
class OrderRequest:
    certificate: CertificateFields
    organization_id: int
    order_valid_till: datetime
    cert_valid_till: datetime | None
    alternative_order_id: str | None
    renewed_thumbprint: str | None
    renewal_of_order_id: int | None
    skip_approval: bool
    auto_reissue: bool
    dcv_method: str | None


@dataclass(frozen=True)
class RenewalLookup:
    """What the account holds, for renewal and organization checks."""

    organization_ids: frozenset[int]
    has_thumbprint: Callable[[str], bool]
    has_order: Callable[[int], bool]


class Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, code: str, message: str) -> None:
        self.found.append(Problem(code, message))

    def missing(self, field: str) -> None:
        self.add(f"missing_param:{field}", f"The field '{field}' is required.")

    def wrong_type(self, field: str, expected: str, given: Any) -> None:
        self.add(
            f"invalid_type:{field}",
            f"The field '{field}' must be {expected}; {type(given).__name__} "
            f"{given!r} given.",
        )

    def bad_value(self, field: str, rule: str, given: Any) -> None:
        self.add(
            f"invalid_value:{field}",
            f"The field '{field}' {rule}; {given!r} given.",
        )

    def raise_if_any(self) -> None:
        if self.found:
            raise ApiError(400, self.found)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_csr(text: str) -> x509.CertificateSigningRequest | None:
    """A PEM CSR, with or without line breaks inside (API.md, Ordering)."""
    body = re.sub(r"\s+", "", PEM_ARMOUR.sub("", text))
    try:
        csr = x509.load_der_x509_csr(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error):
        return None
    return csr if csr.is_signature_valid else None


def validate_order(
    body: Any, now: datetime, lookup: RenewalLookup, *, product: str
) -> OrderRequest:
    """A new order or renewal; raises ApiError listing every problem."""
    problems = Problems()
    if not isinstance(body, dict):
        raise ApiError.one(
            400, "bad_request_format", "The request body must be a JSON object."
        )

    certificate = check_certificate(body.get("certificate"), problems)
    organization_id = check_organization(body.get("organization"), lookup, problems)
    order_valid_till = check_order_validity(body, now, problems)
    cert_valid_till = check_cert_validity(
        body.get("certificate"), now, order_valid_till, problems
    )
    alternative_order_id = check_alternative_order_id(body, problems)
    renewed_thumbprint, renewal_of_order_id = check_renewal(body, lookup, problems)
    check_payment(body, problems)
    skip_approval = check_flag(body, "skip_approval", problems)
    auto_reissue = body.get("auto_reissue") in (1, "1", True)
    dcv_method = body.get("dcv_method")
    if dcv_method is not None and not isinstance(dcv_method, str):
        problems.wrong_type("dcv_method", "a string", dcv_method)
    problems.raise_if_any()

    if certificate is None or organization_id is None or order_valid_till is None:
        raise ApiError(400, problems.found)  # each None above added a problem
    return OrderRequest(
        certificate=certificate,
        organization_id=organization_id,
        order_valid_till=order_valid_till,
        cert_valid_till=cert_valid_till,
        alternative_order_id=alternative_order_id,
        renewed_thumbprint=renewed_thumbprint,
        renewal_of_order_id=renewal_of_order_id,
        skip_approval=skip_approval,
        auto_reissue=auto_reissue,
        dcv_method=dcv_method if isinstance(dcv_method, str) else None,
    )


def validate_reissue(
    body: Any, defaults: CertificateFields | None
) -> tuple[CertificateFields, bool]:
    """A reissue body: the CSR is required, names default to the order's."""
    if not isinstance(body, dict):
        raise ApiError.one(
            400, "bad_request_format", "The request body must be a JSON object."
        )
    problems = Problems()
    given = body.get("certificate")
    merged: Any = given
    if isinstance(given, dict) and defaults is not None:
        merged = {
            "common_name": defaults.common_name,
            "dns_names": list(defaults.dns_names),
            "signature_hash": defaults.signature_hash,
            **given,
        }
    certificate = check_certificate(merged, problems)
    skip_approval = check_flag(body, "skip_approval", problems)
    problems.raise_if_any()
    if certificate is None:
        raise ApiError(400, problems.found)  # a None certificate added a problem
    return certificate, skip_approval


def check_certificate(value: Any, problems: Problems) -> CertificateFields | None:
    if value is None:
        problems.missing("certificate")
        return None
    if not isinstance(value, dict):
        problems.wrong_type("certificate", "an object", value)
        return None

    common_name = check_string(value, "common_name", problems)
    dns_names = value.get("dns_names", [])
    if not isinstance(dns_names, list) or not all(
        isinstance(name, str) for name in dns_names
    ):
        problems.wrong_type("certificate.dns_names", "a list of strings", dns_names)
        dns_names = []
    csr_text = check_string(value, "csr", problems)
    csr = parse_csr(csr_text) if csr_text is not None else None
    if csr_text is not None and csr is None:
        problems.add(
            "csr_invalid_cannot_parse",
            "The field 'certificate.csr' is not a CSR that can be parsed.",
        )
    public_key = csr.public_key() if csr is not None else None
    if csr is not None and not isinstance(public_key, PublicKey):
        problems.bad_value("certificate.csr", "must carry an RSA or EC key", "other")
    signature_hash = check_string(value, "signature_hash", problems)
    if signature_hash is not None and signature_hash not in SIGNATURE_HASHES:
        problems.bad_value(
            "certificate.signature_hash",
            f"must be one of {', '.join(SIGNATURE_HASHES)}",
            signature_hash,
        )

    if common_name is None or csr_text is None or signature_hash is None:
        return None
    if not isinstance(public_key, PublicKey):
        return None
    return CertificateFields(
        common_name, tuple(dns_names), csr_text, public_key, signature_hash
    )


def check_string(value: dict[str, Any], name: str, problems: Problems) -> str | None:
    field = f"certificate.{name}"
    if name not in value:
        problems.missing(field)
        return None
    text = value[name]
    if not isinstance(text, str):
        problems.wrong_type(field, "a string", text)
        return None
    if not text.strip():
        problems.bad_value(field, "must not be empty", text)
        return None
    return text


def check_organization(
    value: Any, lookup: RenewalLookup, problems: Problems
) -> int | None:
    if value is None:
        problems.missing("organization")
        return None
    if not isinstance(value, dict):
        problems.wrong_type("organization", "an object", value)
        return None
    organization_id = value.get("id")
    if organization_id is None:
        problems.missing("organization.id")
        return None
    if not is_int(organization_id):
        problems.wrong_type("organization.id", "an integer", organization_id)
        return None
    if organization_id not in lookup.organization_ids:
        problems.bad_value(
            "organization.id", "must be an organization of the account", organization_id
        )
        return None
    return int(organization_id)


def check_order_validity(  # noqa: PLR0911 - one early return per documented rule
    body: dict[str, Any], now: datetime, problems: Problems
) -> datetime | None:
    """The plan's end: custom date over days over years (endpoint page)."""
    latest = add_years(now, ORDER_MAX_YEARS)
    value = body.get("order_validity")
    if value is None:
        return check_deprecated_validity(body, now, problems)
    if not isinstance(value, dict):
        problems.wrong_type("order_validity", "an object", value)
        return None

    if "custom_expiration_date" in value:
        text = value["custom_expiration_date"]
        day = parse_custom_date(text) if isinstance(text, str) else None
        if day is None:
            problems.bad_value(
                "order_validity.custom_expiration_date",
                "must be a date as dd MMM YYYY (09 JUN 2025)",
                text,
            )
            return None
        till = end_of_day(day)
        if not now < till <= latest + timedelta(days=1):
            problems.bad_value(
                "order_validity.custom_expiration_date",
                "must be within three years from today",
                text,
            )
            return None
        return till
    if "days" in value:
        days = value["days"]
        if not is_int(days) or not 1 <= days <= ORDER_MAX_DAYS:
            problems.bad_value(
                "order_validity.days", f"must be 1 to {ORDER_MAX_DAYS}", days
            )
            return None
        return now + timedelta(days=days)
    years = value.get("years")
    if years is None:
        problems.missing("order_validity.years")
        return None
    if not is_int(years) or not 1 <= years <= ORDER_MAX_YEARS:
        problems.bad_value("order_validity.years", "must be 1 to 3", years)
        return None
    return add_years(now, years)


def check_deprecated_validity(
    body: dict[str, Any], now: datetime, problems: Problems
) -> datetime | None:
    """``validity_years`` and ``custom_expiration_date`` still stand in."""
    if "custom_expiration_date" in body:
        text = body["custom_expiration_date"]
        try:
            day = datetime.strptime(str(text), "%Y-%m-%d").replace(tzinfo=UTC).date()
        except ValueError:
            problems.bad_value(
                "custom_expiration_date", "must be a date as yyyy-MM-dd", text
            )
            return None
        till = end_of_day(day)
        if not now < till <= add_years(now, ORDER_MAX_YEARS) + timedelta(days=1):
            problems.bad_value(
                "custom_expiration_date", "must be within three years", text
            )
            return None
        return till
    if "validity_years" in body:
        years = body["validity_years"]
        if not is_int(years) or not 1 <= years <= ORDER_MAX_YEARS:
            problems.bad_value("validity_years", "must be 1 to 3", years)
            return None
        return add_years(now, years)
    problems.missing("order_validity")
    return None


def check_cert_validity(
    certificate: Any,
    now: datetime,
    order_valid_till: datetime | None,
    problems: Problems,
) -> datetime | None:
    if not isinstance(certificate, dict) or "cert_validity" not in certificate:
        return None
    value = certificate["cert_validity"]
    if not isinstance(value, dict):
        problems.wrong_type("certificate.cert_validity", "an object", value)
        return None

    till = requested_cert_till(value, now, problems)
    if till is not None and order_valid_till is not None and till > order_valid_till:
        problems.add(
            "cert_validity_exceeds_order_validity",
            f"The certificate validity (until {till.date()}) exceeds the order "
            f"validity (until {order_valid_till.date()}).",
        )
        return None
    return till


def requested_cert_till(  # noqa: PLR0911 - one early return per documented rule
    value: dict[str, Any], now: datetime, problems: Problems
) -> datetime | None:
    latest = now + timedelta(days=CERT_VALIDITY_MAX_DAYS)
    if "custom_expiration_date" in value:
        text = value["custom_expiration_date"]
        day = parse_custom_date(text) if isinstance(text, str) else None
        if day is None or not now < end_of_day(day) <= latest + timedelta(days=1):
            problems.bad_value(
                "certificate.cert_validity.custom_expiration_date",
                f"must be a dd MMM YYYY date within {CERT_VALIDITY_MAX_DAYS} days",
                text,
            )
            return None
        return end_of_day(day)
    if "days" in value:
        days = value["days"]
        if not is_int(days) or not 1 <= days <= CERT_VALIDITY_MAX_DAYS:
            problems.bad_value(
                "certificate.cert_validity.days",
                f"must be 1 to {CERT_VALIDITY_MAX_DAYS}",
                days,
            )
            return None
        return now + timedelta(days=days)
    if "years" in value:
        years = value["years"]
        if years != 1 or not is_int(years):
            problems.bad_value("certificate.cert_validity.years", "must be 1", years)
            return None
        return add_years(now, 1)
    return None


def check_alternative_order_id(body: dict[str, Any], problems: Problems) -> str | None:
    value = body.get("alternative_order_id")
    if value is None:
        return None
    if not isinstance(value, str):
        problems.wrong_type("alternative_order_id", "a string", value)
        return None
    if len(value) > ALTERNATIVE_ORDER_ID_MAX_LENGTH:
        problems.bad_value(
            "alternative_order_id",
            f"must be at most {ALTERNATIVE_ORDER_ID_MAX_LENGTH} characters "
            f"({len(value)} given)",
            value,
        )
        return None
    return value


def check_renewal(
    body: dict[str, Any], lookup: RenewalLookup, problems: Problems
) -> tuple[str | None, int | None]:
    """Renewals must name an order of the same account (API.md, unconfirmed)."""
    thumbprint = body.get("renewed_thumbprint")
    if thumbprint is not None:
        if not isinstance(thumbprint, str) or not THUMBPRINT.match(thumbprint):
            problems.bad_value(
                "renewed_thumbprint", "must be 40 hex digits (SHA-1)", thumbprint
            )
            thumbprint = None
        elif not lookup.has_thumbprint(thumbprint.upper()):
            problems.bad_value(
                "renewed_thumbprint",
                "must be the thumbprint of a certificate of this account",
                thumbprint,
            )
            thumbprint = None
    order_id = body.get("renewal_of_order_id")
    if order_id is not None and (
        not is_int(order_id) or not lookup.has_order(order_id)
    ):
        problems.bad_value(
            "renewal_of_order_id", "must be an order id of this account", order_id
        )
        order_id = None
    return (thumbprint.upper() if thumbprint else None), order_id


def check_payment(body: dict[str, Any], problems: Problems) -> None:
    method = body.get("payment_method", "balance")
    if method not in PAYMENT_METHODS:
        problems.bad_value(
            "payment_method", f"must be one of {', '.join(PAYMENT_METHODS)}", method
        )
        return
    if method == "card":
        for needed in ("credit_card", "billing_address"):
            if not isinstance(body.get(needed), dict):
                problems.add(
                    f"missing_param:{needed}",
                    f"The field '{needed}' is required when payment_method is 'card'.",
                )


def check_flag(body: dict[str, Any], name: str, problems: Problems) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        problems.wrong_type(name, "a boolean", value)
        return False
    return value
