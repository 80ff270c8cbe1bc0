"""Collecting and installing what DigiCert issued: DESIGN.md step 7.

Nothing is installed unless the leaf carries the pending key and the names that
were ordered; then the live certificate and key are replaced together, the
previous pair is kept, and the post-install command (if any) is told what
changed. A certificate with install windows waits for the next one to open
(certrenew/install_windows.py), unless it would expire first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certrenew.errors import PermanentError, TransientError
from certrenew.inventory import Entry, Installed
from certrenew.metrics.work import count_installed
from worker.collect import IssuedCertificate, verify_issued_chain
from worker.hooks import hook_environment, run_post_install_command
from worker.keys import PrivateKey
from worker.ledger import RenewalRecord
from worker.notify import (
    notify_install_deferred,
    notify_installed,
    notify_post_install_failed,
)
from worker.payload import ordered_names
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

# A certificate is installed outside its windows rather than have less than
# this left when the next window opens: a reload at a busy hour costs less
# than an expired certificate.
WINDOW_EXPIRY_MARGIN = timedelta(days=2)


class InstallDeferred(Exception):
    """The issued certificate waits for its install window, which opens ``until``.

    Raised to the actor, which sends the collection again for that moment.
    """

    def __init__(self, until: datetime) -> None:
        super().__init__(f"installing waits for the window opening {until}")
        self.until = until


@dataclass(frozen=True)
class WindowCheck:
    """Whether a certificate issued at some moment may be installed then."""

    # None: a window is open (or the certificate has none).
    next_opening: datetime | None
    # The certificate would have under WINDOW_EXPIRY_MARGIN left by then, so
    # it is installed at once all the same.
    expires_first: bool = False

    @property
    def waits_until(self) -> datetime | None:
        return None if self.expires_first else self.next_opening


def check_install_window(entry: Entry, *, now: datetime) -> WindowCheck:
    """Pure: may ``entry``'s renewed certificate be installed at ``now``?"""
    opens = entry.policy.install_schedule().next_opening(now)
    if opens is None:
        return WindowCheck(next_opening=None)
    expires_first = opens > entry.facts.not_after - WINDOW_EXPIRY_MARGIN
    return WindowCheck(next_opening=opens, expires_first=expires_first)


def hold_for_install_window(
    runtime: Runtime, entry: Entry, thumbprint: str, *, now: datetime
) -> None:
    """Raise InstallDeferred while the certificate's install windows are closed.

    The ledger keeps when the window opens: the status shows it, and the
    stalled-message look waits for it before sending anything again.
    """
    window = check_install_window(entry, now=now)
    opens = window.waits_until
    if window.expires_first and window.next_opening is not None:
        log.warning(
            "install_window_overridden",
            window_opens=window.next_opening.isoformat(),
            not_after=entry.facts.not_after.isoformat(),
        )
    if opens is None:
        return
    record = runtime.ledger.record_install_deferred(thumbprint, until=opens, now=now)
    log.info("install_deferred", window_opens=opens.isoformat())
    notify_install_deferred(runtime, record, now=now)
    raise InstallDeferred(opens)


def collect(
    runtime: Runtime, source_label: str, name: str, thumbprint: str, *, now: datetime
) -> None:
    """Download the issued certificate of a submitted renewal and install it."""
    record = runtime.ledger.get(thumbprint)
    if record is None or record.order_id is None:
        raise PermanentError(
            f"no submitted order is recorded for renewal {thumbprint} ({name}); "
            "nothing to collect",
            code="nothing_to_collect",
        )
    if record.state in {"installed", "failed"}:
        log.info("collection_skipped", state=record.state)
        return

    source = runtime.source(source_label)
    entry = source.load(name)
    if entry.facts.thumbprint == thumbprint:
        # Before the download: a certificate that must wait costs no call.
        hold_for_install_window(runtime, entry, thumbprint, now=now)
    certificate_id = record.certificate_id
    if certificate_id is None or record.state == "submitted":
        # A reissue keeps the order but changes its certificate: ask for the
        # current one rather than trusting an id seen before issuance.
        certificate_id = runtime.client.order_info(record.order_id).certificate.id
    if certificate_id is None:
        raise TransientError(
            f"order {record.order_id} has no certificate yet; collecting later"
        )
    chain_pem = runtime.client.download_chain(certificate_id)
    runtime.ledger.record_issued(thumbprint, certificate_id=certificate_id, now=now)

    if entry.facts.thumbprint != thumbprint:
        _finish_interrupted_install(runtime, entry, thumbprint, chain_pem, now=now)
        return

    key_pem = source.load_pending_key(name)
    if key_pem is None:
        raise PermanentError(
            f"the pending key of {name} is missing, so the certificate of order "
            f"{record.order_id} cannot be installed; renew it again",
            code="pending_key_missing",
        )
    install_issued(runtime, entry, chain_pem, key_pem, now=now)


def install_issued(
    runtime: Runtime,
    entry: Entry,
    chain_pem: bytes,
    key_pem: bytes,
    *,
    now: datetime,
    key: PrivateKey | None = None,
) -> IssuedCertificate:
    """Check the issued chain against what was ordered, then install it.

    ``key`` is ``key_pem`` already loaded, if the caller holds it.
    """
    common_name, other_names = ordered_names(entry.facts)
    issued = verify_issued_chain(
        chain_pem,
        pending_key_pem=key_pem,
        pending_key=key,
        common_name=common_name,
        dns_names=other_names,
    )
    source = runtime.source(entry.source)
    installed = source.install(entry.name, issued.chain_pem, key_pem)
    record = runtime.ledger.record_installed(
        entry.facts.thumbprint,
        new_thumbprint=issued.thumbprint,
        not_after=issued.not_after,
        location=installed.certificate_location,
        now=now,
    )
    count_installed(record.action, due_at=record.due_at, now=now)
    notify_installed(runtime, record, now=now)
    log.info(
        "certificate_installed",
        new_thumbprint=issued.thumbprint,
        not_after=issued.not_after.isoformat(),
        location=installed.certificate_location,
    )
    _run_hook(runtime, entry, record, issued, installed)
    return issued


def _finish_interrupted_install(
    runtime: Runtime, entry: Entry, thumbprint: str, chain_pem: bytes, *, now: datetime
) -> None:
    """The live certificate already changed: find out whether we installed it.

    A worker that died between installing and recording leaves the new pair in
    place; recording it is all that remains. Anything else is someone else's
    certificate, and installing over it would lose their change.
    """
    issued_thumbprint = _leaf_thumbprint(chain_pem)
    if entry.facts.thumbprint == issued_thumbprint:
        record = runtime.ledger.record_installed(
            thumbprint,
            new_thumbprint=issued_thumbprint,
            not_after=entry.facts.not_after,
            location=entry.location,
            now=now,
        )
        count_installed(record.action, due_at=record.due_at, now=now)
        log.info("interrupted_install_recorded", new_thumbprint=issued_thumbprint)
        return
    raise PermanentError(
        f"certificate {entry.name} was replaced by another one "
        f"({entry.facts.thumbprint}) while its renewal was in flight; the issued "
        f"certificate {issued_thumbprint} was not installed",
        code="certificate_changed",
    )


def _leaf_thumbprint(chain_pem: bytes) -> str:
    leaf = x509.load_pem_x509_certificates(chain_pem.replace(b"\r\n", b"\n"))[0]
    return leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - DigiCert's thumbprint is SHA-1 by definition


def _run_hook(
    runtime: Runtime,
    entry: Entry,
    record: RenewalRecord,
    issued: IssuedCertificate,
    installed: Installed,
) -> None:
    command = runtime.settings.install.post_install_command
    if not command:
        return
    result = run_post_install_command(
        command,
        environment=hook_environment(
            name=entry.name,
            cert_path=installed.certificate_location,
            key_path=installed.key_location,
            common_name=entry.facts.common_name or "",
            dns_names=entry.facts.dns_names,
            old_thumbprint=entry.facts.thumbprint,
            new_thumbprint=issued.thumbprint,
            order_id=record.order_id or "",
            not_after=issued.not_after,
        ),
        timeout_seconds=runtime.settings.install.post_install_timeout_seconds,
    )
    if result.succeeded:
        log.info("post_install_command_ran", exit_code=result.exit_code)
    else:
        # The new pair stays installed: undoing it would bring back a
        # certificate about to expire. The operator must look at the hook.
        log.error(
            "post_install_command_failed",
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            error=result.error,
            output_tail=result.output_tail,
        )
        notify_post_install_failed(runtime, record, result)
