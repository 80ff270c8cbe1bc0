"""Renewals asked for by an operator: queued by hand, or rehearsed (dry run).

A dry run goes through the same decisions as a real renewal (order lookup,
renew or reissue, validity, payload and its local checks) with a key that is
thrown away, and posts nothing: no order, no pending key, no ledger record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from certrenew.errors import CertrenewError
from certrenew.inventory import Entry
from scheduler.policy import renewal_due
from worker.actors import renew_certificate
from worker.installation import WINDOW_EXPIRY_MARGIN, check_install_window
from worker.keys import build_csr, generate_private_key
from worker.ledger import alternative_order_id
from worker.payload import (
    build_order_payload,
    build_reissue_payload,
    check_order_payload,
    check_reissue_payload,
    ordered_names,
)
from worker.renewal import choose_renewal
from worker.runtime import Runtime


@dataclass(frozen=True)
class RenewalPlan:
    name: str
    thumbprint: str
    due: bool
    reason: str
    action: str | None = None
    order_id: int | None = None
    product: str | None = None
    validity_days: int | None = None
    # When what DigiCert issues would be installed (install windows).
    install: str | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Queued:
    name: str
    thumbprint: str | None
    queued: bool
    problem: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_renewals(
    runtime: Runtime, *, names: list[str], due_only: bool, now: datetime
) -> list[RenewalPlan]:
    """What a renewal of each selected certificate would order; posts nothing."""
    plans = []
    for entry in _selected(runtime, names=names, due_only=due_only, now=now):
        due = renewal_due(entry.facts, entry.policy, now)
        try:
            plans.append(_plan(runtime, entry, due.is_due, due.reason, now=now))
        except CertrenewError as error:
            plans.append(
                RenewalPlan(
                    name=entry.name,
                    thumbprint=entry.facts.thumbprint,
                    due=due.is_due,
                    reason=due.reason,
                    problem=str(error),
                )
            )
    plans.extend(_missing(runtime, names))
    return plans


def _plan(
    runtime: Runtime, entry: Entry, is_due: bool, reason: str, *, now: datetime
) -> RenewalPlan:
    order = runtime.client.order_info(entry.facts.thumbprint)
    action, validity_days = choose_renewal(entry, order, now=now)
    throwaway_key = generate_private_key(
        entry.order.key, like_type=entry.facts.key_type, like_size=entry.facts.key_size
    )
    common_name, other_names = ordered_names(entry.facts)
    csr_pem = build_csr(
        throwaway_key,
        common_name=common_name,
        dns_names=other_names,
        signature_hash=entry.order.signature_hash,
    )
    if action.kind == "reissue":
        check_reissue_payload(
            build_reissue_payload(entry, csr_pem=csr_pem, validity_days=validity_days),
            now=now,
        )
    else:
        payload = build_order_payload(
            entry,
            csr_pem=csr_pem,
            alternative_order_id=alternative_order_id(entry.facts.thumbprint, 1),
            validity_days=validity_days,
            renewal_of_order_id=order.id,
            previous_organization_id=order.organization_id,
        )
        check_order_payload(payload, now=now)
    return RenewalPlan(
        name=entry.name,
        thumbprint=entry.facts.thumbprint,
        due=is_due,
        reason=reason,
        action=action.kind,
        order_id=order.id,
        product=entry.order.product,
        validity_days=validity_days,
        install=_when_installed(entry, now=now),
    )


def _when_installed(entry: Entry, *, now: datetime) -> str:
    """When a certificate issued at ``now`` would be installed, in words."""
    window = check_install_window(entry, now=now)
    if window.next_opening is None:
        return "at once"
    opens = f"{window.next_opening:%Y-%m-%d %H:%M} UTC"
    if window.expires_first:
        margin = WINDOW_EXPIRY_MARGIN.days
        return (
            f"at once: it would expire within {margin} days of its next window "
            f"({opens})"
        )
    return f"when its install window opens, {opens}"


def queue_renewals(
    runtime: Runtime, *, names: list[str], due_only: bool, now: datetime
) -> list[Queued]:
    """Claim and queue each selected renewal; one already in flight is left be."""
    results = []
    for entry in _selected(runtime, names=names, due_only=due_only, now=now):
        thumbprint = entry.facts.thumbprint
        claimed = runtime.ledger.claim(
            thumbprint, name=entry.name, source=entry.source, due_at=now, now=now
        )
        if not claimed:
            results.append(
                Queued(
                    entry.name,
                    thumbprint,
                    queued=False,
                    problem=_already_claimed(runtime, thumbprint),
                )
            )
            continue
        renew_certificate.send(entry.source, entry.name, thumbprint)
        results.append(Queued(entry.name, thumbprint, queued=True))
    results.extend(
        Queued(plan.name, None, queued=False, problem=plan.problem)
        for plan in _missing(runtime, names)
    )
    return results


def _already_claimed(runtime: Runtime, thumbprint: str) -> str:
    record = runtime.ledger.get(thumbprint)
    if record is None:
        return "claimed by another process meanwhile"
    if record.state == "failed":
        return (
            f"already failed ({record.failure_code}); requeue it: certrenew dlq "
            f"requeue {thumbprint[:12]}"
        )
    return f"already in the ledger as {record.state}"


def _selected(
    runtime: Runtime, *, names: list[str], due_only: bool, now: datetime
) -> Iterator[Entry]:
    wanted = set(names)
    for source in runtime.sources.values():
        for item in source.scan():
            if not isinstance(item, Entry):
                continue
            if wanted and item.name not in wanted:
                continue
            if due_only and not renewal_due(item.facts, item.policy, now).is_due:
                continue
            yield item


def _missing(runtime: Runtime, names: list[str]) -> list[RenewalPlan]:
    found = set()
    for source in runtime.sources.values():
        for name in names:
            try:
                source.load(name)
                found.add(name)
            except CertrenewError:
                continue
    return [
        RenewalPlan(
            name=name,
            thumbprint="",
            due=False,
            reason="",
            problem=f"no certificate named {name!r} in the inventory",
        )
        for name in names
        if name not in found
    ]
