"""Every error the sandbox answers, with DigiCert's status and codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox import SandboxServer
from tests.support.sandbox import (
    EV_PRODUCT,
    api_client,
    order_body,
    running_sandbox,
)

ORDER = f"/order/certificate/{EV_PRODUCT}"


def codes(answer: httpx.Response) -> list[str]:
    return [error["code"] for error in answer.json()["errors"]]


def test_an_unknown_key_is_denied_with_403(sandbox: SandboxServer) -> None:
    with api_client(sandbox, key="wrong") as client:
        answer = client.get("/organization")
    missing = httpx.get(f"{sandbox.base_url}/organization")

    assert answer.status_code == 403
    assert codes(answer) == ["access_denied|access_denied_invalid_key"]
    assert missing.status_code == 403


def test_malformed_json_is_a_bad_request_format(client: httpx.Client) -> None:
    answer = client.post(ORDER, content=b'{"certificate": ')

    assert answer.status_code == 400
    assert codes(answer) == ["bad_request_format"]
    assert "not valid JSON" in answer.json()["errors"][0]["message"]


def test_every_missing_required_field_is_reported_at_once(client: httpx.Client) -> None:
    answer = client.post(ORDER, json={"certificate": {}})

    assert answer.status_code == 400
    assert codes(answer) == [
        "missing_param:certificate.common_name",
        "missing_param:certificate.csr",
        "missing_param:certificate.signature_hash",
        "missing_param:organization",
        "missing_param:order_validity",
    ]
    assert client.post(ORDER, json={}).json()["errors"][0]["code"] == (
        "missing_param:certificate"
    )


@pytest.mark.parametrize(
    ("changes", "code", "message_part"),
    [
        ({"order_validity": {"years": 4}}, "invalid_value:order_validity.years", "4"),
        (
            {"order_validity": {"days": 1096}},
            "invalid_value:order_validity.days",
            "1096",
        ),
        (
            {"order_validity": {"custom_expiration_date": "2031-01-01"}},
            "invalid_value:order_validity.custom_expiration_date",
            "dd MMM YYYY",
        ),
        (
            {"order_validity": {"custom_expiration_date": "01 JAN 2035"}},
            "invalid_value:order_validity.custom_expiration_date",
            "three years",
        ),
        ({"organization": {"id": 999}}, "invalid_value:organization.id", "999"),
        ({"organization": {"id": "x"}}, "invalid_type:organization.id", "integer"),
        (
            {"alternative_order_id": "a" * 65},
            "invalid_value:alternative_order_id",
            "65",
        ),
        ({"payment_method": "card"}, "missing_param:credit_card", "card"),
        ({"payment_method": "gold"}, "invalid_value:payment_method", "gold"),
        ({"skip_approval": "yes"}, "invalid_type:skip_approval", "boolean"),
        (
            {"renewed_thumbprint": "A" * 40},
            "invalid_value:renewed_thumbprint",
            "A" * 40,
        ),
        ({"renewed_thumbprint": "abc"}, "invalid_value:renewed_thumbprint", "40 hex"),
        ({"renewal_of_order_id": 5}, "invalid_value:renewal_of_order_id", "5"),
    ],
)
def test_a_bad_value_is_reported_with_its_field_and_the_value_given(
    client: httpx.Client,
    csr: str,
    changes: dict[str, Any],
    code: str,
    message_part: str,
) -> None:
    answer = client.post(ORDER, json=order_body(csr, **changes))

    assert answer.status_code == 400
    assert code in codes(answer)
    problem = next(e for e in answer.json()["errors"] if e["code"] == code)
    assert message_part in problem["message"]


def test_card_payment_needs_both_card_and_billing_address(
    client: httpx.Client, csr: str
) -> None:
    answer = client.post(ORDER, json=order_body(csr, payment_method="card"))

    assert codes(answer) == [
        "missing_param:credit_card",
        "missing_param:billing_address",
    ]


def test_an_unparsable_csr_is_reported(client: httpx.Client, csr: str) -> None:
    body = order_body(csr)
    body["certificate"]["csr"] = "-----BEGIN CERTIFICATE REQUEST-----\nnope\n"

    assert codes(client.post(ORDER, json=body)) == ["csr_invalid_cannot_parse"]


def test_a_csr_without_line_breaks_is_accepted(client: httpx.Client, csr: str) -> None:
    body = order_body(csr)
    body["certificate"]["csr"] = csr.replace("\n", "")

    assert client.post(ORDER, json=body).status_code == 201


@pytest.mark.parametrize(
    ("cert_validity", "code"),
    [
        ({"days": 398}, "invalid_value:certificate.cert_validity.days"),
        ({"years": 2}, "invalid_value:certificate.cert_validity.years"),
        ({"days": 200}, "cert_validity_exceeds_order_validity"),
    ],
)
def test_certificate_validity_stays_within_its_limits_and_the_order(
    client: httpx.Client, csr: str, cert_validity: dict[str, int], code: str
) -> None:
    body = order_body(csr, order_validity={"days": 100})
    body["certificate"]["cert_validity"] = cert_validity

    assert codes(client.post(ORDER, json=body)) == [code]


def test_a_renewal_must_come_from_the_account_of_the_original_order(
    csr: str,
) -> None:
    accounts = {"key-a": "a", "key-b": "b"}
    with (
        running_sandbox(api_keys=(), key_accounts=accounts) as server,
        api_client(server, "key-a") as first,
        api_client(server, "key-b") as second,
    ):
        original = first.post(ORDER, json=order_body(csr)).json()["id"]
        foreign = second.post(ORDER, json=order_body(csr, renewal_of_order_id=original))
        not_visible = second.get(f"/order/certificate/{original}")

    assert codes(foreign) == ["invalid_value:renewal_of_order_id"]
    assert not_visible.status_code == 404


def test_an_empty_balance_refuses_paid_orders_but_not_reissues(csr: str) -> None:
    with (
        running_sandbox(account_balance_orders=1) as server,
        api_client(server) as client,
    ):
        first = client.post(ORDER, json=order_body(csr)).json()["id"]
        second = client.post(ORDER, json=order_body(csr))
        reissue = client.post(
            f"/order/certificate/{first}/reissue",
            json={"certificate": {"csr": csr}, "skip_approval": True},
        )

    assert codes(second) == ["insufficient_funds"]
    assert reissue.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/order/certificate/9999999", "not_found|order"),
        ("POST", "/order/certificate/ssl_unknown_flex", "not_found|product"),
        ("GET", "/no/such/route", "not_found|route"),
        ("GET", "/certificate/77/download/format/pem_all", "not_found|certificate"),
        ("PUT", "/order/certificate/9999999/status", "not_found|order"),
    ],
)
def test_unknown_ids_and_paths_are_404(
    client: httpx.Client, method: str, path: str, code: str
) -> None:
    answer = client.request(method, path, json={})

    assert answer.status_code == 404
    assert codes(answer) == [code]


def test_cancel_needs_the_canceled_status(client: httpx.Client, csr: str) -> None:
    order_id = client.post(ORDER, json=order_body(csr)).json()["id"]

    answer = client.put(f"/order/certificate/{order_id}/status", json={"status": "x"})

    assert codes(answer) == ["invalid_value:status"]


def test_a_reissue_of_a_pending_order_is_refused(
    client: httpx.Client, csr: str
) -> None:
    order_id = client.post(ORDER, json=order_body(csr, skip_approval=False)).json()[
        "id"
    ]

    answer = client.post(
        f"/order/certificate/{order_id}/reissue", json={"certificate": {"csr": csr}}
    )

    assert codes(answer) == ["invalid_order_status"]
    assert "needs_approval" in answer.json()["errors"][0]["message"]


def test_admin_routes_are_404_unless_admin_is_on(csr: str) -> None:
    with running_sandbox(admin=False) as server:
        answer = httpx.get(f"{server.admin_url}/orders")

    assert answer.status_code == 404
