"""The status page: what an operator needs at a glance, rendered on the server.

Plain HTML and a little CSS, no script: the page refreshes itself with a
``<meta http-equiv="refresh">``, and the requeue buttons are forms. Every value
goes through ``html.escape``. Nothing secret is read to build it: no API key,
no key material, no Redis URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from scheduler.metrics import RenewalFacts
from scheduler.scan import ScannedEntry
from worker.circuit import Rejection
from worker.ledger import RenewalRecord
from worker.ratelimit import WindowUsage

REFRESH_SECONDS = 15
NEXT_DUE_SHOWN = 15
IN_FLIGHT_SHOWN = 50
FAILED_SHOWN = 100

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .7rem;
  border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
.number { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #a40000; } .note { color: #666; }
"""


@dataclass(frozen=True)
class StatusView:
    """Everything the page shows, read before rendering."""

    now: datetime
    holder: str
    is_leader: bool
    last_scan_at: datetime | None
    last_scan_seconds: float | None
    last_scan_entries: int
    last_scan_problems: int
    last_sync_at: datetime | None
    next_due: Sequence[ScannedEntry]
    # None when Redis could not be read; ``redis_error`` says why.
    queues: dict[str, int] | None
    renewals: RenewalFacts | None
    in_flight: Sequence[RenewalRecord]
    failed: Sequence[RenewalRecord]
    rate_budget: Sequence[WindowUsage]
    key_rejection: Rejection | None
    redis_error: str | None = None


def render_status_page(view: StatusView, *, csrf_token: str) -> str:
    """The whole page as HTML text."""
    role = "leader" if view.is_leader else "standby"
    sections = [
        _scheduler_section(view, role),
        _redis_problem(view),
        _queues_section(view),
        _in_flight_section(view),
        _failed_section(view, csrf_token),
        _next_due_section(view),
        _rate_budget_section(view),
    ]
    body = "\n".join(section for section in sections if section)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>certrenew: {escape(role)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>certrenew scheduler</h1>
{body}
<p class="note">Updated {escape(_when(view.now))};
refreshes every {REFRESH_SECONDS} s.</p>
</body>
</html>
"""


def _scheduler_section(view: StatusView, role: str) -> str:
    duration = (
        "" if view.last_scan_seconds is None else f"{view.last_scan_seconds:.1f} s"
    )
    rows = [
        ("This scheduler", f"{role} ({view.holder})"),
        ("Last scan", _when(view.last_scan_at)),
        ("Scan took", duration),
        ("Certificates scanned", str(view.last_scan_entries)),
        ("Unreadable entries", str(view.last_scan_problems)),
        ("Last order-status sync", _when(view.last_sync_at)),
    ]
    if view.key_rejection is not None:
        rejection = view.key_rejection
        rows.append(
            (
                "API key",
                f"rejected since {_when(rejection.since)} ({rejection.code}); "
                f"next probe {_when(rejection.retry_at)}",
            )
        )
    return _key_value_table("Scheduler", "scheduler", rows)


def _redis_problem(view: StatusView) -> str:
    if view.redis_error is None:
        return ""
    reason = escape(view.redis_error)
    return f'<p class="bad" id="redis-error">Redis cannot be read: {reason}</p>'


def _queues_section(view: StatusView) -> str:
    if view.queues is None:
        return ""
    rows = [
        ("Ready", str(view.queues["ready"])),
        ("Delayed", str(view.queues["delayed"])),
        ("Failed (dead letters)", str(view.queues["failed"])),
    ]
    return _key_value_table("Queues", "queues", rows, numbers=True)


def _in_flight_section(view: StatusView) -> str:
    if view.renewals is None:
        return ""
    counts = ", ".join(
        f"{escape(state)}: {count}" for state, count in view.renewals.in_flight.items()
    )
    rows = [
        [
            record.name,
            record.state.value,
            record.action or "",
            "" if record.order_id is None else str(record.order_id),
            _order_status(record, view.now),
            _when(record.submitted_at),
            _when(record.updated_at),
        ]
        for record in view.in_flight[:IN_FLIGHT_SHOWN]
    ]
    table = _table(
        "in-flight",
        [
            "Certificate",
            "State",
            "Action",
            "Order",
            "Order status",
            "Submitted",
            "Updated",
        ],
        rows,
        empty="No renewal in flight.",
    )
    oldest = view.renewals.pending_oldest_seconds
    pending = (
        f"<p>Oldest order pending at DigiCert: {_duration(oldest)}; "
        f"past the deadline: {view.renewals.pending_overdue}</p>"
        if oldest
        else ""
    )
    return f"<h2>Renewals in flight</h2>\n<p>{counts}</p>\n{pending}\n{table}"


def _failed_section(view: StatusView, csrf_token: str) -> str:
    if view.renewals is None:
        return ""
    heading = f"<h2>Failed renewals ({view.renewals.dead_letters})</h2>"
    if not view.failed:
        return f'{heading}\n<p id="failed-empty">No failed renewal.</p>'
    lines = []
    for record in view.failed[:FAILED_SHOWN]:
        thumbprint = escape(record.thumbprint)
        button = (
            '<form method="post" action="/requeue">'
            f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">'
            f'<input type="hidden" name="thumbprint" value="{thumbprint}">'
            f'<button type="submit" name="requeue" id="requeue-{thumbprint}">'
            "Requeue</button></form>"
        )
        lines.append(
            f'<tr class="failed" data-thumbprint="{escape(record.thumbprint)}">'
            f"<td>{escape(record.name)}</td>"
            f"<td>{escape(record.action or '')}</td>"
            f"<td>{escape(record.failure_code or '')}</td>"
            f'<td class="reason">{escape(record.failure_message or "")}</td>'
            f"<td>{escape(_when(record.failed_at))}</td>"
            f'<td class="number">{record.attempts}</td>'
            f"<td>{button}</td></tr>"
        )
    header = _header_row(
        ["Certificate", "Action", "Code", "Reason", "Failed", "Attempts", ""]
    )
    return (
        f'{heading}\n<table id="failed">\n{header}\n' + "\n".join(lines) + "\n</table>"
    )


def _next_due_section(view: StatusView) -> str:
    rows = [
        [
            scanned.entry.name,
            scanned.entry.facts.common_name or "",
            scanned.entry.source,
            _when(scanned.due.due_at),
            _when(scanned.entry.facts.not_after),
            scanned.due.reason,
        ]
        for scanned in view.next_due[:NEXT_DUE_SHOWN]
    ]
    table = _table(
        "next-due",
        ["Certificate", "Common name", "Source", "Due", "Expires", "Why"],
        rows,
        empty="No scan yet on this scheduler.",
    )
    return f"<h2>Next certificates to come due</h2>\n{table}"


def _rate_budget_section(view: StatusView) -> str:
    rows = [
        [
            _duration(usage.window_seconds),
            str(usage.used),
            str(usage.allowed),
            str(usage.limit),
            f"{usage.fraction:.0%}",
        ]
        for usage in view.rate_budget
    ]
    table = _table(
        "rate-budget",
        ["Window", "Calls used", "Allowed", "DigiCert limit", "In use"],
        rows,
        empty="The rate budget cannot be read.",
    )
    return f"<h2>API rate budget</h2>\n{table}"


def _key_value_table(
    title: str, table_id: str, rows: Iterable[tuple[str, str]], *, numbers: bool = False
) -> str:
    cell = ' class="number"' if numbers else ""
    lines = [
        f"<tr><th>{escape(key)}</th><td{cell}>{escape(value)}</td></tr>"
        for key, value in rows
    ]
    return (
        f'<h2>{escape(title)}</h2>\n<table id="{table_id}">\n'
        + "\n".join(lines)
        + "\n</table>"
    )


def _table(
    table_id: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str
) -> str:
    if not rows:
        return f'<p id="{table_id}-empty">{escape(empty)}</p>'
    lines = [
        "<tr>" + "".join(f"<td>{escape(value)}</td>" for value in row) + "</tr>"
        for row in rows
    ]
    return (
        f'<table id="{table_id}">\n{_header_row(headers)}\n'
        + "\n".join(lines)
        + "\n</table>"
    )


def _header_row(headers: Sequence[str]) -> str:
    return (
        "<tr>" + "".join(f"<th>{escape(header)}</th>" for header in headers) + "</tr>"
    )


def _order_status(record: RenewalRecord, now: datetime) -> str:
    if record.install_waits_at(now):
        return f"install window opens {_when(record.install_after)}"
    return record.order_status or ""


def _when(moment: datetime | None) -> str:
    return (
        "never" if moment is None else escape(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))
    )


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
