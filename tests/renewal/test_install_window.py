"""A renewed certificate goes live only in its install window, against the
sandbox over HTTP, on a real Redis, with real keys and certificates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from certrenew.inventory import Entry
from sandbox import SandboxServer
from scheduler.stalled import should_resend
from tests.state.ledger_steps import thumbprint_of
from tests.support.checks import calls_to
from tests.support.runtimes import claim_and_renew
from tests.support.seeding import seed_certificate
from tests.support.windows import window_opening_in
from worker.actors import renew_certificate
from worker.installation import InstallDeferred, collect
from worker.ledger import RenewalRecord, RenewalState
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
# A weekly window that opens three hours from now, on the minute.
OPENS, WINDOW = window_opening_in(timedelta(hours=3), NOW)
DOWNLOAD = "GET /certificate/{certificate_id}/download/format/{format}"
DELAYED = "dramatiq:certrenew.DQ"


@pytest.fixture
def runtime(runtime_on_redis: Runtime) -> Runtime:
    return runtime_on_redis


def seed_with_window(
    sandbox: SandboxServer,
    folder: Path,
    name: str,
    window: str,
    validity: tuple[datetime, datetime] = DUE,
) -> str:
    """A due certificate whose sidecar allows installing only in ``window``."""
    thumbprint = seed_certificate(
        sandbox, folder, name, common_name=f"{name}.example.com", validity=validity
    )
    (folder / f"{name}.certrenew.toml").write_text(
        f'[policy]\ninstall_windows = ["{window}"]\n'
    )
    return thumbprint


def live_leaf(folder: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates((folder / f"{name}.crt").read_bytes())[0]


def test_a_certificate_issued_outside_its_window_waits_and_is_installed_in_it(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    thumbprint = seed_with_window(sandbox, tmp_path, "shop", WINDOW)
    live_before = (tmp_path / "shop.crt").read_bytes()

    with pytest.raises(InstallDeferred) as deferred:
        claim_and_renew(runtime, tmp_path, "shop", thumbprint, NOW)

    assert deferred.value.until == OPENS
    waiting = runtime.ledger.get(thumbprint)
    assert waiting is not None
    assert (waiting.state, waiting.install_after) == ("issued", OPENS)
    assert waiting.install_waits_at(NOW)
    assert (tmp_path / "shop.crt").read_bytes() == live_before
    assert (tmp_path / "shop.key.pending").exists()

    # A collect message that comes early downloads nothing and waits again.
    downloads = calls_to(sandbox, DOWNLOAD)
    source = f"files:{tmp_path}"
    with pytest.raises(InstallDeferred):
        collect(runtime, source, "shop", thumbprint, now=OPENS - timedelta(minutes=1))
    assert calls_to(sandbox, DOWNLOAD) == downloads

    collect(runtime, source, "shop", thumbprint, now=OPENS + timedelta(minutes=1))

    installed = runtime.ledger.get(thumbprint)
    assert installed is not None
    assert installed.state == "installed"
    assert calls_to(sandbox, DOWNLOAD) == downloads + 1
    leaf = live_leaf(tmp_path, "shop")
    assert installed.new_thumbprint != thumbprint
    key = load_pem_private_key((tmp_path / "shop.key").read_bytes(), None)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


def test_the_worker_sends_the_collection_for_the_moment_the_window_opens(
    runtime: Runtime,
    sandbox: SandboxServer,
    tmp_path: Path,
    redis_client: redis.Redis,
) -> None:
    thumbprint = seed_with_window(sandbox, tmp_path, "shop", WINDOW)

    # The actor itself, run in this process: it neither fails nor retries.
    renew_certificate(f"files:{tmp_path}", "shop", thumbprint)

    (message_id,) = redis_client.lrange(DELAYED, 0, -1)
    body = redis_client.hget(f"{DELAYED}.msgs", message_id)
    assert body is not None
    message = json.loads(body)
    assert message["actor_name"] == "collect_certificate"
    assert message["args"] == [f"files:{tmp_path}", "shop", thumbprint]
    assert abs(message["options"]["eta"] - OPENS.timestamp() * 1000) < 60_000
    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert (record.state, record.install_after) == ("issued", OPENS)


def test_a_certificate_that_would_expire_before_its_window_is_installed_at_once(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    _, window = window_opening_in(timedelta(days=3), NOW)
    expires_tomorrow = (NOW - timedelta(days=90), NOW + timedelta(days=1))
    thumbprint = seed_with_window(
        sandbox, tmp_path, "late", window, validity=expires_tomorrow
    )

    claim_and_renew(runtime, tmp_path, "late", thumbprint, NOW)

    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state == "installed"
    assert live_leaf(tmp_path, "late").not_valid_after_utc > NOW + timedelta(days=30)


def test_a_waiting_certificate_counts_as_stalled_only_from_its_window() -> None:
    record = RenewalRecord(
        thumbprint=thumbprint_of("waiting"),
        state=RenewalState.ISSUED,
        name="waiting",
        source="files:/certs",
        due_at=NOW,
        claimed_at=NOW,
        updated_at=NOW,
        generation=1,
        attempts=1,
        install_after=NOW + timedelta(days=6),
    )
    stall = timedelta(hours=8)

    def resend(at: datetime) -> bool:
        return should_resend(record, stall=stall, last_resent_at=None, now=at)

    assert not resend(NOW + timedelta(days=6, hours=7))
    assert resend(NOW + timedelta(days=6, hours=9))


def test_a_sidecar_window_that_does_not_parse_is_a_problem_naming_file_and_key(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    seed_with_window(sandbox, tmp_path, "typo", "Sat 2-6")

    (problem,) = [
        item
        for item in runtime.source(f"files:{tmp_path}").scan()
        if not isinstance(item, Entry)
    ]

    assert problem.location == str(tmp_path / "typo.certrenew.toml")
    assert "policy.install_windows.0: 'Sat 2-6': '2' is not a time of day" in (
        problem.error
    )
