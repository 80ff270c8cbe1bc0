"""Orders over real HTTP: round trip, lifecycle, lookups, downloads, reissue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.verification import PolicyBuilder, Store

from sandbox import SandboxServer
from tests.support.sandbox import (
    EV_PRODUCT,
    PENDING_EV_ORG,
    admin_client,
    api_client,
    make_csr,
    order_body,
    running_sandbox,
)

ORDER = f"/order/certificate/{EV_PRODUCT}"


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with admin_client(sandbox) as client:
        yield client


def thumbprint_of(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - DigiCert's thumbprint


def test_an_order_round_trip_gives_a_chain_to_the_sandbox_root(
    client: httpx.Client,
    admin: httpx.Client,
    key: ec.EllipticCurvePrivateKey,
    csr: str,
) -> None:
    created = client.post(ORDER, json=order_body(csr))
    assert created.status_code == 201
    order_id = created.json()["id"]
    assert created.json()["requests"][0]["status"] == "approved"
    assert "\r\n" in created.json()["certificate_chain"][0]["pem"]

    certificate_id = created.json()["certificate_id"]
    download = client.get(f"/certificate/{certificate_id}/download/format/pem_all")
    assert download.status_code == 200
    leaf, *intermediates, root = x509.load_pem_x509_certificates(download.content)
    sandbox_root = x509.load_pem_x509_certificate(
        admin.get("/ca").json()["root"].encode()
    )
    assert root == sandbox_root

    verifier = (
        PolicyBuilder()
        .store(Store([sandbox_root]))
        .time(datetime.now(UTC))
        .build_server_verifier(x509.DNSName("www.shop.example.com"))
    )
    verified = verifier.verify(leaf, intermediates)
    assert verified[-1] == sandbox_root

    leaf_key = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    our_key = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert leaf_key == our_key
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [
        "shop.example.com",
        "www.shop.example.com",
    ]
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)

    info = client.get(f"/order/certificate/{thumbprint_of(leaf)}")
    assert info.status_code == 200
    assert info.json()["id"] == order_id
    assert info.json()["certificate"]["thumbprint"] == thumbprint_of(leaf)


def test_order_info_has_the_documented_shape_and_date_only_strings(
    client: httpx.Client, csr: str
) -> None:
    order_id = client.post(ORDER, json=order_body(csr, auto_reissue=1)).json()["id"]

    info = client.get(f"/order/certificate/{order_id}").json()

    assert info["status"] == "issued"
    assert info["is_multi_year_plan"] == "0"
    assert info["auto_reissue"] == 1
    assert info["product"]["name_id"] == EV_PRODUCT
    for field in ("valid_from", "valid_till"):
        datetime.strptime(info["certificate"][field], "%Y-%m-%d")  # noqa: DTZ007
    datetime.strptime(info["order_valid_till"], "%Y-%m-%d")  # noqa: DTZ007
    serial = info["certificate"]["serial_number"]
    assert client.get(f"/order/certificate/{serial}").json()["id"] == order_id


def test_a_certificate_lasts_no_longer_than_the_cab_forum_maximum(
    client: httpx.Client, csr: str
) -> None:
    body = order_body(csr, order_validity={"years": 3})
    body["certificate"]["cert_validity"] = {"days": 397}

    info = client.get(
        f"/order/certificate/{client.post(ORDER, json=body).json()['id']}"
    )

    valid_from = datetime.fromisoformat(info.json()["certificate"]["valid_from"])
    valid_till = datetime.fromisoformat(info.json()["certificate"]["valid_till"])
    assert (valid_till - valid_from).days <= 199
    assert info.json()["is_multi_year_plan"] == "1"


def test_a_requested_shorter_validity_is_kept(client: httpx.Client, csr: str) -> None:
    body = order_body(csr)
    body["certificate"]["cert_validity"] = {"days": 30}

    order_id = client.post(ORDER, json=body).json()["id"]
    certificate = client.get(f"/order/certificate/{order_id}").json()["certificate"]

    days = datetime.fromisoformat(certificate["valid_till"]) - datetime.fromisoformat(
        certificate["valid_from"]
    )
    assert days == timedelta(days=30)


def test_an_order_for_an_unvalidated_ev_organization_stays_pending_until_validated(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    body = order_body(csr, organization={"id": PENDING_EV_ORG})
    created = client.post(ORDER, json=body)
    assert created.status_code == 201
    assert "certificate_chain" not in created.json()
    order_id = created.json()["id"]
    assert client.get(f"/order/certificate/{order_id}").json()["status"] == "pending"

    assert admin.post(f"/organizations/{PENDING_EV_ORG}/validate").status_code == 200

    info = client.get(f"/order/certificate/{order_id}").json()
    assert info["status"] == "issued"
    assert "thumbprint" in info["certificate"]


def test_an_order_without_skip_approval_needs_approval_until_an_admin_decides(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    first = client.post(ORDER, json=order_body(csr, skip_approval=False)).json()["id"]
    second = client.post(ORDER, json=order_body(csr, skip_approval=False)).json()["id"]
    assert (
        client.get(f"/order/certificate/{first}").json()["status"] == "needs_approval"
    )

    admin.post(f"/orders/{first}/validate")
    admin.post(f"/orders/{second}/reject")

    assert client.get(f"/order/certificate/{first}").json()["status"] == "issued"
    assert client.get(f"/order/certificate/{second}").json()["status"] == "rejected"


def test_a_pending_order_issues_once_the_pending_delay_passes_on_the_clock(
    csr: str,
) -> None:
    with running_sandbox(pending_delay_seconds=3600) as server:
        client, admin = api_client(server), admin_client(server)
        body = order_body(csr, organization={"id": PENDING_EV_ORG})
        order_id = client.post(ORDER, json=body).json()["id"]

        admin.post("/clock", json={"advance_seconds": 1800})
        assert (
            client.get(f"/order/certificate/{order_id}").json()["status"] == "pending"
        )
        admin.post("/clock", json={"advance_seconds": 1800})
        assert client.get(f"/order/certificate/{order_id}").json()["status"] == "issued"


def test_lists_filter_by_status_and_name_and_leave_out_orders_when_empty(
    client: httpx.Client, csr: str
) -> None:
    assert "orders" not in client.get("/order/certificate").json()
    client.post(ORDER, json=order_body(csr))
    other = order_body(csr, organization={"id": PENDING_EV_ORG})
    other["certificate"]["common_name"] = "other.example.com"
    client.post(ORDER, json=other)

    issued = client.get("/order/certificate", params={"filters[status]": "issued"})
    named = client.get(
        "/order/certificate", params={"filters[common_name]": "other.example.com"}
    )
    paged = client.get("/order/certificate", params={"limit": 1, "offset": 1})

    assert [o["status"] for o in issued.json()["orders"]] == ["issued"]
    assert [o["status"] for o in named.json()["orders"]] == ["pending"]
    assert paged.json()["page"] == {"total": 2, "limit": 1, "offset": 1}
    assert len(paged.json()["orders"]) == 1


def test_an_order_is_found_by_its_alternative_order_id(
    client: httpx.Client, csr: str
) -> None:
    order_id = client.post(
        ORDER, json=order_body(csr, alternative_order_id="r-42")
    ).json()["id"]

    found = client.get("/order/alternate/r-42").json()
    missing = client.get("/order/alternate/r-43").json()

    assert found["orders"][0]["order_id"] == order_id
    assert found["orders"][0]["status"] == "issued"
    assert "orders" not in missing


def test_status_changes_list_recent_changes_and_answer_empty_braces_otherwise(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    assert client.get("/order/certificate/status-changes?minutes=5").json() == {}
    order_id = client.post(ORDER, json=order_body(csr)).json()["id"]

    recent = client.get("/order/certificate/status-changes", params={"seconds": 60})
    admin.post("/clock", json={"advance_seconds": 600})
    later = client.get("/order/certificate/status-changes", params={"minutes": 5})
    too_long = client.get(
        "/order/certificate/status-changes", params={"minutes": 10081}
    )

    assert recent.json()["orders"][0]["order_id"] == order_id
    assert later.json() == {}
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["code"] == "time_frame_too_long"


def test_every_download_format_holds_the_expected_certificates(
    csr: str,
) -> None:
    with (
        running_sandbox(two_intermediates=True) as server,
        api_client(server) as client,
    ):
        created = client.post(ORDER, json=order_body(csr)).json()
        certificate_id, order_id = created["certificate_id"], created["id"]
        counts = {}
        for name in ("pem_all", "pem_noroot", "pem_nointermediate"):
            answer = client.get(f"/certificate/{certificate_id}/download/format/{name}")
            counts[name] = len(x509.load_pem_x509_certificates(answer.content))
        p7b = client.get(f"/certificate/download/order/{order_id}/format/p7b")

    assert counts == {"pem_all": 4, "pem_noroot": 3, "pem_nointermediate": 1}
    assert len(pkcs7.load_der_pkcs7_certificates(p7b.content)) == 4
    assert len(created["certificate_chain"]) == 4


def test_a_reissue_replaces_the_certificate_and_keeps_the_old_one_downloadable(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    created = client.post(ORDER, json=order_body(csr)).json()
    new_key = ec.generate_private_key(ec.SECP256R1())
    new_csr = make_csr(new_key, "shop.example.com")

    reissued = client.post(
        f"/order/certificate/{created['id']}/reissue",
        json={"certificate": {"csr": new_csr}, "skip_approval": True},
    )

    assert reissued.status_code == 201
    assert reissued.json()["id"] == created["id"]
    assert reissued.json()["certificate_id"] != created["certificate_id"]
    active = client.get(
        f"/certificate/download/order/{created['id']}/format/pem_nointermediate"
    )
    assert (
        x509.load_pem_x509_certificate(active.content).public_key()
        == new_key.public_key()
    )
    old = client.get(
        f"/certificate/{created['certificate_id']}/download/format/pem_all"
    )
    assert old.status_code == 200
    listed = admin.get("/orders").json()["orders"]
    assert listed[0]["certificate_ids"] == [
        created["certificate_id"],
        reissued.json()["certificate_id"],
    ]


def test_a_reissue_waits_in_reissue_pending_without_skip_approval(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    order_id = client.post(ORDER, json=order_body(csr)).json()["id"]

    client.post(
        f"/order/certificate/{order_id}/reissue", json={"certificate": {"csr": csr}}
    )

    assert (
        client.get(f"/order/certificate/{order_id}").json()["status"]
        == "reissue_pending"
    )
    admin.post(f"/orders/{order_id}/validate")
    assert client.get(f"/order/certificate/{order_id}").json()["status"] == "issued"


def test_a_renewal_by_thumbprint_is_recorded_and_cannot_be_placed_twice(
    client: httpx.Client, admin: httpx.Client, csr: str
) -> None:
    seeded = admin.post(
        "/orders",
        json={
            "common_name": "shop.example.com",
            "dns_names": ["www.shop.example.com"],
            "csr": csr,
            "valid_from": "2026-06-01T00:00:00+00:00",
            "valid_till": "2026-12-17T00:00:00+00:00",
        },
    ).json()

    renewal = client.post(
        ORDER, json=order_body(csr, renewed_thumbprint=seeded["thumbprint"])
    )
    again = client.post(
        ORDER, json=order_body(csr, renewal_of_order_id=seeded["order_id"])
    )

    assert renewal.status_code == 201
    info = client.get(f"/order/certificate/{renewal.json()['id']}").json()
    assert info["is_renewal"] is True
    assert info["renewed_order_id"] == seeded["order_id"]
    assert client.get(f"/order/certificate/{seeded['order_id']}").json()["is_renewed"]
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "order_already_renewed"
    recorded = [o for o in admin.get("/orders").json()["orders"] if o["is_renewal"]]
    assert recorded[0]["renewed_thumbprint"] == seeded["thumbprint"]


def test_a_seeded_order_carries_exactly_the_back_dated_validity(
    admin: httpx.Client, csr: str
) -> None:
    seeded = admin.post(
        "/orders",
        json={
            "common_name": "old.example.com",
            "csr": csr,
            "valid_from": "2026-01-10T00:00:00+00:00",
            "valid_till": "2026-12-10T00:00:00+00:00",
        },
    ).json()

    leaf = x509.load_pem_x509_certificates(seeded["pem_all"].encode())[0]
    assert leaf.not_valid_before_utc == datetime(2026, 1, 10, tzinfo=UTC)
    assert leaf.not_valid_after_utc == datetime(2026, 12, 10, tzinfo=UTC)
    assert thumbprint_of(leaf) == seeded["thumbprint"]


def test_cancel_answers_204_and_the_order_is_canceled(
    client: httpx.Client, csr: str
) -> None:
    order_id = client.post(ORDER, json=order_body(csr, skip_approval=False)).json()[
        "id"
    ]

    answer = client.put(
        f"/order/certificate/{order_id}/status",
        json={"status": "canceled", "note": "x"},
    )

    assert answer.status_code == 204
    assert answer.content == b""
    assert client.get(f"/order/certificate/{order_id}").json()["status"] == "canceled"


def test_organizations_list_their_ev_validation(client: httpx.Client) -> None:
    organizations = client.get("/organization").json()["organizations"]

    ev = {
        org["id"]: [v["status"] for v in org["validations"] if v["type"] == "ev"]
        for org in organizations
    }
    assert ev == {112233: ["active"], PENDING_EV_ORG: ["pending"]}
