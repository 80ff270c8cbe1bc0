"""Telling people at once, not days later by the expiry e-mail.

FIELD.md complaint 4: users learn of a failed renewal when the certificate is
about to expire. Each event below is recorded where the certificate's source
keeps such things (an Event on a Kubernetes Secret; nothing for files), and
with ``[notify] webhook_url`` set, certrenew POSTs one JSON document per event
(the payload is documented in README.md, "When things go wrong"):

- ``renewal_failed``: a renewal failed for good (it is in the dead letters);
- ``renewal_pending_too_long``: an order is pending past its deadline;
- ``renewal_installed`` and ``install_deferred``, only when ``[notify] events``
  asks for them: a renewed certificate went live, or waits for its install
  window.

Delivery is best effort: one POST with a short timeout and no retries. A
webhook that fails is logged and never breaks the worker or the scheduler.
The URL itself is never logged, since webhook URLs often carry a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from certrenew import __version__
from certrenew.errors import InventoryError
from certrenew.inventory import CertificateEvent
from worker.hooks import HookResult
from worker.ledger import RenewalRecord
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

RENEWAL_FAILED = "renewal_failed"
RENEWAL_PENDING_TOO_LONG = "renewal_pending_too_long"
RENEWAL_INSTALLED = "renewal_installed"
INSTALL_DEFERRED = "install_deferred"


def renewal_event(
    event: str,
    record: RenewalRecord,
    *,
    labels: Mapping[str, str],
    now: datetime,
) -> dict[str, Any]:
    """The JSON document sent for ``event`` about one renewal."""
    return {
        "event": event,
        "certificate": record.name,
        "source": record.source,
        "thumbprint": record.thumbprint,
        "labels": dict(labels),
        "state": str(record.state),
        "action": record.action,
        "order_id": record.order_id,
        "order_status": record.order_status,
        "alternative_order_id": record.alternative_order_id,
        "failure_code": record.failure_code,
        "failure_message": record.failure_message,
        "attempts": record.attempts,
        "submitted_at": _iso(record.submitted_at),
        "failed_at": _iso(record.failed_at),
        "install_after": _iso(record.install_after),
        "new_thumbprint": record.new_thumbprint,
        "new_not_after": _iso(record.new_not_after),
        "installed_at": _iso(record.installed_at),
        "sent_at": now.isoformat(),
        "certrenew_version": __version__,
    }


def notify_failed(runtime: Runtime, record: RenewalRecord, *, now: datetime) -> None:
    """Send ``renewal_failed`` for a record the ledger has just failed."""
    _record_event(
        runtime,
        record,
        CertificateEvent(
            "RenewalFailed",
            f"The renewal failed for good ({record.failure_code}): "
            f"{record.failure_message}. It waits in the dead letters: "
            f"certrenew dlq show {record.thumbprint[:12]}",
            warning=True,
        ),
    )
    _notify(runtime, RENEWAL_FAILED, record, now=now)


def notify_pending_too_long(
    runtime: Runtime, record: RenewalRecord, *, now: datetime
) -> None:
    """Send ``renewal_pending_too_long`` for an order pending past its deadline."""
    since = _iso(record.submitted_at) or "its submission"
    _record_event(
        runtime,
        record,
        CertificateEvent(
            "RenewalPendingTooLong",
            f"DigiCert order {record.order_id} has been pending since {since}, "
            "past the pending deadline; certrenew keeps following it",
            warning=True,
        ),
    )
    _notify(runtime, RENEWAL_PENDING_TOO_LONG, record, now=now)


def notify_installed(runtime: Runtime, record: RenewalRecord, *, now: datetime) -> None:
    """Send ``renewal_installed``, if asked for, for a renewal just installed."""
    _record_event(
        runtime,
        record,
        CertificateEvent(
            "Renewed",
            f"Installed the renewed certificate {record.new_thumbprint}, valid "
            f"until {_shown(record.new_not_after, '%Y-%m-%d')}: {record.action} of "
            "DigiCert "
            f"order {record.order_id}",
        ),
    )
    _notify(runtime, RENEWAL_INSTALLED, record, now=now)


def notify_install_deferred(
    runtime: Runtime, record: RenewalRecord, *, now: datetime
) -> None:
    """Send ``install_deferred``, if asked for: it waits for its install window."""
    opens = _shown(record.install_after, "%Y-%m-%d %H:%M UTC")
    _record_event(
        runtime,
        record,
        CertificateEvent(
            "InstallDeferred",
            f"DigiCert issued the renewed certificate (order {record.order_id}); "
            "installing it waits for the install window opening "
            f"{opens}",
        ),
    )
    _notify(runtime, INSTALL_DEFERRED, record, now=now)


def notify_post_install_failed(
    runtime: Runtime, record: RenewalRecord, result: HookResult
) -> None:
    """The new pair is live but its post-install command failed: an event only
    (the log has the command's output; the webhook has no such event)."""
    if result.timed_out:
        ended = "timed out; its output is in the log"
    elif result.exit_code is None:
        ended = f"could not start: {result.error}"
    else:
        ended = f"exited with status {result.exit_code}; its output is in the log"
    _record_event(
        runtime,
        record,
        CertificateEvent(
            "PostInstallCommandFailed",
            f"The renewed certificate {record.new_thumbprint} is installed, but "
            f"the post-install command {ended}",
            warning=True,
        ),
    )


def post_event(
    url: str, document: Mapping[str, Any], *, timeout_seconds: float
) -> bool:
    """POST one document; True when the receiver answered 2xx. Never raises."""
    target = _safe_target(url)
    try:
        answer = httpx.post(url, json=dict(document), timeout=timeout_seconds)
    except httpx.HTTPError as error:
        log.warning(
            "webhook_failed",
            webhook=target,
            notify_event=document.get("event"),
            error=type(error).__name__,
        )
        return False
    if not answer.is_success:
        log.warning(
            "webhook_refused",
            webhook=target,
            notify_event=document.get("event"),
            status=answer.status_code,
        )
        return False
    log.info("webhook_sent", webhook=target, notify_event=document.get("event"))
    return True


def _notify(
    runtime: Runtime, event: str, record: RenewalRecord, *, now: datetime
) -> None:
    url = runtime.settings.notify.webhook_url
    if not url or event not in runtime.settings.notify.events:
        return
    document = renewal_event(event, record, labels=_labels(runtime, record), now=now)
    post_event(url, document, timeout_seconds=runtime.settings.notify.timeout_seconds)


def _record_event(
    runtime: Runtime, record: RenewalRecord, event: CertificateEvent
) -> None:
    try:
        source = runtime.source(record.source)
    except InventoryError as error:
        # The source left the configuration since the claim: nowhere to tell.
        log.warning("certificate_event_not_recorded", error=str(error))
        return
    source.record_event(record.name, event)


def _labels(runtime: Runtime, record: RenewalRecord) -> Mapping[str, str]:
    """The entry's labels (team, ...), which route the alert to its owners."""
    try:
        return runtime.source(record.source).load(record.name).labels
    except Exception:
        # A notification must not fail on an entry that cannot be read (it
        # may be why the renewal failed): fall back to the configured labels.
        override = runtime.settings.overrides.get(record.name)
        return override.labels if override is not None else {}


def _safe_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def _shown(moment: datetime | None, form: str) -> str:
    return "?" if moment is None else moment.strftime(form)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
