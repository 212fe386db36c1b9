"""payment-cli subscriptions show/start-trial/cancel/retry and billing run."""

from __future__ import annotations

import datetime as dt
import functools
import sys

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_FAILED, emit, json_option, parse_time
from payment_lib import SubscriptionInfo


def _date(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def subscription_line(subscription: SubscriptionInfo) -> str:
    line = (
        f"{subscription.id}  {subscription.plan_id:<18} {subscription.status:<10} "
        f"next {_date(subscription.next_billing_date)}"
    )
    if subscription.scheduled_plan_id:
        line += f"  (then {subscription.scheduled_plan_id})"
    if subscription.status == "trialing":
        line += f"  trial ends {_date(subscription.trial_ends_at)}"
    if subscription.cancel_at_period_end:
        line += f"  (ends {_date(subscription.end_date)})"
    elif subscription.end_date:
        line += f"  ended {_date(subscription.end_date)}"
    return line


@click.group()
def subscriptions() -> None:
    """Look up, start (trials) and cancel subscriptions.

    Example: payment-cli subscriptions show --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b
    """


@subscriptions.command("show")
@click.option("--user", "user_id", required=True, help="The user's UUID.")
@json_option
@pass_context
def subscriptions_show(context: Context, user_id: str, as_json: bool) -> None:
    """Show a user's subscriptions.

    Example: payment-cli subscriptions show --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b --json
    """
    found = context.payments.list_subscriptions(user_id)
    text = "\n".join(subscription_line(s) for s in found) if found else "no subscriptions"
    emit({"subscriptions": [s.to_dict() for s in found]}, text, as_json=as_json)


@subscriptions.command("start-trial")
@click.option("--user", "user_id", required=True, help="The user's UUID.")
@click.option("--plan", "plan_id", required=True, help="A plan with trial days.")
@click.option("--payment-method", help="Card to save for the first charge (pm_...); none: no card.")
@click.option("--email", "customer_email", help="Where the reminder and receipts go.")
@json_option
@pass_context
def subscriptions_start_trial(
    context: Context,
    user_id: str,
    plan_id: str,
    payment_method: str | None,
    customer_email: str | None,
    as_json: bool,
) -> None:
    """Start a plan's free trial: trialing, nothing charged.

    With --payment-method the card is saved and verified for off-session charges, and the
    first charge is the renewal at the trial's end; without one the trial ends then, unless
    a card is added. A declined card starts nothing (exit 2).

    Example: payment-cli subscriptions start-trial --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b
    --plan pro-monthly --payment-method pm_card_visa --email ada@example.com
    """
    subscription = context.payments.start_trial(
        user_id=user_id,
        plan_id=plan_id,
        payment_method=payment_method,
        customer_email=customer_email,
    )
    emit(subscription.to_dict(), subscription_line(subscription), as_json=as_json)


@subscriptions.command("cancel")
@click.argument("subscription_id")
@click.option(
    "--at-period-end",
    is_flag=True,
    help="Keep access until the paid period ends, then stop renewing.",
)
@json_option
@pass_context
def subscriptions_cancel(
    context: Context, subscription_id: str, at_period_end: bool, as_json: bool
) -> None:
    """Cancel a subscription now, or at the end of its paid period.

    Example: payment-cli subscriptions cancel 6c1d2e3f-4a5b-4c7d-8e9f-0a1b2c3d4e5f --at-period-end
    """
    subscription = context.payments.cancel_subscription(
        subscription_id, at_period_end=at_period_end
    )
    emit(subscription.to_dict(), subscription_line(subscription), as_json=as_json)


@subscriptions.command("retry")
@click.argument("subscription_id")
@json_option
@pass_context
def subscriptions_retry(context: Context, subscription_id: str, as_json: bool) -> None:
    """Charge a past-due subscription now, with its current card.

    A retry like the scheduled ones (one charge per attempt); exits 1 when the card is
    declined again, 2 when the subscription is not past due.

    Example: payment-cli subscriptions retry 6c1d2e3f-4a5b-4c7d-8e9f-0a1b2c3d4e5f --json
    """
    report = context.payments.retry_subscription(subscription_id)
    lines = [f"{p.id}  {p.status:<10} {p.amount}" for p in report.charged]
    lines += [f"not billed: {e['message']} [{e['code']}]" for e in report.errors]
    emit(report.to_dict(), "\n".join(lines) or "nothing charged", as_json=as_json)
    if not any(p.status == "succeeded" for p in report.charged):
        sys.exit(EXIT_FAILED)


@click.group()
def billing() -> None:
    """Subscription renewals.

    Example: payment-cli billing run
    """


@billing.command("run")
@click.option("--now", "now_text", help="Bill as if it were this ISO 8601 time (UTC if no zone).")
@click.option("--dry-run", is_flag=True, help="Say what would be charged or ended; change nothing.")
@click.option("--subscription", "subscription_id", help="Only this subscription.")
@click.option("--user", "user_id", help="Only this user's subscriptions.")
@json_option
@pass_context
def billing_run(
    context: Context,
    now_text: str | None,
    dry_run: bool,
    subscription_id: str | None,
    user_id: str | None,
    as_json: bool,
) -> None:
    """Renew, retry or end every subscription that is due.

    --now decides what is due (payments are still made, and dated, now). --dry-run prints what
    a run would charge, retry or end, with amounts, and changes nothing. Safe to run on
    several machines at once and to repeat: one charge per period and attempt. A bar shows
    progress on a terminal.

    Example: payment-cli billing run --now 2027-02-28T00:00:00Z --dry-run --json
    """
    now = parse_time(now_text, "now")
    run = functools.partial(
        context.payments.run_billing,
        now,
        dry_run=dry_run,
        subscription_id=subscription_id,
        user_id=user_id,
    )
    if as_json or not sys.stderr.isatty():
        report = run()
    else:
        with click.progressbar(length=1, label="billing", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            report = run(progress=progress)
    lines = [
        f"{p['subscription_id']}  would {p['action']}"
        + (f"  {p['amount']} {str(p['currency']).upper()}" if p["amount"] else "")
        for p in report.planned
    ]
    lines += [f"{p.id}  {p.status:<10} {p.amount}" for p in report.charged]
    lines += [f"{s}  ended" for s in report.ended]
    if report.trial_reminders:
        lines.append(f"{report.trial_reminders} trial-ending reminders queued")
    lines += [f"{s}  resumed" for s in report.resumed]
    lines += [
        f"{e['subscription_id']}  not billed: {e['message']} [{e['code']}]" for e in report.errors
    ]
    emit(report.to_dict(), "\n".join(lines) or "nothing due", as_json=as_json)
