"""The message contract between the scheduler and the workers.

Actor names, their queue and their arguments are what messages already sitting
in Redis refer to: renaming an actor or reordering its arguments orphans them.
Change this module only by adding.

Every message names one renewal by the inventory source's label, the entry's
name and the old certificate's thumbprint (the ledger key).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dramatiq
import structlog
from dramatiq.middleware import CurrentMessage

from worker.broker import QUEUE
from worker.certcentral.errors import RateLimited
from worker.installation import collect
from worker.renewal import RenewalTarget, renew
from worker.runtime import current_runtime

log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, actor_name="renew_certificate", time_limit=600_000)
def renew_certificate(source: str, name: str, thumbprint: str) -> None:
    """Order the renewal (or free reissue) of one certificate."""
    _run_step(
        lambda runtime, now: renew(
            runtime, RenewalTarget(source, name, thumbprint), now=now
        ),
        source=source,
        name=name,
        thumbprint=thumbprint,
    )


@dramatiq.actor(queue_name=QUEUE, actor_name="collect_certificate", time_limit=600_000)
def collect_certificate(source: str, name: str, thumbprint: str) -> None:
    """Download an issued certificate and install it with its pending key."""
    _run_step(
        lambda runtime, now: collect(runtime, source, name, thumbprint, now=now),
        source=source,
        name=name,
        thumbprint=thumbprint,
    )


def _run_step(
    step: Callable[..., None], *, source: str, name: str, thumbprint: str
) -> None:
    runtime = current_runtime()
    message = CurrentMessage.get_current_message()
    structlog.contextvars.bind_contextvars(
        certificate=name,
        thumbprint=thumbprint,
        message_id=message.message_id if message else None,
    )
    try:
        step(runtime, datetime.now(UTC))
    except RateLimited as error:
        # DigiCert said when to come back (or the budget did): wait that long,
        # not the generic backoff.
        if error.retry_after_seconds is not None:
            raise dramatiq.Retry(
                str(error), delay=int(error.retry_after_seconds * 1000)
            ) from error
        raise
    finally:
        structlog.contextvars.unbind_contextvars(
            "certificate", "thumbprint", "message_id"
        )
