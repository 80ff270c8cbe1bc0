"""Answers read over HTTP, with DigiCert's quirks (API.md, "Quirks seen")."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography import x509

from certrenew.errors import PermanentError
from tests.client.certificates import make_chain
from tests.client.server import CannedServer, Reply
from worker.certcentral import (
    AlternateOrder,
    CertCentralClient,
    Domain,
    NotFound,
    Organization,
    OutcomeUnknown,
    StatusChange,
    UnexpectedResponse,
)

ORDER = {"alternative_order_id": "renewal-E5F6", "certificate": {}}


@pytest.fixture(scope="module")
def chain() -> list[str]:
    return make_chain("shop.example.com")


def test_an_order_issued_at_once_carries_its_chain_leaf_first_without_crlf(
    server: CannedServer, client: CertCentralClient, chain: list[str]
) -> None:
    server.script(
        Reply(
            201,
            {
                "id": 7001,
                "requests": [{"id": 9001, "status": "approved"}],
                "certificate_id": "5001",
                "certificate_chain": [
                    {"subject_common_name": "shop.example.com", "pem": chain[0]},
                    {"subject_common_name": "Test Intermediate", "pem": chain[1]},
                ],
            },
        )
    )

    created = client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert (created.id, created.request_ids) == (7001, (9001,))
    assert created.request_status == "approved"
    assert created.certificate_id == 5001
    assert created.chain_pem is not None
    assert b"\r" not in created.chain_pem
    certificates = x509.load_pem_x509_certificates(created.chain_pem)
    assert [c.subject.rfc4514_string() for c in certificates] == [
        "CN=shop.example.com",
        "CN=Test Intermediate",
    ]


def test_a_pending_order_has_no_certificate_and_reads_either_domain_key(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            201,
            {
                "id": 7002,
                "requests": [{"id": 9002, "status": "pending"}],
                "dcv_random_value": "r4nd0m",
                "domains": [
                    {
                        "id": 11,
                        "name": "shop.example.com",
                        "dcv_token": {"token": "t1"},
                    },
                    {"id": "12", "dns_name": "www.shop.example.com"},
                ],
            },
        )
    )

    created = client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert created.certificate_id is None
    assert created.chain_pem is None
    assert created.request_status == "pending"
    assert created.dcv_random_value == "r4nd0m"
    assert created.domains == (
        Domain(id=11, name="shop.example.com", dcv_token="t1"),
        Domain(id=12, name="www.shop.example.com", dcv_token=None),
    )


def order_info_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": 7001,
        "status": "issued",
        "certificate": {
            "id": 5001,
            "thumbprint": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            "serial_number": "0ABC1234",
            "common_name": "shop.example.com",
            "dns_names": ["shop.example.com", "www.shop.example.com"],
            "valid_from": "2026-01-10",
            "valid_till": "2026-07-27",
            "signature_hash": "sha256",
        },
        "order_valid_from": "2026-01-10",
        "order_valid_till": "2028-01-10",
        "is_multi_year_plan": "1",
        "auto_reissue": 0,
        "is_renewal": True,
        "renewed_order_id": 6001,
        "alternative_order_id": "renewal-0001",
        "organization": {"id": 321, "name": "Example Inc."},
        "product": {"name_id": "ssl_ev_securesite_flex"},
        "requests": [{"id": 9001, "status": "approved"}],
    }
    body.update(changes)
    return body


def test_order_info_reads_string_flags_dates_and_nested_ids(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, order_info_body()))

    info = client.order_info(7001)

    assert (info.id, info.status) == (7001, "issued")
    assert info.is_multi_year_plan is True
    assert info.auto_reissue is False
    assert info.is_renewal is True
    assert info.order_valid_till == date(2028, 1, 10)
    assert info.certificate.valid_till == date(2026, 7, 27)
    assert info.certificate.thumbprint == "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
    assert info.certificate.dns_names == ("shop.example.com", "www.shop.example.com")
    assert (info.renewed_order_id, info.alternative_order_id) == (6001, "renewal-0001")
    assert (info.organization_id, info.product_name_id) == (
        321,
        "ssl_ev_securesite_flex",
    )
    assert server.received[0].path == "/order/certificate/7001"


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("0", False), ("1", True), (False, False), (1, True), (None, False)],
)
def test_the_multi_year_flag_reads_every_form_the_api_uses(
    server: CannedServer, client: CertCentralClient, flag: object, expected: bool
) -> None:
    server.script(Reply(200, order_info_body(is_multi_year_plan=flag)))

    assert client.order_info(7001).is_multi_year_plan is expected


def test_a_pending_order_reads_without_certificate_dates(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            200,
            {
                "id": 7003,
                "status": "pending",
                "certificate": {"common_name": "shop.example.com"},
            },
        )
    )

    info = client.order_info(7003)

    assert info.certificate.valid_till is None
    assert info.certificate.thumbprint is None
    assert info.order_valid_till is None
    assert info.is_multi_year_plan is False


def test_order_info_by_thumbprint_uses_it_as_the_path_segment(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, order_info_body()))

    client.order_info("0A1B2C3D4E5F60718293A4B5C6D7E8F901234567")

    assert server.received[0].path == (
        "/order/certificate/0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
    )


def test_a_date_that_is_not_a_date_is_named_in_the_error(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, order_info_body(order_valid_till="10/01/2028")))

    with pytest.raises(UnexpectedResponse) as caught:
        client.order_info(7001)

    assert "order_valid_till: expected a yyyy-MM-dd date, got '10/01/2028'" in str(
        caught.value
    )


def test_an_empty_object_is_no_status_changes(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, {}))

    assert client.status_changes(seconds=300) == []


def test_status_changes_are_read_and_the_window_rounded_up_to_minutes(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            200,
            {
                "orders": [
                    {"order_id": 7001, "certificate_id": 5001, "status": "issued"},
                    {"order_id": "7002", "status": "rejected"},
                ]
            },
        )
    )

    changes = client.status_changes(seconds=61)

    assert changes == [
        StatusChange(order_id=7001, certificate_id=5001, status="issued"),
        StatusChange(order_id=7002, certificate_id=None, status="rejected"),
    ]
    assert server.received[0].path == "/order/certificate/status-changes"
    assert server.received[0].query == {"minutes": ["2"]}


def test_a_window_of_exactly_seven_days_is_asked(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, {}))

    client.status_changes(seconds=7 * 24 * 3600)

    assert server.received[0].query == {"minutes": ["10080"]}


def test_a_window_over_seven_days_is_refused_before_asking(
    server: CannedServer, client: CertCentralClient
) -> None:
    with pytest.raises(PermanentError) as caught:
        client.status_changes(seconds=7 * 24 * 3600 + 1)

    assert caught.value.code == "time_frame_too_long"
    assert str(caught.value) == (
        "status-changes window: at most 7 days (10080 minutes), as DigiCert "
        "refuses longer ones with time_frame_too_long (given: 604801 seconds, "
        "10081 minutes)"
    )
    assert server.received == []


def test_no_orders_key_means_no_order_with_that_alternative_id(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, {"page": {"total": 0, "limit": 0, "offset": 0}}))

    assert client.find_by_alternative_order_id("renewal-E5F6") == []
    assert server.received[0].path == "/order/alternate/renewal-E5F6"


def test_a_404_means_no_order_with_that_alternative_id(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(404, {"errors": [{"code": "not_found", "message": "None."}]}))

    assert client.find_by_alternative_order_id("renewal-E5F6") == []


def test_a_404_for_an_unknown_route_is_not_taken_for_no_order(
    server: CannedServer, client: CertCentralClient
) -> None:
    """A wrong base URL must not read as "never ordered": that would order twice."""
    server.script(
        Reply(404, {"errors": [{"code": "not_found|route", "message": "No route."}]})
    )

    with pytest.raises(NotFound):
        client.find_by_alternative_order_id("renewal-E5F6")


def test_orders_found_by_alternative_id_are_read_and_the_id_quoted(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            200,
            {
                "orders": [
                    {"order_id": 7001, "certificate_id": 5001, "status": "pending"}
                ],
                "page": {"total": 1, "limit": 0, "offset": 0},
            },
        )
    )

    found = client.find_by_alternative_order_id("renewal/a b")

    assert found == [
        AlternateOrder(order_id=7001, certificate_id=5001, status="pending")
    ]
    assert server.received[0].path == "/order/alternate/renewal%2Fa%20b"


def test_organizations_carry_the_end_of_their_ev_validation(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            200,
            {
                "organizations": [
                    {
                        "id": 321,
                        "name": "Example Inc.",
                        "status": "active",
                        "validations": [
                            {"type": "ov", "status": "validated"},
                            {
                                "type": "ev",
                                "status": "validated",
                                "validated_until": "2027-02-01",
                            },
                        ],
                    },
                    {"id": 322, "name": "New Org"},
                ]
            },
        )
    )

    assert client.organizations() == [
        Organization(
            id=321,
            name="Example Inc.",
            status="active",
            ev_validated_until=date(2027, 2, 1),
        ),
        Organization(id=322, name="New Org", status=None, ev_validated_until=None),
    ]


def test_a_downloaded_chain_comes_back_with_plain_line_ends(
    server: CannedServer, client: CertCentralClient, chain: list[str]
) -> None:
    server.script(Reply(200, "".join(chain).encode()))

    pem = client.download_chain(5001)

    assert b"\r" not in pem
    assert len(x509.load_pem_x509_certificates(pem)) == 3
    assert server.received[0].path == "/certificate/5001/download/format/pem_all"


def test_the_order_chain_is_fetched_by_order_id_and_format(
    server: CannedServer, client: CertCentralClient, chain: list[str]
) -> None:
    server.script(Reply(200, chain[0].encode()))

    pem = client.download_order_chain(7001, format="pem_nointermediate")

    assert len(x509.load_pem_x509_certificates(pem)) == 1
    assert server.received[0].path == (
        "/certificate/download/order/7001/format/pem_nointermediate"
    )


def test_a_download_without_a_certificate_is_refused(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, b""))

    with pytest.raises(UnexpectedResponse) as caught:
        client.download_chain(5001)

    assert "no PEM certificate in the pem_all download (0 bytes)" in str(caught.value)


def test_a_download_that_is_not_ascii_is_refused(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, "-----BEGIN CERTIFICATE-----\nÅ\n".encode()))

    with pytest.raises(UnexpectedResponse, match="no PEM certificate"):
        client.download_chain(5001)


def test_an_order_chain_that_is_not_ascii_leaves_the_order_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(201, {"id": 7004, "certificate_chain": [{"pem": "-----BEGIN Å"}]})
    )

    with pytest.raises(OutcomeUnknown, match="non-ASCII character at 11"):
        client.order_certificate("ssl_ev_securesite_flex", ORDER)
