"""Claiming and queueing due renewals on a real Redis, against raw pipelines.

The subject is what the scheduler does for each due certificate: open the
renewal in the ledger (``Ledger.claim``, one Lua transition) and send its
``renew_certificate`` message (Dramatiq's dispatch script). The baseline sends
the same two scripts with the same arguments, raw, in pipelines of 1,000.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from bench.common import Result, Spread, paired_runs, seconds_text, speed_ratios
from tests.support.redis_server import RedisServer

PIPELINE_SIZE = 1000
SOURCE = "files:/srv/certificates"


def thumbprints(count: int, run: int) -> list[str]:
    """Distinct thumbprints, fresh for every run so each claim is a first claim."""
    return [
        hashlib.sha1(f"{run}-{number}".encode()).hexdigest().upper()  # noqa: S324 - a stand-in thumbprint
        for number in range(count)
    ]


class QueueingBench:
    def __init__(self, redis_url: str) -> None:
        from certrenew.config import RedisSettings, Settings
        from scheduler.scan import ScannedEntry  # noqa: F401 - loads the actors' modules
        from worker.bootstrap import start_runtime

        self.runtime = start_runtime(Settings(redis=RedisSettings(url=redis_url)))
        self.client: redis.Redis = self.runtime.redis
        self.run_number = 0

    def flush(self) -> None:
        self.client.flushdb()

    def next_batch(self, count: int) -> list[str]:
        self.run_number += 1
        return thumbprints(count, self.run_number)

    def certrenew(self, batch: list[str]) -> None:
        """One claim and one send per renewal, as scan_and_enqueue does."""
        from worker.actors import renew_certificate

        ledger = self.runtime.ledger
        now = datetime.now(UTC)
        for number, thumbprint in enumerate(batch):
            name = f"host{number}"
            if ledger.claim(thumbprint, name=name, source=SOURCE, due_at=now, now=now):
                renew_certificate.send_with_options(
                    args=(SOURCE, name, thumbprint), delay=0
                )

    def certrenew_batched(self, batch: list[str]) -> None:
        """As the scheduler's scan queues: claims and sends batched by 500."""
        from scheduler.jobs import CLAIM_BATCH
        from worker.actors import renew_certificate
        from worker.broker import PatientRedisBroker
        from worker.ledger import Claim

        ledger = self.runtime.ledger
        broker = renew_certificate.broker
        assert isinstance(broker, PatientRedisBroker)
        now = datetime.now(UTC)
        claims = [
            Claim(thumbprint, name=f"host{number}", source=SOURCE, due_at=now)
            for number, thumbprint in enumerate(batch)
        ]
        for start in range(0, len(claims), CLAIM_BATCH):
            claimed = ledger.claim_many(claims[start : start + CLAIM_BATCH], now=now)
            with broker.batched_sends():
                for claim in claimed:
                    renew_certificate.send_with_options(
                        args=(SOURCE, claim.name, claim.thumbprint), delay=0
                    )

    def raw(self, batch: list[str]) -> None:
        """The same scripts with the same arguments, pipelined."""
        from worker.actors import renew_certificate

        ledger = self.runtime.ledger
        broker: Any = renew_certificate.broker
        dispatch = broker.scripts["dispatch"]
        now = datetime.now(UTC)
        for start in range(0, len(batch), PIPELINE_SIZE):
            pipe = self.client.pipeline(transaction=False)
            for number, thumbprint in enumerate(
                batch[start : start + PIPELINE_SIZE], start=start
            ):
                name = f"host{number}"
                ledger._transition(
                    keys=ledger._keys(thumbprint),
                    args=[_claim_request(thumbprint, name, now)],
                    client=pipe,
                )
                message = renew_certificate.message_with_options(
                    args=(SOURCE, name, thumbprint)
                )
                eta = int((now + timedelta()).timestamp() * 1000)
                message = message.copy(
                    queue_name=f"{message.queue_name}.DQ",
                    options={"redis_message_id": message.message_id, "eta": eta},
                )
                dispatch(
                    keys=[broker.namespace],
                    args=[
                        "enqueue", eta, message.queue_name, broker.broker_id,
                        broker.heartbeat_timeout, broker.dead_message_ttl, 0,
                        broker._max_unpack_size(),
                        message.options["redis_message_id"], message.encode(),
                    ],
                    client=pipe,
                )  # fmt: skip
            pipe.execute()


def _claim_request(thumbprint: str, name: str, now: datetime) -> str:
    """The transition request Ledger.claim sends (worker/ledger/requests.py)."""
    from worker.ledger import Claim
    from worker.ledger.requests import claim_request

    return claim_request(Claim(thumbprint, name, SOURCE, now), now)


def bench_queueing(count: int, repeats: int, *, batched: bool = True) -> list[Result]:
    from bench.scan import quiet_logging

    quiet_logging()
    server = RedisServer()
    server.start()
    try:
        bench = QueueingBench(server.url)
        # One round trip per claim and per send: how the scan queued before
        # it batched them, kept as the "before" of the row below.
        results = [
            _measure(
                bench,
                count,
                repeats,
                "one at a time, before batching",
                bench.certrenew,
                judged=False,
            )
        ]
        if batched:
            results.append(
                _measure(
                    bench,
                    count,
                    repeats,
                    "batched claims and sends",
                    bench.certrenew_batched,
                )
            )
        return results
    finally:
        server.stop()


def _measure(
    bench: QueueingBench,
    count: int,
    repeats: int,
    label: str,
    subject: Callable[[list[str]], None],
    *,
    judged: bool = True,
) -> Result:
    batches: dict[str, list[str]] = {}

    def prepared(side: str, action: Callable[[list[str]], None]) -> Callable[[], None]:
        def run() -> None:
            action(batches[side])

        return run

    raw_seconds, subject_seconds = [], []
    for _ in range(repeats):
        bench.flush()
        batches["raw"] = bench.next_batch(count)
        batches["subject"] = bench.next_batch(count)
        one_raw, one_subject = paired_runs(
            prepared("raw", bench.raw), prepared("subject", subject), repeats=1
        )
        raw_seconds += one_raw
        subject_seconds += one_subject
    queued = bench.client.hlen("dramatiq:certrenew.DQ.msgs")
    assert queued == 2 * count, f"expected {2 * count} queued messages, found {queued}"

    ratio = speed_ratios(raw_seconds, subject_seconds)
    return Result(
        benchmark=f"4. claim and queue ({label})",
        figure=f"certrenew ({label}) speed ÷ raw pipelined speed",
        baseline=f"the same two scripts per renewal, pipelined by {PIPELINE_SIZE:,}",
        ratio=ratio,
        aim="≥ 0.5" if judged else "report",
        met=ratio.median >= 0.5 if judged else None,
        size=f"{count:,} renewals, {repeats} runs, real redis-server",
        absolute={
            "raw": seconds_text(raw_seconds),
            "certrenew": seconds_text(subject_seconds),
            "certrenew per second": f"{count / Spread.of(subject_seconds).median:,.0f}",
        },
    )
