"""Messages that were lost are sent again (issue 5: nothing stranded).

A message can vanish: a worker killed between two steps of Dramatiq, a Redis
outage longer than a send's patience, an operator who purged a queue. The
ledger still holds the renewal, so the scheduler's sync looks for renewals that
have not moved for longer than any legitimate wait, and sends their message
again: ``renew_certificate`` for a renewal a worker should be carrying on, and
``collect_certificate`` for an issued order whose collection was queued. A
second copy of a message that was only slow is harmless: the renewal lock runs
one copy at a time, and the ledger and the alternative order id stop a second
order.

Each stalled message is sent again at most once per stall period, however
often the sync runs: the time of the last resend is kept in Redis, beside the
ledger, and compared with ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import dramatiq
import structlog

from worker.actors import collect_certificate, renew_certificate
from worker.ledger import RenewalRecord, RenewalState
from worker.ledger.records import as_text
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

# States in which the renewal waits for its renew_certificate message (issued:
# the message collects what the order answered with, see worker/renewal.py).
WAITING_FOR_A_WORKER = (
    RenewalState.CLAIMED,
    RenewalState.KEY_STORED,
    RenewalState.SUBMITTING,
    RenewalState.ISSUED,
)
# The order status the ledger keeps once a collect message is on its way.
COLLECTING = "collecting"
# An issued renewal whose collection has not finished after this long has its
# collect message sent again (a lost message must not strand it).
RESEND_COLLECT_AFTER = timedelta(minutes=30)
# When the message of one renewal was last sent again, by actor.
RESENT_KEY = "certrenew:resent:{actor}:{thumbprint}"


def stalled_after(runtime: Runtime, state: RenewalState) -> timedelta:
    """Longer than the longest legitimate wait of a renewal in this state.

    Between two tries Dramatiq waits at most the longest backoff (with its
    jitter, up to twice that); a dead worker's message comes back after the
    redelivery delay; a claimed renewal may also be spread over
    ``spread_hours`` before its first try.
    """
    settings = runtime.settings
    wait = timedelta(
        seconds=2 * settings.retry.max_backoff_seconds
        + settings.worker.redelivery_after_seconds
    )
    if state == RenewalState.CLAIMED:
        wait += timedelta(hours=settings.policy.spread_hours)
    return wait + timedelta(minutes=1)


def should_resend(
    record: RenewalRecord,
    *,
    stall: timedelta,
    last_resent_at: datetime | None,
    now: datetime,
) -> bool:
    """Idle for longer than ``stall``, and not sent again within the last one.

    A certificate waiting for its install window is idle only from the moment
    the window opens: its collect message is due then, not before.
    """
    idle_since = max(record.updated_at, record.install_after or record.updated_at)
    if now - idle_since <= stall:
        return False
    return last_resent_at is None or now - last_resent_at >= stall


def resend_stalled(runtime: Runtime, *, now: datetime) -> int:
    """Send again every stalled renewal and collection; how many were sent."""
    return resend_stalled_renewals(runtime, now=now) + resend_stalled_collections(
        runtime, now=now
    )


def resend_stalled_renewals(runtime: Runtime, *, now: datetime) -> int:
    """Send the renew message of every renewal that stalled; how many were sent."""
    sent = 0
    for state in WAITING_FOR_A_WORKER:
        stall = stalled_after(runtime, state)
        # Only the renewals idle past the stall are read: a sync during a
        # large renewal run would otherwise read every claimed record. Nor
        # those whose install window opened less than a stall ago, or not yet.
        idle = runtime.ledger.unchanged_since(
            state, now - stall, skip_install_after=now - stall
        )
        for record in _resend_once_per_stall(
            runtime, idle, renew_certificate, stall=stall, now=now
        ):
            log.warning(
                "stalled_renewal_resent",
                certificate=record.name,
                thumbprint=record.thumbprint,
                state=str(record.state),
                idle_seconds=_idle_seconds(record, now=now),
            )
            sent += 1
    return sent


def resend_stalled_collections(runtime: Runtime, *, now: datetime) -> int:
    """Send the collect message of every collection that stalled; how many."""
    idle = runtime.ledger.unchanged_since(
        RenewalState.SUBMITTED,
        now - RESEND_COLLECT_AFTER,
        skip_install_after=now - RESEND_COLLECT_AFTER,
    )
    collecting = [record for record in idle if record.order_status == COLLECTING]
    sent = 0
    for record in _resend_once_per_stall(
        runtime, collecting, collect_certificate, stall=RESEND_COLLECT_AFTER, now=now
    ):
        log.warning(
            "stalled_collection_resent",
            certificate=record.name,
            thumbprint=record.thumbprint,
            order_id=record.order_id,
            idle_seconds=_idle_seconds(record, now=now),
        )
        sent += 1
    return sent


def _resend_once_per_stall(
    runtime: Runtime,
    records: list[RenewalRecord],
    actor: dramatiq.Actor[[str, str, str], None],
    *,
    stall: timedelta,
    now: datetime,
) -> list[RenewalRecord]:
    """Send the actor's message for each stalled record not sent this period.

    Returns the records sent again. Only the leader syncs (scheduler/lock.py),
    so reading and then writing the resend times races with nobody. Each key
    expires after one period: by then it no longer holds anything back.
    """
    if not records:
        return []
    keys = [
        RESENT_KEY.format(actor=actor.actor_name, thumbprint=record.thumbprint)
        for record in records
    ]
    resent = []
    for key, record, raw in zip(keys, records, runtime.redis.mget(keys), strict=True):
        last_resent_at = None if raw is None else datetime.fromisoformat(as_text(raw))
        if not should_resend(
            record, stall=stall, last_resent_at=last_resent_at, now=now
        ):
            continue
        ttl_seconds = max(int(stall.total_seconds()), 1)
        runtime.redis.set(key, now.isoformat(), ex=ttl_seconds)
        actor.send(record.source, record.name, record.thumbprint)
        resent.append(record)
    return resent


def _idle_seconds(record: RenewalRecord, *, now: datetime) -> int:
    return round((now - record.updated_at).total_seconds())
