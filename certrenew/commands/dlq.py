"""`certrenew dlq`: the renewals that failed for good, and what to do with them.

A dead letter is a failed renewal in the ledger (kept until an operator acts)
and, for a week, Dramatiq's dead message for it. Each is named by the old
certificate's thumbprint, or a unique prefix of at least 8 characters of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError

if TYPE_CHECKING:
    from scheduler.requeue import DeadMessage
    from worker.ledger import RenewalRecord
    from worker.runtime import Runtime

MIN_PREFIX_LENGTH = 8


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dlq",
        help="list, show, requeue or purge renewals that failed for good",
        description="Work with dead letters: renewals that failed for good. ID is "
        "the old certificate's thumbprint, or a unique prefix of it (at least "
        f"{MIN_PREFIX_LENGTH} characters). Needs [redis] url.",
    )
    actions = parser.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="every dead letter, oldest first")
    _common_options(listing, json_output=True)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="everything known about one dead letter")
    _common_options(show, json_output=True)
    show.add_argument("id", metavar="ID")
    show.set_defaults(handler=run_show)

    requeue = actions.add_parser(
        "requeue",
        help="retry failed renewals (never a second order)",
        description="Put failed renewals back in the queue with their retry count "
        "reset. The renewal gets a new alternative_order_id, and the worker looks "
        "up the earlier ones before it orders: a requeue never orders twice.",
    )
    _bulk_options(requeue)
    requeue.set_defaults(handler=run_requeue)

    purge = actions.add_parser(
        "purge",
        help="drop failed renewals and their dead messages",
        description="Drop the dead message and forget the failed renewal. If the "
        "certificate is still due, the next scan claims and renews it again.",
    )
    _bulk_options(purge)
    purge.set_defaults(handler=run_purge)


def _common_options(parser: argparse.ArgumentParser, *, json_output: bool) -> None:
    add_config_argument(parser)
    if json_output:
        parser.add_argument("--json", action="store_true", help="machine-readable")


def _bulk_options(parser: argparse.ArgumentParser) -> None:
    _common_options(parser, json_output=False)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID")
    which.add_argument("--all", action="store_true", help="every dead letter")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )


@dataclass(frozen=True)
class DeadLetter:
    """A failed renewal, its dead messages, or both."""

    thumbprint: str
    record: RenewalRecord | None
    messages: tuple[DeadMessage, ...]

    @property
    def name(self) -> str:
        if self.record is not None:
            return self.record.name
        return self.messages[0].name if self.messages else "-"

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        tries = max([m.retries + 1 for m in self.messages], default=0)
        return {
            "id": self.thumbprint,
            "certificate": self.name,
            "source": record.source if record else self.messages[0].source,
            "state": str(record.state) if record else None,
            "action": record.action if record else None,
            "order_id": record.order_id if record else None,
            "alternative_order_id": record.alternative_order_id if record else None,
            "previous_alternative_order_ids": (
                list(record.previous_alternative_order_ids) if record else []
            ),
            "failed_in_state": str(record.failed_state)
            if record and record.failed_state
            else None,
            "failure_code": record.failure_code if record else None,
            "failure_message": record.failure_message if record else None,
            "failed_at": _iso(record.failed_at) if record else None,
            "attempts": max(record.attempts if record else 0, tries),
            "generation": record.generation if record else None,
            "dead_message": bool(self.messages),
            "dead_message_ids": [m.message_id for m in self.messages],
        }


def run_list(arguments: argparse.Namespace) -> int:
    runtime = _runtime(arguments)
    letters = _dead_letters(runtime)
    if arguments.json:
        print(json.dumps([letter.as_dict() for letter in letters], indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dead letters: {len(letters)}")
    for column in ("id", "certificate", "action", "order", "code", "failed", "tries"):
        table.add_column(column)
    table.add_column("dead message")
    for letter in letters:
        row = letter.as_dict()
        table.add_row(
            letter.thumbprint[:12],
            letter.name,
            row["action"] or "-",
            str(row["order_id"] or "-"),
            row["failure_code"] or "-",
            row["failed_at"] or "-",
            str(row["attempts"]),
            "yes" if row["dead_message"] else "no",
        )
    Console(width=160).print(table)
    return 0


def run_show(arguments: argparse.Namespace) -> int:
    runtime = _runtime(arguments)
    letters = _dead_letters(runtime)
    chosen, problem = _resolve(arguments.id, letters)
    if chosen is None:
        print(f"dlq show: {problem}", file=sys.stderr)
        return 1
    row = chosen.as_dict()
    if arguments.json:
        print(json.dumps(row, indent=2))
        return 0
    for key, value in row.items():
        print(f"{key + ':':<32}{value if value not in (None, []) else '-'}")
    return 0


def run_requeue(arguments: argparse.Namespace) -> int:
    from scheduler.requeue import requeue_renewal
    from worker.ledger import LedgerConflict

    runtime = _runtime(arguments)
    chosen, problems = _chosen(arguments, _dead_letters(runtime))
    now = datetime.now(UTC)
    for letter in chosen:
        if arguments.dry_run:
            print(f"would requeue {letter.thumbprint} ({letter.name})")
            continue
        if letter.record is None:
            problems.append(
                f"{letter.thumbprint} ({letter.name}): no failed renewal in the "
                "ledger, only a dead message; purge it, the next scan claims it again"
            )
            continue
        try:
            record = requeue_renewal(runtime, letter.thumbprint, now=now)
        except LedgerConflict as error:
            problems.append(f"{letter.thumbprint} ({letter.name}): {error}")
            continue
        print(
            f"requeued {letter.thumbprint} ({letter.name}), generation "
            f"{record.generation}"
        )
    return _report(problems)


def run_purge(arguments: argparse.Namespace) -> int:
    from scheduler.requeue import drop_dead_messages

    runtime = _runtime(arguments)
    chosen, problems = _chosen(arguments, _dead_letters(runtime))
    for letter in chosen:
        if arguments.dry_run:
            print(f"would purge {letter.thumbprint} ({letter.name})")
            continue
        drop_dead_messages(runtime.redis, [m.message_id for m in letter.messages])
        if letter.record is not None:
            runtime.ledger.forget(letter.thumbprint)
        print(f"purged {letter.thumbprint} ({letter.name})")
    return _report(problems)


def _runtime(arguments: argparse.Namespace) -> Runtime:
    settings = load_settings_for(arguments)
    if settings.redis.url is None:
        raise ConfigError(
            [
                "redis.url: dead letters live in Redis; set [redis] url (the "
                "embedded store of `certrenew run` is private to its process)"
            ]
        )

    from certrenew.logs import configure_logging
    from worker.bootstrap import start_runtime

    configure_logging(settings.logging, stream=sys.stderr, process="dlq")
    return start_runtime(settings)


def _dead_letters(runtime: Runtime) -> list[DeadLetter]:
    """Failed renewals, and dead messages whose renewal is not failed."""
    from scheduler.requeue import dead_messages

    messages: dict[str, list[DeadMessage]] = {}
    for message in dead_messages(runtime.redis):
        messages.setdefault(message.thumbprint, []).append(message)
    letters = [
        DeadLetter(r.thumbprint, r, tuple(messages.pop(r.thumbprint, [])))
        for r in runtime.ledger.failed()
    ]
    for thumbprint, orphans in messages.items():
        record = runtime.ledger.get(thumbprint)
        if record is None or not record.in_flight:
            # An in-flight renewal's old dead message is history, not work.
            letters.append(DeadLetter(thumbprint, record, tuple(orphans)))
    return letters


def _resolve(given: str, letters: list[DeadLetter]) -> tuple[DeadLetter | None, str]:
    wanted = given.strip().upper()
    if len(wanted) < MIN_PREFIX_LENGTH:
        return None, (
            f"ID {given!r} is too short: give the thumbprint or at least "
            f"{MIN_PREFIX_LENGTH} of its first characters"
        )
    found = [letter for letter in letters if letter.thumbprint.startswith(wanted)]
    if not found:
        return None, f"no dead letter has the ID {given!r}"
    if len(found) > 1:
        names = ", ".join(letter.thumbprint for letter in found)
        return None, f"ID {given!r} matches several dead letters: {names}"
    return found[0], ""


def _chosen(
    arguments: argparse.Namespace, letters: list[DeadLetter]
) -> tuple[list[DeadLetter], list[str]]:
    if arguments.all:
        return letters, []
    chosen: list[DeadLetter] = []
    problems: list[str] = []
    for given in arguments.ids:
        letter, problem = _resolve(given, letters)
        if letter is None:
            problems.append(problem)
        elif letter not in chosen:
            chosen.append(letter)
    return chosen, problems


def _report(problems: list[str]) -> int:
    for problem in problems:
        print(f"dlq: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
