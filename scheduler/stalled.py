"""Renewals whose message was lost are sent again (issue 5: nothing stranded).

A message can vanish: a worker killed between two steps of Dramatiq, a Redis
outage longer than a send's patience, an operator who purged a queue. The
ledger still holds the renewal, so the scheduler's sync looks for renewals that
have not moved for longer than any legitimate wait, and sends their message
again. A second copy of a message that was only slow is harmless: the renewal
lock runs one copy at a time, and the ledger and the alternative order id stop
a second order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from worker.actors import renew_certificate
from worker.ledger import RenewalRecord, RenewalState
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
RESENT_KEY = "certrenew:resent:{thumbprint}"


def stalled_after(runtime: Runtime, record: RenewalRecord) -> timedelta:
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
    if record.state == RenewalState.CLAIMED:
        wait += timedelta(hours=settings.policy.spread_hours)
    return wait + timedelta(minutes=1)


def resend_stalled_renewals(runtime: Runtime, *, now: datetime) -> int:
    """Send the message of every renewal that stalled; how many were sent."""
    sent = 0
    for state in WAITING_FOR_A_WORKER:
        for record in runtime.ledger.by_state(state):
            stall = stalled_after(runtime, record)
            if now - record.updated_at <= stall:
                continue
            # Once per stall period, even if the sync runs every minute.
            key = RESENT_KEY.format(thumbprint=record.thumbprint)
            ttl_seconds = max(int(stall.total_seconds()), 1)
            if not runtime.redis.set(key, now.isoformat(), nx=True, ex=ttl_seconds):
                continue
            renew_certificate.send(record.source, record.name, record.thumbprint)
            log.warning(
                "stalled_renewal_resent",
                certificate=record.name,
                thumbprint=record.thumbprint,
                state=str(record.state),
                idle_seconds=round((now - record.updated_at).total_seconds()),
            )
            sent += 1
    return sent
