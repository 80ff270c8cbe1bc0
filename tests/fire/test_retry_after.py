"""A 429 that says when to come back is honoured, not the generic backoff."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.fire.test_classification import embedded_runtime, seed, send_renewal, working
from tests.support.checks import set_faults
from tests.support.processes import wait_until
from tests.support.sandbox import running_sandbox

DELAYED_MESSAGES = "dramatiq:certrenew.DQ.msgs"
RETRY_AFTER_SECONDS = 30


def test_a_429_with_retry_after_puts_the_renewal_off_that_long(tmp_path: Path) -> None:
    with running_sandbox() as sandbox:
        thumbprint = seed(sandbox, tmp_path, "patient")
        set_faults(
            sandbox, storm_429_requests=1, retry_after_seconds=RETRY_AFTER_SECONDS
        )
        runtime = embedded_runtime(sandbox, tmp_path)
        with working(runtime):
            sent_at_ms = time.time() * 1000
            send_renewal(runtime, tmp_path, "patient", thumbprint)
            wait_until(
                lambda: runtime.redis.hlen(DELAYED_MESSAGES) == 1,
                timeout_seconds=30,
                what="the renewal to be put off after the 429",
            )
            (raw,) = runtime.redis.hvals(DELAYED_MESSAGES)
            message = json.loads(raw)
            record = runtime.ledger.get(thumbprint)

    # The generic backoff here is 0.05 to 0.2 s; only Retry-After explains 30 s.
    eta_ms = message["options"]["eta"]
    assert eta_ms - sent_at_ms >= (RETRY_AFTER_SECONDS - 2) * 1000
    assert record is not None
    assert record.order_id is None
