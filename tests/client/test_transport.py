"""Calls that end without an answer: timeouts, dropped and refused connections."""

from __future__ import annotations

import httpx
import pytest
from structlog.tracebacks import ExceptionDictTransformer

from tests.client.conftest import API_KEY, MakeClient
from tests.client.server import CannedServer, Drop, Hang, Reply
from tests.support.redis_server import free_port
from worker.certcentral import (
    ApiTransientError,
    CertCentralClient,
    OutcomeUnknown,
    UnexpectedResponse,
)
from worker.certcentral.answers import without_frames

ORDER = {"alternative_order_id": "renewal-C3D4", "certificate": {}}


def test_a_read_timeout_after_posting_an_order_leaves_the_outcome_unknown(
    server: CannedServer, make_client: MakeClient
) -> None:
    server.script(Hang())
    client = make_client(timeout_seconds=0.3)

    with pytest.raises(OutcomeUnknown) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    error = caught.value
    assert error.status is None
    assert error.alternative_order_id == "renewal-C3D4"
    assert str(error) == (
        "outcome of POST /order/certificate/{product} unknown (no answer: read "
        "timeout (ReadTimeout)); the order may exist: look it up by its "
        "alternative_order_id before posting again"
    )
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert len(server.received) == 1


def test_a_read_timeout_after_posting_a_reissue_leaves_the_outcome_unknown(
    server: CannedServer, make_client: MakeClient
) -> None:
    server.script(Hang())

    with pytest.raises(OutcomeUnknown):
        make_client(timeout_seconds=0.3).reissue(7001, {"certificate": {}})


def test_a_connection_dropped_after_posting_an_order_leaves_the_outcome_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Drop())

    with pytest.raises(OutcomeUnknown) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert server.received[0].json() == ORDER


def test_a_connection_dropped_on_a_read_is_transient_not_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Drop())

    with pytest.raises(ApiTransientError) as caught:
        client.order_info(42)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.endpoint == "GET /order/certificate/{id}"


def test_a_read_timeout_on_a_read_is_transient_not_unknown(
    server: CannedServer, make_client: MakeClient
) -> None:
    server.script(Hang())

    with pytest.raises(ApiTransientError) as caught:
        make_client(timeout_seconds=0.3).status_changes(seconds=300)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert "read timeout" in str(caught.value)


def test_a_refused_connection_on_a_post_is_transient_since_nothing_left() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/services/v2"

    with (
        CertCentralClient(base_url, API_KEY) as client,
        pytest.raises(ApiTransientError) as caught,
    ):
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert str(caught.value).startswith(
        "DigiCert did not answer POST /order/certificate/{product}: "
    )


def test_an_order_answer_that_cannot_be_read_leaves_the_outcome_unknown(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(201, {"requests": [{"id": 1, "status": "pending"}]}))

    with pytest.raises(OutcomeUnknown) as caught:
        client.order_certificate("ssl_ev_securesite_flex", ORDER)

    assert caught.value.status == 201
    assert "unreadable answer: id: required, missing" in str(caught.value)


def test_a_read_answer_of_the_wrong_shape_is_permanent(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, {"id": 42, "status": "issued", "is_renewal": "maybe"}))

    with pytest.raises(UnexpectedResponse) as caught:
        client.order_info(42)

    assert str(caught.value) == (
        "DigiCert answered GET /order/certificate/{id} (HTTP 200) with a body "
        "certrenew cannot read: is_renewal: expected a boolean or 1/0, got 'maybe'"
    )


def test_a_read_answer_that_is_not_json_is_transient(
    server: CannedServer, client: CertCentralClient
) -> None:
    server.script(Reply(200, b"<html>login</html>"))

    with pytest.raises(ApiTransientError) as caught:
        client.organizations()

    assert "the body is not JSON" in str(caught.value)


def _fail_while_holding_the_key() -> None:
    """Stands in for an h11 frame: its locals hold the request headers."""
    headers = {"X-DC-DEVKEY": API_KEY}
    raise httpx.WriteError(f"write failed with {len(headers)} headers")


def _rendered(error: BaseException) -> str:
    transformer = ExceptionDictTransformer(show_locals=True, locals_max_string=10_000)
    return repr(transformer((type(error), error, error.__traceback__)))


def _raise_translated(*, drop_frames: bool) -> None:
    try:
        _fail_while_holding_the_key()
    except httpx.WriteError as error:
        cause = without_frames(error) if drop_frames else error
        raise OutcomeUnknown("POST /x", None, [], reason="write") from cause


def _translate(*, drop_frames: bool) -> OutcomeUnknown:
    with pytest.raises(OutcomeUnknown) as caught:
        _raise_translated(drop_frames=drop_frames)
    return caught.value


def test_a_translated_error_keeps_its_cause_but_not_the_frames_holding_the_key() -> (
    None
):
    # What a renderer of locals would show if the frames were kept.
    assert API_KEY in _rendered(_translate(drop_frames=False))

    translated = _translate(drop_frames=True)

    assert isinstance(translated.__cause__, httpx.WriteError)
    assert "write failed with 1 headers" in _rendered(translated)
    assert API_KEY not in _rendered(translated)
