"""Every renewal that fails for good ends as a failed record in the ledger.

Dramatiq moves a message that will not be retried to its dead-letter queue,
where it expires after a week. This middleware runs after Dramatiq's retry
decision and writes the failure into the ledger, which keeps it until an
operator requeues or purges it: certificate, what was attempted, DigiCert's
answer, when, and how many tries it took.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from dramatiq import Broker
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from certrenew.errors import PermanentError
from certrenew.metrics.work import count_failed
from worker.ledger import LedgerConflict
from worker.notify import notify_failed
from worker.runtime import current_runtime

log = structlog.get_logger(__name__)


def failure_code(error: BaseException) -> str:
    """DigiCert's error code where there is one, else the kind of failure."""
    if isinstance(error, PermanentError) and error.code:
        return error.code
    return type(error).__name__


class RecordFailures(Middleware):
    """Writes dead-lettered renewals into the ledger as failed, with the reason."""

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        thumbprint = message.kwargs.get("thumbprint") or message.args[2]
        runtime = current_runtime()
        now = datetime.now(UTC)
        try:
            record = runtime.ledger.record_failed(
                thumbprint,
                code=failure_code(exception),
                message=str(exception),
                now=now,
            )
        except LedgerConflict:
            # Already installed or failed: a late duplicate changes nothing.
            return
        count_failed(record.action)
        log.error(
            "renewal_failed",
            certificate=message.args[1] if len(message.args) > 1 else None,
            thumbprint=thumbprint,
            code=failure_code(exception),
            reason=str(exception),
            retries=message.options.get("retries", 0),
        )
        notify_failed(runtime, record, now=now)
