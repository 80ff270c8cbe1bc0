"""The whole pipeline with real processes: Redis, the sandbox over HTTP, and
`certrenew scheduler` and `certrenew worker` as subprocesses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sandbox import FaultSettings
from tests.support.deployment import Deployment, deployed
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.sandbox import PENDING_EV_ORG
from tests.support.seeding import seed_certificate
from tests.support.windows import window_opening_in
from worker.ledger import Ledger, RenewalRecord

pytestmark = pytest.mark.slow

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
NOT_DUE = (NOW - timedelta(days=5), NOW + timedelta(days=150))


@dataclass(frozen=True)
class Pipeline(Deployment):
    ledger: Ledger

    def records(self) -> dict[str, RenewalRecord]:
        records = self.ledger.in_flight() + self.ledger.failed()
        records += self.ledger.by_state("installed")
        return {record.name: record for record in records}

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.sandbox.admin_url}{path}", **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.admin("GET", "/orders")["orders"]
        return orders


@pytest.fixture
def pipeline(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[Pipeline]:
    with deployed(tmp_path, redis_server.url) as deployment:
        yield Pipeline(
            deployment.sandbox,
            deployment.folder,
            deployment.config,
            deployment.logs,
            ledger=Ledger(redis_client),
        )


def seed_mixed_inventory(pipeline: Pipeline) -> dict[str, str]:
    """Two EV renewals, a plan reissue, a pending order, a rejected one, one not due."""

    def seed(name: str, common_name: str, **options: Any) -> str:
        options.setdefault("validity", DUE)
        return seed_certificate(
            pipeline.sandbox, pipeline.folder, name, common_name=common_name, **options
        )

    plan_end = NOW + timedelta(days=700)
    return {
        "shop": seed("shop", "shop.example.com", dns_names=("www.shop.example.com",)),
        "api": seed("api", "api.example.com"),
        "plan": seed("plan", "plan.example.com", order_valid_till=plan_end),
        "neworg": seed("neworg", "neworg.example.net", organization_id=PENDING_EV_ORG),
        "doomed": seed("doomed", "doomed.example.net", organization_id=PENDING_EV_ORG),
        "calm": seed("calm", "calm.example.org", validity=NOT_DUE),
    }


def assert_installed_and_verifying(pipeline: Pipeline, name: str) -> x509.Certificate:
    chain = x509.load_pem_x509_certificates(
        (pipeline.folder / f"{name}.crt").read_bytes()
    )
    key = load_pem_private_key((pipeline.folder / f"{name}.key").read_bytes(), None)
    leaf = chain[0]
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]

    ca = pipeline.admin("GET", "/ca")
    root = x509.load_pem_x509_certificate(ca["root"].encode())
    store = x509.verification.Store([root])
    common_name = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0]
    builder = x509.verification.PolicyBuilder().store(store)
    verifier = builder.build_server_verifier(x509.DNSName(str(common_name.value)))
    verifier.verify(leaf, chain[1:])
    return leaf


def test_scheduler_and_worker_processes_renew_a_mixed_inventory_with_one_order_each(
    pipeline: Pipeline,
) -> None:
    old = seed_mixed_inventory(pipeline)
    seeded_orders = len(pipeline.orders())
    scheduler = pipeline.start("scheduler")
    worker = pipeline.start("worker")
    try:
        wait_until(
            lambda: (
                {"shop", "api", "plan"}
                <= {n for n, r in pipeline.records().items() if r.state == "installed"}
            ),
            timeout_seconds=60,
            what="the EV renewals and the reissue to be installed",
        )
        records = pipeline.records()
        assert records["neworg"].order_status == "pending"
        assert records["doomed"].order_status == "pending"
        assert "calm" not in records

        pipeline.admin("POST", f"/orders/{records['doomed'].order_id}/reject")
        pipeline.admin("POST", f"/organizations/{PENDING_EV_ORG}/validate")
        wait_until(
            lambda: (
                pipeline.records()["neworg"].state == "installed"
                and pipeline.records()["doomed"].state == "failed"
            ),
            timeout_seconds=60,
            what="the validated order installed and the rejected one failed",
        )
    finally:
        assert scheduler.terminate() == 0, scheduler.output()
        assert worker.terminate() == 0, worker.output()

    records = pipeline.records()
    for name in ("shop", "api", "plan", "neworg"):
        leaf = assert_installed_and_verifying(pipeline, name)
        assert records[name].new_thumbprint != old[name]
        assert leaf.not_valid_after_utc > NOW + timedelta(days=150)
    assert records["plan"].action == "reissue"
    assert records["shop"].action == "renew"
    assert "rejected" in (records["doomed"].failure_message or "")
    assert (pipeline.folder / "doomed.crt").read_text()  # left as it was

    new_orders = pipeline.orders()[seeded_orders:]
    renewed = sorted(order["renewed_thumbprint"] for order in new_orders)
    assert renewed == sorted(old[n] for n in ("shop", "api", "neworg", "doomed"))


def test_a_dropped_answer_after_the_order_was_created_never_orders_twice(
    pipeline: Pipeline,
) -> None:
    old = {
        name: seed_certificate(
            pipeline.sandbox,
            pipeline.folder,
            name,
            common_name=f"{name}.example.com",
            validity=DUE,
        )
        for name in ("alpha", "beta", "gamma")
    }
    seeded_orders = len(pipeline.orders())
    faults = FaultSettings(drop_after_create_rate=1.0)
    pipeline.admin("PUT", "/faults", json=faults.__dict__)

    scheduler = pipeline.start("scheduler")
    worker = pipeline.start("worker")
    try:
        wait_until(
            lambda: all(
                pipeline.records().get(n) is not None
                and pipeline.records()[n].state == "installed"
                for n in old
            ),
            timeout_seconds=90,
            what="every renewal to be installed despite the dropped answers",
        )
    finally:
        assert scheduler.terminate() == 0, scheduler.output()
        assert worker.terminate() == 0, worker.output()

    new_orders = pipeline.orders()[seeded_orders:]
    assert sorted(o["renewed_thumbprint"] for o in new_orders) == sorted(old.values())
    for name in old:
        assert_installed_and_verifying(pipeline, name)
        assert not (pipeline.folder / f"{name}.key.pending").exists()


def test_a_certificate_issued_outside_its_install_window_waits_for_it(
    pipeline: Pipeline, redis_client: redis.Redis
) -> None:
    opens, window = window_opening_in(timedelta(hours=3), NOW)
    old = {
        name: seed_certificate(pipeline.sandbox, pipeline.folder, name,
                               common_name=f"{name}.example.com", validity=DUE)
        for name in ("day", "night")
    }  # fmt: skip
    (pipeline.folder / "night.certrenew.toml").write_text(
        f'[policy]\ninstall_windows = ["{window}"]\n'
    )
    night_before = (pipeline.folder / "night.crt").read_bytes()

    scheduler = pipeline.start("scheduler")
    worker = pipeline.start("worker")
    try:
        wait_until(
            lambda: (
                {"day": "installed", "night": "issued"}.items()
                <= {n: r.state for n, r in pipeline.records().items()}.items()
            ),
            timeout_seconds=60,
            what="the day certificate installed and the night one issued",
        )
        held = delayed_collections(redis_client)
    finally:
        assert scheduler.terminate() == 0, scheduler.output()
        assert worker.terminate() == 0, worker.output()

    night = pipeline.records()["night"]
    assert night.install_after == opens
    assert night.failure_code is None
    assert (pipeline.folder / "night.crt").read_bytes() == night_before
    assert_installed_and_verifying(pipeline, "day")
    assert held == [(["files:" + str(pipeline.folder), "night", old["night"]],
                     opens.timestamp())]  # fmt: skip
    assert "install_deferred" in worker.output()


def delayed_collections(client: redis.Redis) -> list[tuple[list[str], float]]:
    """The delayed collect messages and their due times (Unix seconds), wherever
    they wait: in the delay queue, or taken by a worker that holds them."""
    bodies = client.hgetall("dramatiq:certrenew.DQ.msgs")
    found = []
    for body in bodies.values():
        message = json.loads(body)
        if message["actor_name"] == "collect_certificate":
            found.append((message["args"], message["options"]["eta"] / 1000))
    return [(args, round(eta / 60) * 60.0) for args, eta in found]
