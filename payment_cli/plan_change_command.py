"""payment-cli subscriptions change-plan: move a subscription to another plan."""

from __future__ import annotations

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_FAILED, emit, fail, json_option
from payment_lib import PlanChangeInfo


def _when(change: PlanChangeInfo) -> str:
    if change.status == "scheduled" and change.effective_at is not None:
        return f"at period end ({change.effective_at.strftime('%Y-%m-%d %H:%M UTC')})"
    return "now"


def _line(change: PlanChangeInfo) -> str:
    """One line: what changed (or would), when, and the money."""
    plans = f"{change.from_plan_id} -> {change.to_plan_id}"
    if change.status == "unscheduled":
        words = f"stays on {change.from_plan_id}: the scheduled change to {change.to_plan_id}"
        return f"{change.subscription_id}  {words} is called off"
    verb = {"changed": "changed", "scheduled": "scheduled", "pending": "pending"}[change.status]
    if change.dry_run:
        verb = "would change" if change.status == "changed" else "would schedule"
    money = []
    if change.charge.minor:
        money.append(f"{'charge' if change.dry_run else 'charged'} {change.charge}")
    if change.credit.minor > 0:
        money.append(f"credit {change.credit}")
    elif change.credit.minor < 0:
        money.append(f"{-change.credit.minor} minor units added to the next renewal")
    if change.payment is not None:
        money.append(f"payment {change.payment.id}")
    tail = f"  ({', '.join(money)})" if money else ""
    return f"{change.subscription_id}  {verb} {plans} {_when(change)}{tail}"


@click.command("change-plan")
@click.argument("subscription_id")
@click.option(
    "--plan", "plan_id", required=True, help="The plan to move to (same currency and interval)."
)
@click.option(
    "--at-period-end/--immediately",
    default=None,
    help="When it takes effect (default: now for a dearer plan, at the period's end otherwise).",
)
@click.option("--no-proration", is_flag=True, help="A change made now charges and credits nothing.")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be charged or credited; change nothing."
)
@json_option
@pass_context
def change_plan(
    context: Context,
    subscription_id: str,
    plan_id: str,
    at_period_end: bool | None,
    no_proration: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Move a subscription to another plan of the same currency and interval.

    An upgrade happens now and charges the prorated difference for the rest of the period to
    the saved card (repeating it charges once); a cheaper plan waits for the period's end
    (--immediately: now, the difference becoming credit for the next renewals). Exit 1 when
    the card declines (the plan does not change), 2 for another currency or interval, the
    same or an archived plan, 4 when the subscription is not active.

    Example:
    payment-cli subscriptions change-plan 6c1d2e3f-4a5b-4c7d-8e9f-0a1b2c3d4e5f --plan pro-monthly
    """
    change = context.payments.change_plan(
        subscription_id,
        plan_id,
        proration=not no_proration,
        at_period_end=at_period_end,
        dry_run=dry_run,
    )
    if change.status == "declined":
        error = change.payment.error if change.payment is not None else None
        reason = error.message if error is not None else "the charge failed"
        fail(
            {
                "code": error.code if error is not None else "payment_failed",
                "message": f"The plan was not changed: {reason}",
                "payment_id": str(change.payment.id) if change.payment is not None else None,
            },
            EXIT_FAILED,
            as_json=as_json,
        )
    emit(change.to_dict(), _line(change), as_json=as_json)
