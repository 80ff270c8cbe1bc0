"""The message contract between the scheduler and the workers.

Actor names, their queue and their arguments are what messages already sitting
in Redis refer to: renaming an actor or reordering its arguments orphans them.
Change this module only by adding.

Every message names one renewal by the inventory source's label, the entry's
name and the old certificate's thumbprint (the ledger key).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dramatiq
import structlog
from dramatiq.middleware import CurrentMessage

from certrenew.errors import TransientError
from worker.broker import QUEUE
from worker.certcentral.errors import ApiKeyRejected
from worker.installation import InstallDeferred, collect
from worker.ledger import CountedAttempt, LedgerConflict
from worker.renewal import RenewalTarget, renew
from worker.runtime import Runtime, current_runtime

log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, actor_name="renew_certificate", time_limit=600_000)
def renew_certificate(source: str, name: str, thumbprint: str) -> None:
    """Order the renewal (or free reissue) of one certificate."""
    _run_step(
        lambda runtime, now, counted: renew(
            runtime, RenewalTarget(source, name, thumbprint), now=now, counted=counted
        ),
        source=source,
        name=name,
        thumbprint=thumbprint,
    )


@dramatiq.actor(queue_name=QUEUE, actor_name="collect_certificate", time_limit=600_000)
def collect_certificate(source: str, name: str, thumbprint: str) -> None:
    """Download an issued certificate and install it with its pending key."""
    _run_step(
        lambda runtime, now, counted: collect(
            runtime, source, name, thumbprint, now=now
        ),
        source=source,
        name=name,
        thumbprint=thumbprint,
    )


def _run_step(
    step: Callable[[Runtime, datetime, CountedAttempt | None], None],
    *,
    source: str,
    name: str,
    thumbprint: str,
) -> None:
    runtime = current_runtime()
    message = CurrentMessage.get_current_message()
    structlog.contextvars.bind_contextvars(
        certificate=name,
        thumbprint=thumbprint,
        message_id=message.message_id if message else None,
    )
    try:
        with runtime.renewal_lock.held(thumbprint):
            counted = _count_attempt(runtime, thumbprint)
            step(runtime, datetime.now(UTC), counted)
    except InstallDeferred as deferred:
        _collect_when_the_window_opens(source, name, thumbprint, deferred.until)
    except ApiKeyRejected as error:
        raise _pause_for_rejected_key(runtime, error) from error
    except TransientError as error:
        raise _retry_later(error) from error
    finally:
        structlog.contextvars.unbind_contextvars(
            "certificate", "thumbprint", "message_id"
        )


def _collect_when_the_window_opens(
    source: str, name: str, thumbprint: str, opens: datetime
) -> None:
    """A new collect message, delivered when the install window opens.

    Not a retry: waiting for a window is no failure, and must not use up
    the retries that a real one needs.
    """
    delay = max(opens - datetime.now(UTC), timedelta(0))
    collect_certificate.send_with_options(
        args=(source, name, thumbprint), delay=int(delay.total_seconds() * 1000)
    )


def _retry_later(error: TransientError) -> dramatiq.Retry:
    """A failure that may pass: one warning line, and Dramatiq retries it.

    Dramatiq's worker logs any other exception an actor raises as unhandled,
    with its traceback (dramatiq/worker.py, ``process_message``); a ``Retry``
    it leaves to the Retries middleware, which schedules the retry in one info
    line. A 5xx, a 429 or a timeout is expected, not a bug: its traceback
    would only bury the ones that are. (The ``throws`` actor option is no way
    out: it logs without a traceback but fails the message, never retried.)
    """
    log.warning(
        "step_retrying",
        error=type(error).__name__,
        reason=str(error),
        retry_after_seconds=error.retry_after_seconds,
    )
    # DigiCert said when to come back (Retry-After), or the rate budget or the
    # key breaker did: wait that long; otherwise the generic backoff.
    if error.retry_after_seconds is None:
        return dramatiq.Retry(str(error))
    return dramatiq.Retry(str(error), delay=int(error.retry_after_seconds * 1000))


def _pause_for_rejected_key(runtime: Runtime, error: ApiKeyRejected) -> dramatiq.Retry:
    """Trip the breaker for every worker; this message waits, it is not failed.

    The key is refused for all calls alike, so failing the message would only
    burn a renewal that will succeed once the key is fixed (issue 5).
    """
    pause_seconds = runtime.settings.retry.key_rejected_pause_seconds
    detail = error.errors[0].message if error.errors else str(error)
    runtime.key_rejection.trip(
        code=error.code or "access_denied",
        message=detail,
        pause_seconds=pause_seconds,
        now=datetime.now(UTC),
    )
    return dramatiq.Retry(str(error), delay=int(pause_seconds * 1000))


def _count_attempt(runtime: Runtime, thumbprint: str) -> CountedAttempt | None:
    """One more try at the renewal's current step, for the dead letters' "tries".

    Returns the record as counted, which the step starts from.
    """
    try:
        return runtime.ledger.count_attempt(thumbprint, now=datetime.now(UTC))
    except LedgerConflict:
        # No record yet (the step claims it) or already finished: not a try.
        return None
