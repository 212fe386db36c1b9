"""Bulk ops jobs: refunds and webhook replays from a file (process-refund --from, replay-webhook
--from) and every parked event (webhooks replay --parked), one result line each.

Refund lines are CSV (``payment_id,amount,reason,note,key``; a header line naming the columns
may come first, in any order) or NDJSON objects with those fields. An empty amount refunds
everything that remains. Each line's refund has an idempotency key: its ``key`` when given,
else the one process-refund derives from the payment and the amount. So a file run again after
an interruption replays the lines already done (``replayed``) and resumes one cut off half-way
by asking Stripe, never refunding twice; two lines refunding the same amount of one payment
need keys of their own.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from typing import Any, BinaryIO

import click

from payment_cli.bulk import FAILED, Outcome, failure, input_lines, parse_json_object, run_lines
from payment_cli.context import Context, pass_context
from payment_cli.output import json_option
from payment_lib import Actor, InvalidRequest, PaymentError, Payments, contains_card_number

COLUMNS = ("payment_id", "amount", "reason", "note", "key")
REFUND_KINDS = ("refunded", "replayed")
REPLAY_KINDS = ("processed",)


Lines = list[tuple[int, str | None]]


def _columns(items: Lines) -> tuple[Sequence[str], Lines]:
    """The CSV columns (a header line, else COLUMNS in order) and the lines after it."""
    if not items or items[0][1] is None or items[0][1].startswith("{"):
        return COLUMNS, items
    first = [cell.strip().lower() for cell in next(csv.reader([items[0][1]]))]
    if first[0] != "payment_id":
        return COLUMNS, items
    if set(first) - set(COLUMNS) or len(set(first)) != len(first):
        raise click.UsageError(
            f"The header line may name only these columns, once each: {', '.join(COLUMNS)}."
        )
    return first, items[1:]


def _refund_fields(text: str | None, columns: Sequence[str]) -> dict[str, Any]:
    if text is None:
        raise InvalidRequest("The line is not UTF-8 text.", param="line")
    if text.startswith("{"):
        fields = parse_json_object(text)
        if set(fields) - set(COLUMNS):
            raise InvalidRequest(
                f"A line's object may hold only {', '.join(COLUMNS)}.", param="line"
            )
        return fields
    cells = next(csv.reader([text]))
    if len(cells) > len(columns):
        raise InvalidRequest(f"A line holds at most {len(columns)} values.", param="line")
    return {name: cell.strip() or None for name, cell in zip(columns, cells, strict=False)}


def _uuid_or_none(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def refund_file(payments: Payments, source: BinaryIO, *, operator: str, as_json: bool) -> None:
    """process-refund --from: one refund per line (see the module docstring)."""
    columns, items = _columns(input_lines(source))
    actor = Actor.admin(operator)

    def refund(text: str | None) -> Outcome:
        fields = _refund_fields(text, columns)
        payment_id = fields.get("payment_id")
        shown = {"payment_id": _uuid_or_none(payment_id)}  # never echo what is not an id
        try:
            made = payments.refund(
                payment_id,
                actor=actor,
                amount=fields.get("amount"),
                reason=fields.get("reason"),
                note=fields.get("note"),
                idempotency_key=fields.get("key"),
            )
        except PaymentError as error:
            gone = failure(error.to_dict())
            return Outcome(gone.kind, {**shown, **gone.fields}, gone.text)
        kind = "replayed" if made.replayed else "refunded"
        if made.status == "failed":
            kind = FAILED
        text_line = (
            f"{kind} {made.amount}  refund {made.id} {made.status}  payment {made.payment_id}"
        )
        result = {**shown, "refund": made.to_dict()}
        if made.status == "failed":  # Stripe refused it
            result["error"] = {"code": "refund_failed", "message": made.failure_message}
            text_line += f": {made.failure_message} [refund_failed]"
        return Outcome(kind, result, text_line)

    run_lines(
        items,
        refund,
        kinds=REFUND_KINDS,
        label="refunds",
        head=lambda number, _text: {
            "line": number,
            "payment_id": None,
            "refund": None,
            "error": None,
        },
        as_json=as_json,
    )


def _event_id(text: str | None) -> str:
    if text is None:
        raise InvalidRequest("The line is not UTF-8 text.", param="line")
    if text.startswith("{"):
        found = parse_json_object(text).get("event_id")
        if not isinstance(found, str):
            raise InvalidRequest('A line\'s object must hold "event_id".', param="event_id")
    else:
        found = next(csv.reader([text]))[0].strip()
    if contains_card_number(found):  # refused here, so the result line never repeats it
        raise InvalidRequest("The line holds a card number, not an event id.", param="event_id")
    return found


def _replayer(payments: Payments, *, from_stripe: bool) -> Any:
    def replay(event_id: str | InvalidRequest) -> Outcome:
        if isinstance(event_id, InvalidRequest):
            raise event_id  # the line was refused as it was read
        event = payments.replay_webhook(event_id, from_stripe=from_stripe)
        fields = {"event": event.to_dict()}
        if event.processed and not event.last_error:
            return Outcome("processed", fields, f"{event_id}  {event.event_type}  {event.status}")
        error = {"code": "handler_failed", "message": event.last_error or "not processed"}
        gone = failure(error)
        return Outcome(FAILED, {**fields, **gone.fields}, f"{event_id}  {gone.text}")

    return replay


def replay_file(payments: Payments, source: BinaryIO, *, from_stripe: bool, as_json: bool) -> None:
    """replay-webhook --from: one event id per line (plain, CSV's first column, or NDJSON
    ``{"event_id": ...}``); replaying a processed event again changes nothing."""
    items: list[tuple[int, str | InvalidRequest]] = []
    for number, text in input_lines(source):
        try:
            items.append((number, _event_id(text)))
        except InvalidRequest as refused:
            items.append((number, refused))
    run_lines(
        items,
        _replayer(payments, from_stripe=from_stripe),
        kinds=REPLAY_KINDS,
        label="events",
        head=lambda number, event_id: {
            "line": number,
            "event_id": event_id if isinstance(event_id, str) else None,
            "event": None,
            "error": None,
        },
        as_json=as_json,
    )


@click.command("replay")
@click.option("--parked", is_flag=True, help="Replay every parked event, oldest first.")
@json_option
@pass_context
def webhooks_replay(context: Context, parked: bool, as_json: bool) -> None:
    """Replay stored events in bulk: with --parked, every event given up on after repeated
    failures (once their cause is fixed). One result line each, a summary, exit 1 when any
    failed again (it stays parked).

    Example: payment-cli webhooks replay --parked --json
    """
    if not parked:
        raise click.UsageError("Say which events to replay: --parked.")
    ids: list[str] = []
    cursor = None
    while True:
        page = context.payments.find_webhook_events(status="parked", limit=1000, cursor=cursor)
        ids += [event.stripe_event_id for event in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    run_lines(
        [(n, event_id) for n, event_id in enumerate(ids, start=1)],
        _replayer(context.payments, from_stripe=False),
        kinds=REPLAY_KINDS,
        label="parked events",
        head=lambda _n, event_id: {"event_id": event_id, "event": None, "error": None},
        as_json=as_json,
    )
