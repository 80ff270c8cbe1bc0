"""The failure webhook, against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import redis

from certrenew import __version__
from certrenew.config import NotifySettings, Settings, load_settings
from certrenew.errors import ConfigError
from sandbox import SandboxServer
from tests.support.loopback_http import Incoming, LoopbackHttpServer, send
from tests.support.redis_server import free_port
from tests.support.runtimes import claim_and_renew, runtime_at_sandbox
from tests.support.seeding import seed_certificate
from tests.support.windows import window_opening_in
from worker.installation import InstallDeferred
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


@pytest.fixture
def renewing(
    sandbox: SandboxServer, tmp_path: Path, receiver: Receiver
) -> Iterator[Callable[..., Runtime]]:
    """Runtimes renewing ``tmp_path`` at the sandbox, posting to ``receiver``."""
    runtimes: list[Runtime] = []

    def make(*events: str) -> Runtime:
        notify = NotifySettings.model_validate(
            {"webhook_url": receiver.url, "timeout_seconds": 2, "events": events}
        )
        runtime = runtime_at_sandbox(sandbox, tmp_path, notify=notify)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


def test_installed_and_deferred_renewals_are_posted_only_when_asked_for(
    sandbox: SandboxServer,
    tmp_path: Path,
    receiver: Receiver,
    renewing: Callable[..., Runtime],
) -> None:
    now = datetime.now(UTC)
    quiet, loud = (seed_due(sandbox, tmp_path, name, now) for name in ("quiet", "loud"))

    claim_and_renew(renewing(), tmp_path, "quiet", quiet, now)
    posted_by_default = list(receiver.bodies)
    asking = renewing("renewal_installed")
    claim_and_renew(asking, tmp_path, "loud", loud, now)

    assert posted_by_default == []
    [body] = receiver.bodies
    record = asking.ledger.get(loud)
    assert record is not None
    assert body["event"] == "renewal_installed"
    assert body["certificate"] == "loud"
    assert body["state"] == "installed"
    assert body["new_thumbprint"] == record.new_thumbprint
    assert body["new_not_after"] == _iso(record.new_not_after)
    assert body["installed_at"] == now.isoformat()
    assert body["failure_code"] is None


def test_a_deferred_install_is_posted_with_when_its_window_opens(
    sandbox: SandboxServer,
    tmp_path: Path,
    receiver: Receiver,
    renewing: Callable[..., Runtime],
) -> None:
    now = datetime.now(UTC)
    opens, window = window_opening_in(timedelta(hours=3), now)
    thumbprint = seed_due(sandbox, tmp_path, "night", now)
    (tmp_path / "night.certrenew.toml").write_text(
        f'[policy]\ninstall_windows = ["{window}"]\n'
    )

    with pytest.raises(InstallDeferred):
        claim_and_renew(
            renewing("install_deferred"), tmp_path, "night", thumbprint, now
        )

    [body] = receiver.bodies
    assert (body["event"], body["state"]) == ("install_deferred", "issued")
    assert body["install_after"] == opens.isoformat()
    assert body["new_thumbprint"] is None


def test_an_unknown_event_name_is_refused_with_the_names_there_are(
    tmp_path: Path,
) -> None:
    path = tmp_path / "certrenew.toml"
    path.write_text('[notify]\nevents = ["renewal_failed", "renewal_done"]\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})

    assert raised.value.problems == [
        f"{path}: notify.events[1]: must be 'renewal_failed', "
        "'renewal_pending_too_long', 'renewal_installed' or 'install_deferred' "
        "(given: 'renewal_done')"
    ]


def seed_due(sandbox: SandboxServer, folder: Path, name: str, now: datetime) -> str:
    """A certificate at the sandbox, due with ten days left; its thumbprint."""
    due = (now - timedelta(days=80), now + timedelta(days=10))
    return seed_certificate(
        sandbox, folder, name, common_name=f"{name}.example.com", validity=due
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
