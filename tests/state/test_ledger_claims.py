"""The ledger's claims: the first wins, and only one of many contenders."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from tests.state.ledger_steps import OLD, claim, install
from tests.support.redis_server import RedisServer
from worker.ledger import Ledger, LedgerConflict, RenewalState, alternative_order_id


def test_the_first_claim_of_a_renewal_wins_and_a_second_is_refused(
    ledger: Ledger, now: datetime
) -> None:
    assert claim(ledger, now) is True
    assert claim(ledger, now + timedelta(minutes=15)) is False

    record = ledger.get(OLD)
    assert record is not None
    assert record.state is RenewalState.CLAIMED
    assert record.name == "www.example.com"
    assert record.source == "files:/etc/certs"
    assert record.due_at == now + timedelta(days=20)
    assert record.claimed_at == now
    assert record.updated_at == now
    assert record.generation == 1
    assert record.attempts == 0
    assert record.due_at.tzinfo is not None


def test_a_failed_renewal_blocks_claims_until_an_operator_requeues_it(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_failed(OLD, code="invalid_value:csr", message="bad CSR", now=now)

    assert claim(ledger, now) is False
    ledger.requeue(OLD, now=now)
    assert claim(ledger, now) is False
    assert ledger.get(OLD) is not None


def test_an_installed_renewal_blocks_claims_of_the_replaced_certificate(
    ledger: Ledger, now: datetime
) -> None:
    install(ledger, now)
    assert claim(ledger, now) is False


def test_a_renewal_with_no_record_is_unknown(ledger: Ledger) -> None:
    assert ledger.get(OLD) is None


def test_threads_claiming_the_same_renewal_on_a_real_redis_queue_it_once(
    redis_server: RedisServer, now: datetime
) -> None:
    redis_server.client().flushall()
    contenders = 16
    start = threading.Barrier(contenders)
    wins: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        ledger = Ledger(redis_server.client())
        start.wait()
        won = claim(ledger, now)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * (contenders - 1) + [True]
    assert Ledger(redis_server.client()).counts()["claimed"] == 1


def test_threads_recording_different_orders_for_one_renewal_bind_only_one(
    redis_server: RedisServer, now: datetime
) -> None:
    redis_server.client().flushall()
    ledger = Ledger(redis_server.client())
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )
    contenders = 8
    start = threading.Barrier(contenders)
    bound: list[int] = []
    lock = threading.Lock()

    def contend(order_id: int) -> None:
        own = Ledger(redis_server.client())
        start.wait()
        try:
            own.record_submitted(
                OLD,
                order_id=order_id,
                request_ids=[],
                order_status="pending",
                certificate_id=None,
                now=now,
            )
        except LedgerConflict:
            return
        with lock:
            bound.append(order_id)

    threads = [
        threading.Thread(target=contend, args=(1000 + index,))
        for index in range(contenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(bound) == 1
    record = ledger.get(OLD)
    assert record is not None
    assert record.order_id == bound[0]
    assert ledger.submitted_orders() == {bound[0]: OLD}
