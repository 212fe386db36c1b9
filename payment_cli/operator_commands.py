"""payment-cli's listings for operators (payments, refunds, subscriptions, notifications) and
plans update/archive: filters, a cursor for the next page, one JSON object with --json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option, parse_time
from payment_cli.refund_commands import refund_text
from payment_cli.subscription_commands import subscription_line
from payment_lib import NotificationInfo, Page, PaymentInfo, RefundInfo

T = TypeVar("T")


def emit_page(
    key: str, page: Page[T], line: Callable[[T], str], *, command: str, as_json: bool
) -> None:
    """A page as ``{key: [...], "next_cursor": ...}``, or a line each and how to go on."""
    lines = [line(item) for item in page.items] or [f"no {key.replace('_', ' ')}"]
    if page.next_cursor:
        lines.append(f"more: {command} --cursor {page.next_cursor}")
    data = {key: [item.to_dict() for item in page.items], "next_cursor": page.next_cursor}  # type: ignore[attr-defined]
    emit(data, "\n".join(lines), as_json=as_json)


def limit_option(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option(
        "--cursor", help="Go on after the page that printed this next_cursor."
    )(function)
    return click.option(
        "--limit", default=100, show_default=True, type=click.IntRange(1, 1000),
        help="At most this many per page.",
    )(function)


def window_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--since and --until: made in [since, until), ISO 8601 (UTC when no zone is named)."""
    function = click.option("--until", "until_text", help="Made before this ISO 8601 time.")(
        function
    )
    return click.option("--since", "since_text", help="Made at or after this ISO 8601 time.")(
        function
    )


def payment_line(payment: PaymentInfo) -> str:
    return (
        f"{payment.id}  {payment.created_at:%Y-%m-%d %H:%M}  {payment.status:<18} "
        f"{payment.amount}  user {payment.user_id}"
    )


@click.command("list")
@click.option("--status", help="Only payments in this status (succeeded, failed, refunded, ...).")
@click.option("--user", "user_id", help="Only this user's payments (a UUID).")
@window_options
@limit_option
@json_option
@pass_context
def payments_list(
    context: Context,
    status: str | None,
    user_id: str | None,
    since_text: str | None,
    until_text: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List payments newest first, filtered; --cursor goes on where a page ended.

    Example: payment-cli payments list --status failed --since 2027-01-01T00:00:00Z --limit 50
    --json
    """
    page = context.payments.find_payments(
        status=status,
        user_id=user_id,
        since=parse_time(since_text, "since"),
        until=parse_time(until_text, "until"),
        limit=limit,
        cursor=cursor,
    )
    emit_page("payments", page, payment_line, command="payments list", as_json=as_json)


@click.group()
def refunds() -> None:
    """Look up refunds (process-refund makes them).

    Example: payment-cli refunds list --status pending
    """


def refund_line(refund: RefundInfo) -> str:
    return (
        f"{refund.id}  {refund.created_at:%Y-%m-%d %H:%M}  {refund.status:<9} {refund.amount}  "
        f"payment {refund.payment_id}  by {refund.requested_by}"
    )


@refunds.command("list")
@click.option("--status", help="Only refunds in this status: pending, succeeded or failed.")
@click.option("--payment", "payment_id", help="Only this payment's refunds.")
@window_options
@limit_option
@json_option
@pass_context
def refunds_list(
    context: Context,
    status: str | None,
    payment_id: str | None,
    since_text: str | None,
    until_text: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List refunds newest first, filtered; --cursor goes on where a page ended.

    Example: payment-cli refunds list --payment 0b6f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e --json
    """
    page = context.payments.find_refunds(
        status=status,
        payment_id=payment_id,
        since=parse_time(since_text, "since"),
        until=parse_time(until_text, "until"),
        limit=limit,
        cursor=cursor,
    )
    emit_page("refunds", page, refund_line, command="refunds list", as_json=as_json)


@refunds.command("show")
@click.argument("refund_id")
@json_option
@pass_context
def refunds_show(context: Context, refund_id: str, as_json: bool) -> None:
    """Show one refund, with its payment as it stands now.

    Example: payment-cli refunds show 7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a --json
    """
    refund = context.payments.get_refund(refund_id)
    emit(refund.to_dict(), refund_text(refund), as_json=as_json)


@click.command("list")
@click.option("--status", help="Only this status: trialing, active, past_due, paused, ...")
@click.option("--plan", "plan_id", help="Only subscriptions to this plan.")
@click.option("--user", "user_id", help="Only this user's subscriptions.")
@limit_option
@json_option
@pass_context
def subscriptions_list(
    context: Context,
    status: str | None,
    plan_id: str | None,
    user_id: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List subscriptions newest first, filtered; --cursor goes on where a page ended.

    Example: payment-cli subscriptions list --status past_due --plan pro-monthly --json
    """
    page = context.payments.find_subscriptions(
        status=status, plan_id=plan_id, user_id=user_id, limit=limit, cursor=cursor
    )
    emit_page(
        "subscriptions", page, subscription_line, command="subscriptions list", as_json=as_json
    )


@click.group()
def notifications() -> None:
    """The email outbox: list it, resend an email that failed.

    Example: payment-cli notifications list --status failed
    """


def notification_line(notification: NotificationInfo) -> str:
    line = (
        f"{notification.id}  {notification.kind:<24} {notification.status:<8} "
        f"to {notification.recipient}  attempts {notification.attempts}"
    )
    if notification.last_error:
        line += f"\n  last error: {notification.last_error}"
    return line


@notifications.command("list")
@click.option("--status", help="Only emails in this status: pending, sending, sent or failed.")
@click.option("--recipient", help="Only emails to this address.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@json_option
@pass_context
def notifications_list(
    context: Context, status: str | None, recipient: str | None, limit: int, as_json: bool
) -> None:
    """List the outbox, oldest first (never the emails' contents in text mode).

    Example: payment-cli notifications list --status failed --json
    """
    found = context.payments.list_notifications(recipient, limit=limit, status=status)
    text = "\n".join(notification_line(n) for n in found) or "no notifications"
    emit({"notifications": [n.to_dict() for n in found]}, text, as_json=as_json)


@notifications.command("resend")
@click.argument("notification_id")
@json_option
@pass_context
def notifications_resend(context: Context, notification_id: str, as_json: bool) -> None:
    """Send a failed email again on the worker's next pass (attempts counted afresh).

    A sent email is never sent again (exit 4, illegal_transition).

    Example: payment-cli notifications resend 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b
    """
    notification = context.payments.resend_notification(notification_id)
    emit(notification.to_dict(), notification_line(notification), as_json=as_json)


@click.command("update")
@click.argument("plan_id")
@click.option("--name", required=True, help="The new name shown to people.")
@json_option
@pass_context
def plans_update(context: Context, plan_id: str, name: str, as_json: bool) -> None:
    """Rename a plan. Prices never change: make a new plan and archive this one.

    Example: payment-cli plans update pro-monthly --name "Pro (monthly, 2027)"
    """
    plan = context.payments.update_plan(plan_id, name=name)
    emit(plan.to_dict(), f"{plan.id}  {plan.name}", as_json=as_json)


@click.command("archive")
@click.argument("plan_id")
@json_option
@pass_context
def plans_archive(context: Context, plan_id: str, as_json: bool) -> None:
    """Stop selling a plan: new purchases are refused; its subscriptions go on renewing.

    Example: payment-cli plans archive pro-monthly --json
    """
    plan = context.payments.archive_plan(plan_id)
    text = f"{plan.id}  archived {plan.archived_at:%Y-%m-%d %H:%M} UTC"
    emit(plan.to_dict(), text, as_json=as_json)
