"""payment-cli subscriptions pause/resume."""

from __future__ import annotations

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option, parse_time
from payment_cli.subscription_commands import _date, subscription_line


@click.command("pause")
@click.argument("subscription_id")
@click.option(
    "--until",
    "until_text",
    help="Resume by itself at this ISO 8601 date or time (UTC if no zone); must be in the future.",
)
@json_option
@pass_context
def subscriptions_pause(
    context: Context, subscription_id: str, until_text: str | None, as_json: bool
) -> None:
    """Pause an active subscription: no renewals until it resumes (by itself at --until, or
    with subscriptions resume). The paused time is added to the current period.

    Exits 2 for a bad or past --until, or a past-due subscription; 4 when it is not active.

    Example: payment-cli subscriptions pause 6c1d2e3f-4a5b-4c7d-8e9f-0a1b2c3d4e5f --until 2027-03-01
    """
    until = parse_time(until_text, "until")
    subscription = context.payments.pause_subscription(subscription_id, until=until)
    text = subscription_line(subscription).replace(
        "next ", f"until {_date(subscription.pause_until)}  next " if until else "next ", 1
    )
    emit(subscription.to_dict(), text, as_json=as_json)


@click.command("resume")
@click.argument("subscription_id")
@json_option
@pass_context
def subscriptions_resume(context: Context, subscription_id: str, as_json: bool) -> None:
    """Resume a paused subscription now. Its next billing date moves forward by the time it
    was paused; if that date has come, a period starts and is charged now (once).

    Exits 4 when it is not paused, 6 when there is no such subscription.

    Example: payment-cli subscriptions resume 6c1d2e3f-4a5b-4c7d-8e9f-0a1b2c3d4e5f --json
    """
    resumed = context.payments.resume_subscription(subscription_id)
    lines = [subscription_line(resumed.subscription)]
    if resumed.charged is not None:
        payment = resumed.charged
        lines.append(f"charged {payment.id}  {payment.status:<10} {payment.amount}")
    elif resumed.charge_error is not None:
        error = resumed.charge_error
        lines.append(f"not charged yet: {error['message']} [{error['code']}] (the worker retries)")
    else:
        lines.append("nothing charged (no period started)")
    emit(resumed.to_dict(), "\n".join(lines), as_json=as_json)
