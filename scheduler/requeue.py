"""Requeuing a failed renewal: the operator's one way back from a dead letter.

The status page's requeue button and ``certrenew dlq requeue`` both call
``requeue_renewal``, so they do the same three things in the same order:

1. the ledger moves the failed record back to claimed (a new generation, so
   the next order carries a new ``alternative_order_id``); a renewal that is
   not failed raises ``LedgerConflict`` and nothing else happens;
2. the renewal's messages leave Dramatiq's dead letters (``dramatiq:certrenew.XQ``
   and its ``.XQ.msgs`` hash), so that nobody requeues them a second time;
3. a fresh ``renew_certificate`` message goes on the queue.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from dramatiq import Message
from dramatiq.errors import DecodeError

from scheduler.metrics import DEAD_LETTER_KEY
from worker.actors import renew_certificate
from worker.ledger import RenewalRecord
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

DEAD_LETTER_MESSAGES_KEY = f"{DEAD_LETTER_KEY}.msgs"
# Where the thumbprint sits in the contract's arguments (worker/actors.py).
THUMBPRINT_ARGUMENT = 2


def requeue_renewal(
    runtime: Runtime, thumbprint: str, *, now: datetime
) -> RenewalRecord:
    """Put a failed renewal back to work; returns its record as requeued."""
    record = runtime.ledger.requeue(thumbprint, now=now)
    removed = remove_dead_letters(runtime, thumbprint)
    renew_certificate.send(record.source, record.name, record.thumbprint)
    log.info(
        "renewal_requeued",
        certificate=record.name,
        thumbprint=thumbprint,
        generation=record.generation,
        dead_letters_removed=removed,
    )
    return record


def remove_dead_letters(runtime: Runtime, thumbprint: str) -> int:
    """Delete the dead-lettered messages of one renewal; returns how many."""
    client = runtime.redis
    message_ids = [
        message_id
        for message_id, data in client.hscan_iter(DEAD_LETTER_MESSAGES_KEY)
        if _thumbprint_of(data) == thumbprint
    ]
    if not message_ids:
        return 0
    pipeline = client.pipeline(transaction=True)
    pipeline.zrem(DEAD_LETTER_KEY, *message_ids)
    pipeline.hdel(DEAD_LETTER_MESSAGES_KEY, *message_ids)
    pipeline.execute()
    return len(message_ids)


def _thumbprint_of(data: bytes) -> str | None:
    try:
        message = Message.decode(data)
    except DecodeError:  # a message we cannot read is not ours to delete
        return None
    thumbprint = message.kwargs.get("thumbprint")
    if thumbprint is None and len(message.args) > THUMBPRINT_ARGUMENT:
        thumbprint = message.args[THUMBPRINT_ARGUMENT]
    return thumbprint if isinstance(thumbprint, str) else None
