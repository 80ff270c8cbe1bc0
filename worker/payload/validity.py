"""The order's and the certificate's validity: lengths, dates and their order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from worker.payload.problems import Problems

ORDER_VALIDITY_MAX_YEARS = 3
ORDER_VALIDITY_MAX_DAYS = 1095
CERT_VALIDITY_MAX_DAYS = 397


def check_order_validity(
    payload: Mapping[str, Any], problems: Problems, today: date
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


def check_cert_validity(
    certificate: Mapping[str, Any], problems: Problems, today: date
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


def check_deprecated_validity(
    payload: Mapping[str, Any], problems: Problems, today: date
) -> None:
    """Check the top-level validity fields the page still lists as deprecated."""
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
