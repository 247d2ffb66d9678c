"""``interlock alerts list`` and ``interlock alerts retry``: the alert outbox from the command line
(what ``GET /api/alerts`` and ``POST /api/alerts/{id}/retry`` do)."""

from __future__ import annotations

import argparse
from typing import Any

from interlock_core.model import AlertRecord, AlertStatus, format_timestamp

from .deferred_parser import deferred
from .output import EXIT_OK, Out
from .session import open_engine


def add_parser(sub: Any) -> None:
    p = sub.add_parser("alerts", help="list the alert outbox (pending, dead letters) or send an alert again")
    p.add_argument("--json", action="store_true")
    deferred(p, _add_actions)


def _add_actions(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="alerts_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="alerts in the outbox, newest first")
    listing.add_argument("--status", choices=[s.value for s in AlertStatus],
                         help="only pending (on their way), failed (dead letters), delivered or grouped")
    listing.add_argument("--limit", type=_limit, default=50, help="how many (1-500, default 50)")
    listing.add_argument("--before", metavar="ID", help="the page after the one that ended with this id")
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    retry = actions.add_parser("retry", help="send a dead letter (or a pending alert) again now")
    retry.add_argument("alert_id", metavar="ID")
    retry.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    for action in actions.choices.values():  # the whole command line's options work here too
        action.add_argument("-C", "--project", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        action.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log what the engine does")


def _limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        raise argparse.ArgumentTypeError(f"{value!r}: the limit is a whole number from 1 to 500")
    return limit


async def cmd_alerts(args: argparse.Namespace, out: Out) -> int:
    from interlock_core.redaction import redact  # this module is imported for its parser by every command

    if args.alerts_action == "retry":
        return await _retry(args, out)
    status = AlertStatus(args.status) if args.status else None
    async with open_engine(args.project, read_only=True) as (_, engine):
        records = await engine.list_alerts(status, limit=args.limit, before=args.before)
    if out.json_mode:
        out.json(redact([r.to_json_dict() for r in records]))
        return EXIT_OK
    if not records:
        out.line(out.dim(f"no {status.value + ' ' if status else ''}alerts"))
        return EXIT_OK
    for record in records:
        _show(out, record)
    if len(records) == args.limit:
        out.line(out.dim(f"more: interlock alerts list{f' --status {status.value}' if status else ''} "
                         f"--before {records[-1].id}"))
    return EXIT_OK


async def _retry(args: argparse.Namespace, out: Out) -> int:
    from interlock_core.redaction import redact

    async with open_engine(args.project) as (_, engine):
        record = await engine.retry_alert(args.alert_id)
        # the command's own flush (on its way out) delivers it unless `serve` gets there first
    if out.json_mode:
        out.json(redact(record.to_json_dict()))
    else:
        out.line(out.green(f"Alert {record.id} to {record.sink} sent again") +
                 out.dim(f"  (retried {record.retried}x; `interlock alerts list` shows how it went)"))
    return EXIT_OK


_WORDS = {AlertStatus.DELIVERED: "green", AlertStatus.FAILED: "red", AlertStatus.PENDING: "yellow",
          AlertStatus.GROUPED: "dim"}


def _show(out: Out, record: AlertRecord) -> None:
    from interlock_core.redaction import redact_text

    word = getattr(out, _WORDS[record.status])(record.status.value.upper())
    where = f"[{record.pipeline_id}] " if record.pipeline_id else ""
    count = f" (x{record.count})" if record.count > 1 else ""
    out.line(f"{record.id}  {word:<9}  {record.sink}  {where}{redact_text(record.alert.message)}{count}")
    detail = f"    attempts {record.attempts}/{record.max_attempts}"
    if record.status is AlertStatus.PENDING:
        detail += f", next {format_timestamp(record.next_attempt_at)}"
    if record.grouped_into:
        detail += f", grouped into {record.grouped_into}"
    if record.last_error and record.status is not AlertStatus.DELIVERED:
        detail += f", last error: {redact_text(record.last_error)}"
    out.line(out.dim(detail))
