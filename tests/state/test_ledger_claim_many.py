"""Ledger.claim_many: many first claims in one round trip, each judged alone."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from worker.ledger import Claim, Ledger

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def claim_for(number: int) -> Claim:
    return Claim(f"{number:040X}", name=f"host{number}", source="files:/x", due_at=NOW)


def test_claim_many_opens_every_new_renewal_and_skips_the_claimed_ones(
    redis_client: redis.Redis,
) -> None:
    ledger = Ledger(redis_client)
    assert ledger.claim(claim_for(2).thumbprint, name="host2", source="files:/x",
                        due_at=NOW, now=NOW)  # fmt: skip

    claimed = ledger.claim_many([claim_for(n) for n in range(4)], now=NOW)

    assert [claim.name for claim in claimed] == ["host0", "host1", "host3"]
    assert ledger.counts()["claimed"] == 4
    record = ledger.get(claim_for(3).thumbprint)
    assert record is not None
    assert (record.name, record.source, record.generation) == ("host3", "files:/x", 1)


def test_claim_many_claims_nothing_twice(redis_client: redis.Redis) -> None:
    ledger = Ledger(redis_client)
    claims = [claim_for(n) for n in range(3)]

    assert ledger.claim_many(claims, now=NOW) == claims
    assert ledger.claim_many(claims, now=NOW) == []
