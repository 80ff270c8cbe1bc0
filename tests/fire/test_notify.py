"""The failure webhook, against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import redis

from certrenew import __version__
from certrenew.config import Settings
from tests.support.loopback_http import Incoming, LoopbackHttpServer, send
from tests.support.redis_server import free_port
from worker.ledger import Ledger
from worker.notify import notify_failed, post_event
from worker.runtime import Runtime

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
THUMBPRINT = "AB" * 20


class Receiver:
    """A loopback HTTP server that keeps every JSON body and answers ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        self._http = LoopbackHttpServer(self._respond, methods=("POST",))
        self.url = f"{self._http.origin}/hook?token=s3"
        self._http.start()

    def close(self) -> None:
        self._http.stop()

    def _respond(self, incoming: Incoming, handler: BaseHTTPRequestHandler) -> None:
        self.bodies.append(json.loads(incoming.body))
        send(handler, self.status, b"", {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def failed_runtime(redis_client: redis.Redis, webhook_url: str) -> Runtime:
    settings = Settings.model_validate(
        {
            "notify": {"webhook_url": webhook_url, "timeout_seconds": 2},
            "overrides": {"shop.example.com": {"labels": {"team": "payments"}}},
        }
    )
    runtime = Runtime(settings=settings, redis=redis_client, embedded=False)
    ledger = Ledger(redis_client)
    ledger.claim(THUMBPRINT, name="shop.example.com", source="files:/x",
                 due_at=NOW, now=NOW)  # fmt: skip
    return runtime


def test_a_failed_renewal_posts_the_documented_document_to_the_webhook(
    redis_client: redis.Redis, receiver: Receiver
) -> None:
    runtime = failed_runtime(redis_client, receiver.url)
    record = runtime.ledger.record_failed(
        THUMBPRINT, code="invalid_value:organization.id", message="no such org", now=NOW
    )

    notify_failed(runtime, record, now=NOW)

    [body] = receiver.bodies
    assert body["event"] == "renewal_failed"
    assert body["certificate"] == "shop.example.com"
    assert body["source"] == "files:/x"
    assert body["thumbprint"] == THUMBPRINT
    assert body["labels"] == {"team": "payments"}
    assert body["failure_code"] == "invalid_value:organization.id"
    assert body["failure_message"] == "no such org"
    assert body["failed_at"] == NOW.isoformat()
    assert body["attempts"] == 0
    assert body["certrenew_version"] == __version__


def test_a_webhook_that_refuses_or_is_down_is_logged_and_never_raises() -> None:
    refusing = Receiver(status=500)
    try:
        assert not post_event(refusing.url, {"event": "x"}, timeout_seconds=2)
    finally:
        refusing.close()
    down = f"http://127.0.0.1:{free_port()}/hook?token=s3"

    assert not post_event(down, {"event": "x"}, timeout_seconds=2)


def test_no_webhook_configured_sends_nothing(
    redis_client: redis.Redis, receiver: Receiver
) -> None:
    runtime = failed_runtime(redis_client, receiver.url)
    quiet = Runtime(
        settings=Settings(),
        redis=redis_client,
        embedded=False,
        sources={"x": None},  # type: ignore[dict-item]  # never read without a webhook
    )
    record = runtime.ledger.record_failed(THUMBPRINT, code="c", message="m", now=NOW)

    notify_failed(quiet, record, now=NOW)

    assert receiver.bodies == []
