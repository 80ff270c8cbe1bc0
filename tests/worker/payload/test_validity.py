"""The order and certificate validity checks (worker/payload/validity.py)."""

from __future__ import annotations

from typing import Any

import pytest

from certrenew.errors import PayloadError
from tests.worker.payload.samples import (
    NOW,
    entry,
    order_payload,
    problems_of,
)
from worker.payload import (
    build_reissue_payload,
    check_order_payload,
    check_reissue_payload,
)


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


def test_deprecated_validity_years_uses_digicerts_code(csr_pem: str) -> None:
    payload = order_payload(csr_pem)
    payload["validity_years"] = 4

    assert problems_of(payload) == [
        "invalid_value:validity_years: must be an integer from 1 to 3 (given: 4)"
    ]


def test_a_reissue_checks_its_cert_validity(csr_pem: str) -> None:
    payload = build_reissue_payload(entry(), csr_pem=csr_pem, validity_days=400)

    with pytest.raises(PayloadError, match=r"cert_validity.days: must be an integer"):
        check_reissue_payload(payload, now=NOW)
