"""The client's own rules: what it sends, what it refuses, whom it tells."""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from certrenew.errors import ConfigError, PayloadError, TransientError
from tests.client.conftest import API_KEY, MakeClient
from tests.client.server import CannedServer, Drop, Reply
from worker.certcentral import (
    ApiKeyRejected,
    ApiPermanentError,
    ApiTransientError,
    CertCentralClient,
)

ORDER = {"alternative_order_id": "renewal-7788", "certificate": {"csr": "..."}}


class CountingGate:
    def __init__(self, refuse: bool = False) -> None:
        self.waits: list[float] = []
        self.refuse = refuse

    def acquire(self, *, max_wait_seconds: float) -> float:
        self.waits.append(max_wait_seconds)
        if self.refuse:
            raise TransientError("budget spent", retry_after_seconds=2.0)
        return 0.0


class RecordingObserver:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.fail = fail

    def observe(
        self, endpoint: str, status: int | None, duration_seconds: float
    ) -> None:
        assert duration_seconds >= 0
        self.calls.append((endpoint, status))
        if self.fail:
            raise RuntimeError("metrics backend gone")


def test_every_call_sends_the_key_json_and_a_user_agent(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(201, {"id": 7001, "requests": [{"id": 1}]}))

    client.order_certificate("ssl_ev_securesite_flex", ORDER)

    request = server.received[0]
    assert (request.method, request.path) == (
        "POST",
        "/order/certificate/ssl_ev_securesite_flex",
    )
    assert request.headers["x-dc-devkey"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "certrenew/0.1.0"
    assert request.json() == ORDER


def test_the_key_never_appears_in_errors_or_logs_even_when_echoed(
    server: CannedServer,
    client: CertCentralClient,
    log_entries: list[MutableMapping[str, Any]],
) -> None:
    server.script(
        Reply(
            403,
            {
                "errors": [
                    {
                        "code": "access_denied|access_denied_invalid_key",
                        "message": f"Key {API_KEY} is not valid.",
                    }
                ]
            },
        ),
        Drop(),
    )

    with pytest.raises(ApiKeyRejected) as rejected:
        client.order_info(42)
    with pytest.raises(ApiTransientError) as dropped:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    for error in (rejected.value, dropped.value):
        assert API_KEY not in str(error)
        assert API_KEY not in repr(error)
        assert API_KEY not in repr(getattr(error, "errors", []))
    assert "Key [api key] is not valid." in str(rejected.value)
    assert [entry["event"] for entry in log_entries].count("certcentral_call") == 2
    assert API_KEY not in json.dumps(log_entries, default=repr)


def test_one_debug_line_per_call_names_the_route_status_and_duration(
    server: CannedServer,
    client: CertCentralClient,
    log_entries: list[MutableMapping[str, Any]],
) -> None:
    server.script(Reply(200, {}))

    client.status_changes(seconds=600)

    calls = [entry for entry in log_entries if entry["event"] == "certcentral_call"]
    assert len(calls) == 1
    assert calls[0]["log_level"] == "debug"
    assert calls[0]["endpoint"] == "GET /order/certificate/status-changes"
    assert calls[0]["status"] == 200
    assert calls[0]["duration_ms"] >= 0


def test_the_rate_gate_is_asked_once_before_every_request(
    server: CannedServer, make_client: MakeClient
) -> None:
    gate = CountingGate()
    client = make_client(rate_gate=gate, max_rate_wait_seconds=12)
    server.script(Reply(200, {}), Reply(404, {}), Drop())

    client.status_changes(seconds=60)
    with pytest.raises(ApiPermanentError):
        client.order_info(1)
    with pytest.raises(ApiTransientError):
        client.organizations()

    assert gate.waits == [12, 12, 12]
    assert len(server.received) == 3


def test_a_gate_that_grants_no_slot_stops_the_call_before_it_is_sent(
    server: CannedServer, make_client: MakeClient
) -> None:
    client = make_client(rate_gate=CountingGate(refuse=True))

    with pytest.raises(TransientError) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert caught.value.retry_after_seconds == 2.0
    assert server.received == []


def test_the_observer_sees_route_templates_and_statuses_never_ids(
    server: CannedServer, make_client: MakeClient
) -> None:
    observer = RecordingObserver()
    client = make_client(observer=observer)
    server.script(
        Reply(404, {"errors": [{"code": "not_found|order", "message": "No."}]}),
        Reply(200, b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"),
        Reply(204),
        Drop(),
    )

    with pytest.raises(ApiPermanentError):
        client.order_info(7001)
    client.download_chain(5001, format="pem_noroot")
    client.cancel_order(7002, note="replaced")
    with pytest.raises(ApiTransientError):
        client.reissue(7003, {"certificate": {}})

    assert observer.calls == [
        ("GET /order/certificate/{id}", 404),
        ("GET /certificate/{certificate_id}/download/format/{format}", 200),
        ("PUT /order/certificate/{order_id}/status", 204),
        ("POST /order/certificate/{order_id}/reissue", None),
    ]


def test_a_failing_observer_does_not_lose_the_answer(
    server: CannedServer,
    make_client: MakeClient,
    log_entries: list[MutableMapping[str, Any]],
) -> None:
    client = make_client(observer=RecordingObserver(fail=True))
    server.script(Reply(201, {"id": 7001}))

    created = client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert created.id == 7001
    assert "call_observer_failed" in [entry["event"] for entry in log_entries]


def test_cancel_puts_the_canceled_status_with_its_note(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(204))

    client.cancel_order(7001, note="superseded by 7002")

    request = server.received[0]
    assert (request.method, request.path) == ("PUT", "/order/certificate/7001/status")
    assert request.json() == {"status": "canceled", "note": "superseded by 7002"}


def summary(order_id: int) -> dict[str, Any]:
    return {
        "id": order_id,
        "status": "issued",
        "certificate": {"id": order_id + 1000, "common_name": f"{order_id}.example"},
        "product": {"name_id": "ssl_ev_securesite_flex"},
        "is_renewed": "0",
    }


def test_list_orders_follows_the_pages_until_the_total(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(
            200,
            {
                "orders": [summary(1), summary(2)],
                "page": {"total": 5, "limit": 2, "offset": 0},
            },
        ),
        Reply(
            200,
            {
                "orders": [summary(3), summary(4)],
                "page": {"total": 5, "limit": 2, "offset": 2},
            },
        ),
        Reply(
            200, {"orders": [summary(5)], "page": {"total": 5, "limit": 2, "offset": 4}}
        ),
    )

    orders = list(client.list_orders(status="issued", page_size=2))

    assert [order.id for order in orders] == [1, 2, 3, 4, 5]
    assert orders[0].certificate.common_name == "1.example"
    assert orders[0].product_name_id == "ssl_ev_securesite_flex"
    assert orders[0].is_renewed is False
    assert [request.query for request in server.received] == [
        {"filters[status]": ["issued"], "limit": ["2"], "offset": [str(offset)]}
        for offset in (0, 2, 4)
    ]


def test_list_orders_with_no_orders_key_yields_nothing_and_asks_once(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, {"page": {"total": 0, "limit": 1000, "offset": 0}}))

    assert list(client.list_orders(common_name="shop.example.com")) == []
    assert server.received[0].query == {
        "filters[common_name]": ["shop.example.com"],
        "limit": ["1000"],
        "offset": ["0"],
    }
    assert len(server.received) == 1


def test_list_orders_stops_at_an_empty_page_even_if_the_total_promised_more(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(
        Reply(200, {"orders": [summary(1)], "page": {"total": 9, "limit": 1}}),
        Reply(200, {"page": {"total": 9, "limit": 1, "offset": 1}}),
    )

    assert [order.id for order in client.list_orders(page_size=1)] == [1]
    assert len(server.received) == 2


def test_an_order_without_an_alternative_id_is_refused_before_sending(
    server: CannedServer, client: CertCentralClient
) -> None:
    with pytest.raises(PayloadError) as caught:
        client.order_certificate("ssl_ev_securesite_flex", {"certificate": {}})

    assert str(caught.value) == (
        "order payload: alternative_order_id is required, a string: it finds the "
        "order again when an answer is lost (given: None)"
    )
    assert server.received == []


def test_an_alternative_id_over_64_characters_is_refused_before_sending(
    server: CannedServer, client: CertCentralClient
) -> None:
    with pytest.raises(PayloadError) as caught:
        client.order_certificate(
            "ssl_ev_securesite_flex", {"alternative_order_id": "x" * 65}
        )

    assert "must be 1 to 64 characters" in str(caught.value)
    assert server.received == []


@pytest.mark.parametrize(
    "base_url",
    [
        "http://www.digicert.com/services/v2",
        "http://10.0.0.5:8443/services/v2",
    ],
)
def test_plain_http_to_a_host_other_than_loopback_is_refused(base_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CertCentralClient(base_url, API_KEY)

    assert str(caught.value).startswith(
        "certcentral.base_url: plain http:// is allowed only to a loopback host "
        "(the sandbox); "
    )
    assert base_url in str(caught.value)


def test_a_scheme_other_than_http_or_https_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        CertCentralClient("ftp://www.digicert.com/services/v2", API_KEY)

    assert str(caught.value) == (
        "certcentral.base_url: must be an https:// URL ending in /services/v2 "
        "(given: 'ftp://www.digicert.com/services/v2')"
    )


@pytest.mark.parametrize(
    "base_url",
    [
        "https://www.digicert.com/services/v2",
        "https://certcentral.digicert.eu/services/v2/",
        "http://127.0.0.1:8000/services/v2",
        "http://localhost:8000/services/v2",
        "http://[::1]:8000/services/v2",
    ],
)
def test_https_anywhere_and_plain_http_on_loopback_are_accepted(base_url: str) -> None:
    with CertCentralClient(base_url, API_KEY) as client:
        assert client.base_url == base_url.rstrip("/")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"certcentral\.api_key: the API key is empty"
    ):
        CertCentralClient("https://www.digicert.com/services/v2", "  ")


def test_the_client_repr_shows_where_it_points_and_not_the_key() -> None:
    with CertCentralClient("https://www.digicert.com/services/v2", API_KEY) as client:
        assert repr(client) == (
            "CertCentralClient(base_url='https://www.digicert.com/services/v2')"
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.order_info(0), "order_id: must be a positive integer (given: 0)"),
        (
            lambda c: c.download_chain(5, format="zip"),
            "download format: must be one of p7b, pem_all, pem_nointermediate, "
            "pem_noroot (given: 'zip')",
        ),
        (
            lambda c: list(c.list_orders(page_size=1001)),
            "list_orders: page_size must be 1 to 1000 (given: 1001)",
        ),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    server: CannedServer, client: CertCentralClient, call: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call(client)

    assert server.received == []


def test_one_client_serves_many_threads_at_once(
    server: CannedServer, client: CertCentralClient
) -> None:
    calls = 40
    server.script(*[Reply(200, {"id": 7001, "status": "issued"})] * calls)

    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda _: client.order_info(7001), range(calls)))

    assert {info.status for info in infos} == {"issued"}
    assert len(server.received) == calls
