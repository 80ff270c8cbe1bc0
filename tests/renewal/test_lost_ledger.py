"""A Redis that lost its data must not make certrenew pay twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sandbox import SandboxServer
from tests.support.runtimes import claim_and_renew
from tests.support.sandbox import PENDING_EV_ORG
from tests.support.seeding import seed_certificate
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
ALTERNATE_ROUTE = "GET /order/alternate/{alternative_order_id}"


@pytest.fixture
def runtime(runtime_on_redis: Runtime) -> Runtime:
    return runtime_on_redis


def renewal_orders(sandbox: SandboxServer) -> list[dict[str, Any]]:
    orders = httpx.get(f"{sandbox.admin_url}/orders").json()["orders"]
    return [order for order in orders if order.get("renewed_thumbprint")]


def lookups(sandbox: SandboxServer) -> int:
    counted = httpx.get(f"{sandbox.admin_url}/requests").json()["requests"]
    return sum(row["count"] for row in counted if row["route"] == ALTERNATE_ROUTE)


def test_after_redis_lost_the_ledger_the_renewal_adopts_its_order(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path, redis_client: redis.Redis
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "shop", common_name="shop.example.net",
        organization_id=PENDING_EV_ORG, validity=DUE,
    )  # fmt: skip
    claim_and_renew(runtime, tmp_path, "shop", thumbprint, NOW)
    ordered = runtime.ledger.get(thumbprint)
    assert ordered is not None
    assert ordered.order_status == "pending"

    redis_client.flushall()  # Redis restarted without its data
    claim_and_renew(runtime, tmp_path, "shop", thumbprint, NOW + timedelta(minutes=15))

    adopted = runtime.ledger.get(thumbprint)
    assert adopted is not None
    assert adopted.order_id == ordered.order_id
    (order,) = renewal_orders(sandbox)
    # The pending key kept is the one whose CSR the adopted order carries:
    # only it can install what DigiCert issues.
    csr = x509.load_pem_x509_csr(order["request"]["certificate"]["csr"].encode())
    pending = load_pem_private_key((tmp_path / "shop.key.pending").read_bytes(), None)
    assert csr.public_key() == pending.public_key()


def test_a_ledger_that_began_long_ago_is_trusted_without_a_lookup(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path, redis_client: redis.Redis
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "shop", common_name="shop.example.com", validity=DUE
    )
    redis_client.set(runtime.ledger.began_key, (NOW - timedelta(days=3)).isoformat())

    claim_and_renew(runtime, tmp_path, "shop", thumbprint, NOW)

    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state == "installed"
    assert lookups(sandbox) == 0
    assert len(renewal_orders(sandbox)) == 1


def test_a_new_ledger_looks_its_first_renewals_up_before_ordering(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "shop", common_name="shop.example.com", validity=DUE
    )

    claim_and_renew(runtime, tmp_path, "shop", thumbprint, NOW)

    assert lookups(sandbox) == 1
    assert len(renewal_orders(sandbox)) == 1
