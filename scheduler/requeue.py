"""Putting a failed renewal back to work: one function for every way to ask.

`certrenew dlq requeue` and the status page's requeue button both call
``requeue_renewal``. A requeue can never produce a second order: the ledger
gives the renewal a new generation (a new ``alternative_order_id``) and keeps
the earlier ids, which the worker looks up before it posts (worker/renewal.py).

Dramatiq keeps a dead message in ``dramatiq:certrenew.XQ`` (a sorted set of
message ids, scored by when they died) and ``dramatiq:certrenew.XQ.msgs`` (a
hash of id to the JSON message, whose args are [source, name, thumbprint]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis
import structlog

from worker.actors import renew_certificate
from worker.broker import NAMESPACE, QUEUE
from worker.ledger import RenewalRecord
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

DEAD_LETTERS_KEY = f"{NAMESPACE}:{QUEUE}.XQ"
DEAD_MESSAGES_KEY = f"{DEAD_LETTERS_KEY}.msgs"


@dataclass(frozen=True)
class DeadMessage:
    """One message in Dramatiq's dead-letter queue."""

    message_id: str
    actor_name: str
    source: str
    name: str
    thumbprint: str
    retries: int
    died_at: datetime


def dead_messages(client: redis.Redis) -> list[DeadMessage]:
    """Every dead-lettered certrenew message, oldest first."""
    scored = cast(
        "list[tuple[bytes, float]]",
        client.zrange(DEAD_LETTERS_KEY, 0, -1, withscores=True),
    )
    if not scored:
        return []
    ids = [_text(message_id) for message_id, _ in scored]
    bodies = client.hmget(DEAD_MESSAGES_KEY, ids)
    found = []
    for (message_id, score), body in zip(scored, bodies, strict=True):
        if body is None:
            continue
        message = _parse(_text(message_id), float(score), json.loads(body))
        if message is not None:
            found.append(message)
    return found


def drop_dead_messages(client: redis.Redis, message_ids: list[str]) -> int:
    """Remove these messages from the dead letters; returns how many were there."""
    if not message_ids:
        return 0
    pipeline = client.pipeline(transaction=True)
    pipeline.zrem(DEAD_LETTERS_KEY, *message_ids)
    pipeline.hdel(DEAD_MESSAGES_KEY, *message_ids)
    removed, _ = pipeline.execute()
    return int(removed)


def requeue_renewal(
    runtime: Runtime, thumbprint: str, *, now: datetime
) -> RenewalRecord:
    """Requeue a failed renewal: new generation, no dead letter, a fresh message.

    Raises ``LedgerConflict`` when the renewal is not failed (nothing changes).
    """
    record = runtime.ledger.requeue(thumbprint, now=now)
    dropped = drop_dead_messages(
        runtime.redis,
        [
            m.message_id
            for m in dead_messages(runtime.redis)
            if m.thumbprint == thumbprint
        ],
    )
    try:
        renew_certificate.send(record.source, record.name, record.thumbprint)
    except Exception as error:
        # Without its message the renewal would sit claimed for good: fail it
        # again, so that it shows up and can be requeued once more.
        runtime.ledger.record_failed(
            thumbprint,
            code="requeue_failed",
            message=f"requeued, but its message could not be sent: {error}",
            now=now,
        )
        raise
    log.info(
        "renewal_requeued",
        certificate=record.name,
        thumbprint=thumbprint,
        generation=record.generation,
        dead_letters_dropped=dropped,
    )
    return record


def _parse(message_id: str, score: float, body: Any) -> DeadMessage | None:
    args = body.get("args") if isinstance(body, dict) else None
    if not isinstance(args, list) or len(args) < 3:
        return None
    options = body.get("options") or {}
    return DeadMessage(
        message_id=message_id,
        actor_name=str(body.get("actor_name", "")),
        source=str(args[0]),
        name=str(args[1]),
        thumbprint=str(args[2]),
        retries=int(options.get("retries", 0)),
        # Dramatiq scores dead letters by the time they died, in milliseconds.
        died_at=datetime.fromtimestamp(score / 1000, UTC),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
