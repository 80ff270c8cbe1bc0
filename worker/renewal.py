"""Renewing one certificate: DESIGN.md steps 4 and 5.

The ledger record, keyed by the old thumbprint, is read before every step and
written after it, so that a redelivered message, a retry after a crash or a
second worker picks up where the last one stopped and never orders twice:

    claimed ─► key_stored ─► submitting ─► submitted ─► issued ─► installed
                                  │  (intent and alternative_order_id
                                  │   recorded before the POST)
                                  └─► after an unknown outcome: look the order
                                      up by alternative_order_id, adopt it
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from certrenew.errors import PermanentError, TransientError
from certrenew.inventory import Entry, InventorySource
from certrenew.metrics.work import count_order_submitted
from worker.certcentral.models import AlternateOrder, OrderCreated, OrderInfo
from worker.decision import Action, choose_action
from worker.installation import collect, hold_for_install_window, install_issued
from worker.keys import (
    PrivateKey,
    build_csr,
    generate_private_key,
    load_private_key,
    private_key_pem,
)
from worker.ledger import CountedAttempt, RenewalRecord, alternative_order_id
from worker.payload import (
    build_order_payload,
    build_reissue_payload,
    check_order_payload,
    check_reissue_payload,
    ordered_names,
)
from worker.runtime import Runtime
from worker.validity import certificate_validity_days

log = structlog.get_logger(__name__)

# Slack on top of two scan intervals for the first scans of a new ledger.
LEDGER_RECLAIM_MARGIN = timedelta(hours=1)
# Ledger states in which the order is placed and only collection remains.
ORDERED_STATES = frozenset({"submitted", "issued"})
FINISHED_STATES = frozenset({"installed", "failed"})


@dataclass(frozen=True)
class RenewalTarget:
    source_label: str
    name: str
    thumbprint: str


def renew(
    runtime: Runtime,
    target: RenewalTarget,
    *,
    now: datetime,
    counted: CountedAttempt | None = None,
) -> None:
    """Order the replacement of one certificate, at most once.

    ``counted`` is the step's start as the actor counted it (the record and
    the ledger's start, read in one round trip); without it both are read.
    """
    record, ledger_began_at = _record_or_claim(runtime, target, counted, now=now)
    if record.state == "issued":
        # Issued with the answer, but the install did not finish (a worker
        # killed, Redis away while it recorded): nothing else would collect
        # it, since the status sync follows only submitted orders.
        log.info("renewal_finishing_install")
        collect(runtime, target.source_label, target.name, target.thumbprint, now=now)
        return
    if record.state in FINISHED_STATES or record.state in ORDERED_STATES:
        log.info("renewal_already_past_ordering", state=record.state)
        return

    source = runtime.source(target.source_label)
    entry = source.load(target.name)
    if entry.facts.thumbprint != target.thumbprint:
        raise PermanentError(
            f"certificate {target.name} changed since its renewal was claimed: "
            f"expected thumbprint {target.thumbprint}, found "
            f"{entry.facts.thumbprint}; nothing was ordered",
            code="certificate_changed",
        )

    try:
        _order(runtime, source, entry, record, ledger_began_at, now=now)
    except TransientError as error:
        _give_up_near_expiry(runtime, entry, error, now=now)
        raise


def _record_or_claim(
    runtime: Runtime,
    target: RenewalTarget,
    counted: CountedAttempt | None,
    *,
    now: datetime,
) -> tuple[RenewalRecord, datetime | None]:
    """The renewal's record and when the ledger began."""
    if counted is not None:
        return counted.record, counted.ledger_began_at
    record = runtime.ledger.get(target.thumbprint)
    if record is not None:
        return record, runtime.ledger.began_at()

    # A message sent by hand (`certrenew renew NAME`) or a ledger that lost the
    # claim: claim it now, so the rest of the path is the same.
    runtime.ledger.claim(
        target.thumbprint,
        name=target.name,
        source=target.source_label,
        due_at=now,
        now=now,
    )
    claimed = runtime.ledger.get(target.thumbprint)
    if claimed is None:
        raise TransientError(f"the ledger lost the claim of {target.thumbprint}")
    return claimed, runtime.ledger.began_at()


@dataclass(frozen=True)
class Attempt:
    """One attempt at ordering: what it works on, decided once up front."""

    runtime: Runtime
    entry: Entry
    record: RenewalRecord
    ledger_began_at: datetime | None
    order: OrderInfo
    csr_pem: str
    validity_days: int
    now: datetime


def _order(
    runtime: Runtime,
    source: InventorySource,
    entry: Entry,
    record: RenewalRecord,
    ledger_began_at: datetime | None,
    *,
    now: datetime,
) -> None:
    key_pem, key = _pending_key(runtime, source, entry, record, now=now)
    common_name, other_names = ordered_names(entry.facts)
    csr_pem = build_csr(
        key,
        common_name=common_name,
        dns_names=other_names,
        signature_hash=entry.order.signature_hash,
    )

    order = runtime.client.order_info(entry.facts.thumbprint)
    if order.status == "reissue_pending" and record.state != "submitting":
        # DigiCert (auto_reissue) or a person is reissuing this order already;
        # a renewal order now would be paid for twice.
        raise TransientError(
            f"order {order.id} is being reissued outside certrenew; waiting for it"
        )
    action, validity_days = choose_renewal(entry, order, now=now)
    log.info(
        "renewal_action_chosen",
        action=action.kind,
        reason=action.reason,
        order_id=order.id,
    )

    attempt = Attempt(
        runtime, entry, record, ledger_began_at, order, csr_pem, validity_days, now
    )
    created = _reissue(attempt) if action.kind == "reissue" else _renew(attempt)
    if created is not None and created.chain_pem is not None:
        # Issued at once (organization and domains already validated): the
        # chain came with the answer, so no download and no wait, unless the
        # install window is closed (then it is downloaded when it opens).
        hold_for_install_window(runtime, entry, entry.facts.thumbprint, now=now)
        install_issued(runtime, entry, created.chain_pem, key_pem, now=now, key=key)


def choose_renewal(
    entry: Entry, order: OrderInfo, *, now: datetime
) -> tuple[Action, int]:
    """Reissue or renew, and for how many days the new certificate asks."""
    unbounded_days = certificate_validity_days(
        entry.order.cert_validity_days, now, None
    )
    action = choose_action(
        is_multi_year_plan=order.is_multi_year_plan,
        order_valid_till=order.order_valid_till,
        order_status=order.status,
        now=now,
        validity_days=unbounded_days,
    )
    if action.kind == "renew":
        return action, unbounded_days
    # A reissued certificate ends with its plan at the latest.
    days = certificate_validity_days(
        entry.order.cert_validity_days, now, order.order_valid_till
    )
    return action, days


def _pending_key(
    runtime: Runtime,
    source: InventorySource,
    entry: Entry,
    record: RenewalRecord,
    *,
    now: datetime,
) -> tuple[bytes, PrivateKey]:
    """The renewal's new key, stored durably before any CSR carrying it leaves.

    A pending key already stored is kept, whatever the ledger says: its CSR may
    have reached DigiCert in an order the ledger has forgotten (a lost ledger,
    an earlier generation), and only that key can install what it issues.

    Returns the key as stored (PEM) and loaded. A new key is not read back
    from its PEM: for RSA that check costs as much as making the key.
    """
    stored = source.load_pending_key(entry.name)
    if stored is not None and record.state != "claimed":
        return stored, load_private_key(stored)
    if stored is not None:
        key_pem, key = stored, load_private_key(stored)
        log.info("pending_key_kept")
    else:
        key = generate_private_key(
            entry.order.key,
            like_type=entry.facts.key_type,
            like_size=entry.facts.key_size,
        )
        key_pem = private_key_pem(key)
    location = source.store_pending_key(entry.name, key_pem)
    runtime.ledger.record_key_stored(
        entry.facts.thumbprint, key_location=location, now=now
    )
    return key_pem, key


def _renew(attempt: Attempt) -> OrderCreated | None:
    runtime, record, now = attempt.runtime, attempt.record, attempt.now
    alternative_id = alternative_order_id(record.thumbprint, record.generation)
    payload = build_order_payload(
        attempt.entry,
        csr_pem=attempt.csr_pem,
        alternative_order_id=alternative_id,
        validity_days=attempt.validity_days,
        renewal_of_order_id=attempt.order.id,
        previous_organization_id=attempt.order.organization_id,
    )
    check_order_payload(payload, now=now)

    if _must_look_before_ordering(runtime, record, attempt.ledger_began_at):
        adopted = _adopt_existing_order(runtime, record, alternative_id, now=now)
        if adopted:
            return None

    runtime.ledger.record_intent(
        record.thumbprint,
        action="renew",
        alternative_order_id=alternative_id,
        now=now,
    )
    created = runtime.client.order_certificate(attempt.entry.order.product, payload)
    count_order_submitted("renew")
    _record_created(runtime, record, created, now=now)
    return created


def _reissue(attempt: Attempt) -> OrderCreated | None:
    runtime, record, order, now = (
        attempt.runtime,
        attempt.record,
        attempt.order,
        attempt.now,
    )
    payload = build_reissue_payload(
        attempt.entry, csr_pem=attempt.csr_pem, validity_days=attempt.validity_days
    )
    check_reissue_payload(payload, now=now)

    if record.state == "submitting" and order.status != "issued":
        # The earlier attempt reached DigiCert: the order is already being
        # reissued. Follow it instead of asking twice.
        runtime.ledger.record_submitted(
            record.thumbprint,
            order_id=order.id,
            request_ids=[],
            order_status=order.status,
            certificate_id=None,
            now=now,
        )
        return None

    runtime.ledger.record_intent(
        record.thumbprint,
        action="reissue",
        alternative_order_id="",
        now=now,
    )
    created = runtime.client.reissue(order.id, payload)
    count_order_submitted("reissue")
    _record_created(runtime, record, created, now=now)
    return created


def _must_look_before_ordering(
    runtime: Runtime, record: RenewalRecord, ledger_began_at: datetime | None
) -> bool:
    """Whether an order for this renewal may already exist at DigiCert.

    After a POST whose outcome is unknown the ledger says ``submitting``. A
    requeued renewal keeps the alternative ids of its earlier generations: an
    order posted under one of them may exist although the ledger never heard
    of it. In the embedded mode the ledger does not outlive the process, so
    every first order is checked too: that is the guard against a twin after
    a restart. A Redis ledger that lost its data begins anew; renewals claimed
    soon after it began may have been ordered before the loss, so they are
    checked as well (on a new installation, that costs one lookup each for
    the first claims).
    """
    return (
        record.state == "submitting"
        or bool(record.previous_alternative_order_ids)
        or runtime.embedded
        or _claimed_soon_after_the_ledger_began(runtime, record, ledger_began_at)
    )


def _claimed_soon_after_the_ledger_began(
    runtime: Runtime, record: RenewalRecord, began_at: datetime | None
) -> bool:
    if began_at is None:
        return True
    # Renewals in flight when the data was lost are claimed again by the first
    # scans of the new ledger.
    window = timedelta(seconds=2 * runtime.settings.scheduler.scan_interval_seconds)
    return record.claimed_at - began_at <= window + LEDGER_RECLAIM_MARGIN


def _adopt_existing_order(
    runtime: Runtime, record: RenewalRecord, alternative_id: str, *, now: datetime
) -> bool:
    """Adopt an order already placed for this renewal, under any of its ids."""
    looked_up = [alternative_id, *reversed(record.previous_alternative_order_ids)]
    for each_id in dict.fromkeys(looked_up):
        existing = [
            found
            for found in runtime.client.find_by_alternative_order_id(each_id)
            if found.status not in {"rejected", "canceled"}
        ]
        if existing:
            _adopt(runtime, record, alternative_id, each_id, existing[0], now=now)
            return True
    return False


def _adopt(
    runtime: Runtime,
    record: RenewalRecord,
    alternative_id: str,
    found_under: str,
    adopted: AlternateOrder,
    *,
    now: datetime,
) -> None:
    log.warning(
        "order_adopted",
        order_id=adopted.order_id,
        alternative_order_id=found_under,
        status=adopted.status,
    )
    if record.state != "submitting":
        # A requeued (or embedded) renewal adopts before it has posted: record
        # the intent first, the ledger moves to submitted only from there.
        runtime.ledger.record_intent(
            record.thumbprint,
            action="renew",
            alternative_order_id=alternative_id,
            now=now,
        )
    runtime.ledger.record_submitted(
        record.thumbprint,
        order_id=adopted.order_id,
        request_ids=[],
        order_status=adopted.status,
        certificate_id=adopted.certificate_id,
        now=now,
    )


def _record_created(
    runtime: Runtime, record: RenewalRecord, created: OrderCreated, *, now: datetime
) -> None:
    # The request's own status says whether it was approved; the order is
    # pending until DigiCert has validated and issued it.
    status = "issued" if created.chain_pem is not None else "pending"
    if created.chain_pem is not None and created.certificate_id is not None:
        runtime.ledger.record_issued_at_once(
            record.thumbprint,
            order_id=created.id,
            request_ids=list(created.request_ids),
            certificate_id=created.certificate_id,
            now=now,
        )
    else:
        runtime.ledger.record_submitted(
            record.thumbprint,
            order_id=created.id,
            request_ids=list(created.request_ids),
            order_status=status,
            certificate_id=created.certificate_id,
            now=now,
        )
    log.info("order_submitted", order_id=created.id, status=status)


def _give_up_near_expiry(
    runtime: Runtime, entry: Entry, error: TransientError, *, now: datetime
) -> None:
    """Stop retrying once the certificate is too close to expiry to wait.

    By then the expiry alerts have fired; an operator must look, and a renewal
    that keeps retrying quietly would only hide the problem.
    """
    give_up_at = entry.facts.not_after - timedelta(
        days=runtime.settings.retry.give_up_days_before_expiry
    )
    if now < give_up_at:
        return
    raise PermanentError(
        f"gave up retrying: the certificate expires {entry.facts.not_after:%Y-%m-%d}"
        f" and the last attempt failed: {error}",
        code="gave_up_near_expiry",
    ) from error
