"""DigiCert's error answers become typed errors that say whether a retry helps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from certrenew.errors import PermanentError, TransientError
from tests.client.conftest import MakeClient
from tests.client.server import CannedServer, Reply
from worker.certcentral import (
    ApiErrorDetail,
    ApiKeyRejected,
    ApiPermanentError,
    ApiPermissionDenied,
    ApiTransientError,
    CertCentralClient,
    NotFound,
    OutcomeUnknown,
    RateLimited,
)
from worker.certcentral.errors import parse_retry_after

ORDER = {"alternative_order_id": "renewal-A1B2", "certificate": {}}


def errors(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message} for code, message in pairs]}


def test_every_entry_of_a_400_is_kept_in_order_and_named_in_the_message(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            400,
            errors(
                ("invalid_value:validity_years", "Validity years must be 1 to 3."),
                ("csr_invalid_cannot_parse", "The CSR cannot be parsed."),
            ),
        )
    )

    with pytest.raises(ApiPermanentError) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    error = caught.value
    assert str(error) == (
        "DigiCert refused POST /order/certificate/{product} (HTTP 400): "
        "invalid_value:validity_years: Validity years must be 1 to 3.; "
        "csr_invalid_cannot_parse: The CSR cannot be parsed."
    )
    assert error.errors == [
        ApiErrorDetail(
            "invalid_value:validity_years", "Validity years must be 1 to 3."
        ),
        ApiErrorDetail("csr_invalid_cannot_parse", "The CSR cannot be parsed."),
    ]
    assert error.code == "invalid_value:validity_years"
    assert error.status == 400
    assert error.endpoint == "POST /order/certificate/{product}"
    assert not isinstance(error, TransientError)


def test_an_unconfirmed_400_code_is_permanent_all_the_same(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(400, errors(("insufficient_funds", "Balance too low."))))

    with pytest.raises(ApiPermanentError) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert type(caught.value) is ApiPermanentError
    assert caught.value.code == "insufficient_funds"


def test_a_400_without_an_errors_list_is_permanent_with_the_status_as_code(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(400, {"message": "bad"}))

    with pytest.raises(ApiPermanentError) as caught:
        client.order_info(42)

    assert caught.value.code == "http_400"
    assert caught.value.errors == []
    assert str(caught.value) == (
        "DigiCert refused GET /order/certificate/{id} (HTTP 400): "
        "no error details in the answer"
    )


@pytest.mark.parametrize(
    "code", ["access_denied|access_denied_invalid_key", "access_denied"]
)
def test_a_403_for_an_unknown_key_is_a_rejected_key(
    server: CannedServer, client: CertCentralClient, code: str
) -> None:
    server.script(Reply(403, errors((code, "Invalid API key."))))

    with pytest.raises(ApiKeyRejected) as caught:
        client.order_info(42)

    assert isinstance(caught.value, PermanentError)
    assert not isinstance(caught.value, ApiPermissionDenied)
    assert str(caught.value) == (
        "DigiCert rejected the API key on GET /order/certificate/{id} (HTTP 403): "
        f"{code}: Invalid API key."
    )


def test_a_403_for_a_missing_permission_is_not_a_rejected_key(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            403,
            errors(("access_denied|missing_permission", "Key may only view orders.")),
        )
    )

    with pytest.raises(ApiPermissionDenied) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert not isinstance(caught.value, ApiKeyRejected)
    assert caught.value.code == "access_denied|missing_permission"


def test_a_404_is_not_found(server: CannedServer, client: CertCentralClient) -> None:
    server.script(Reply(404, errors(("not_found|order", "Order not found."))))

    with pytest.raises(NotFound) as caught:
        client.order_info(99)

    assert caught.value.code == "not_found|order"
    assert caught.value.endpoint == "GET /order/certificate/{id}"


def test_a_502_whose_body_is_not_json_is_transient_and_says_what_came(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            502,
            b"<html><body>Bad Gateway</body></html>",
            headers={"Content-Type": "text/html"},
        )
    )

    with pytest.raises(ApiTransientError) as caught:
        client.order_info(42)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.status == 502
    assert caught.value.errors == []
    assert str(caught.value) == (
        "DigiCert failed GET /order/certificate/{id} (HTTP 502): "
        "no error list in the answer (text/html, 37 bytes)"
    )


def test_a_503_keeps_its_error_entries(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(503, errors(("service_unavailable", "Maintenance."))))

    with pytest.raises(ApiTransientError) as caught:
        client.organizations()

    assert caught.value.errors == [
        ApiErrorDetail("service_unavailable", "Maintenance.")
    ]
    assert caught.value.retry_after_seconds is None


def test_a_408_is_transient(server: CannedServer, client: CertCentralClient) -> None:
    server.script(Reply(408, b"timeout"))

    with pytest.raises(ApiTransientError) as caught:
        client.order_info(42)

    assert caught.value.status == 408


def test_a_5xx_to_an_order_post_leaves_the_outcome_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(500, errors(("internal_error", "Oops."))))

    with pytest.raises(OutcomeUnknown) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    error = caught.value
    assert error.status == 500
    assert error.alternative_order_id == "renewal-A1B2"
    assert error.errors == [ApiErrorDetail("internal_error", "Oops.")]
    assert "look it up by its alternative_order_id" in str(error)


def test_a_5xx_to_a_reissue_leaves_the_outcome_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(504, b"gateway timeout"))

    with pytest.raises(OutcomeUnknown) as caught:
        client.reissue(7001, {"certificate": {}})

    assert caught.value.endpoint == "POST /order/certificate/{order_id}/reissue"


def test_a_429_without_retry_after_is_rate_limited_with_no_wait_given(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(429, errors(("request_limit_exceeded", "Too many requests."))))

    with pytest.raises(RateLimited) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.retry_after_seconds is None
    assert str(caught.value) == (
        "DigiCert rate limit hit on POST /order/certificate/{product} (HTTP 429): "
        "request_limit_exceeded: Too many requests."
    )


def test_a_429_with_retry_after_in_seconds_carries_the_wait(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            429,
            errors(("request_limit_exceeded", "Slow down.")),
            headers={"Retry-After": "7"},
        )
    )

    with pytest.raises(RateLimited) as caught:
        client.order_info(42)

    assert caught.value.retry_after_seconds == 7.0


def test_a_429_with_retry_after_as_an_http_date_carries_the_wait(
    server: CannedServer, client: CertCentralClient
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    server.script(
        Reply(
            429,
            errors(("request_limit_exceeded", "Slow down.")),
            headers={"Retry-After": format_datetime(later, usegmt=True)},
        )
    )

    with pytest.raises(RateLimited) as caught:
        client.order_info(42)

    wait = caught.value.retry_after_seconds
    assert wait is not None
    assert 3000 < wait <= 3600


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Fri, 01 May 2026 12:00:30 GMT", 30.0),
        ("Fri, 01 May 2026 12:00:30 -0000", 30.0),
        ("Fri, 01 May 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_an_error_entry_that_is_not_an_object_is_skipped(
    server: CannedServer, make_client: MakeClient
) -> None:
    server.script(
        Reply(400, {"errors": ["oops", {"code": "bad_request_format"}]}),
    )

    with pytest.raises(ApiPermanentError) as caught:
        make_client().order_info(1)

    assert caught.value.errors == [ApiErrorDetail("bad_request_format", "")]
    assert str(caught.value).endswith("(HTTP 400): bad_request_format")
