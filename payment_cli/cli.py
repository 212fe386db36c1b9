"""payment-cli: a thin command line over payment_lib for operations work.

Each command parses text, calls one facade method and prints text (or JSON with --json).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from payment_cli.context import Context, pass_context
from payment_cli.lazy import LazyEntries, LazyGroup
from payment_cli.output import EXIT_FAILED, emit, guarded, json_option
from payment_lib.observability import configure_logging

if TYPE_CHECKING:
    from payment_lib import PaymentInfo

# Commands that live in their own modules, imported only when used (lazy.py): where each is,
# and its line in `payment-cli --help` (tests/cli/test_cli_startup.py keeps them the same).
COMMANDS: LazyEntries = {
    "billing": ("payment_cli.subscription_commands:billing", "Subscription renewals."),
    "cards": (
        "payment_cli.card_commands:cards",
        "A user's saved cards: list them, choose the default, remove one.",
    ),
    "disputes": (
        "payment_cli.dispute_commands:disputes",
        "Disputes (chargebacks and inquiries) learned from Stripe's webhooks.",
    ),
    "docs": (
        "payment_cli.docs_command:docs",
        "Print an installed guide (TOPIC), or list the topics.",
    ),
    "doctor": (
        "payment_cli.doctor_command:doctor",
        "Check the deployment: database reachable and migrated, Stripe key valid and the API "
        "reachable, webhook secrets set, SMTP reachable, a worker seen recently, the backlog.",
    ),
    "notifications": (
        "payment_cli.operator_commands:notifications",
        "The email outbox: list it, resend an email that failed.",
    ),
    "process-refund": (
        "payment_cli.refund_commands:process_refund",
        "Refund a payment in full, or in part with --amount, and show what remains; or, with "
        "--from FILE, every line of a file (one result line each, a summary, exit 1 when any "
        "line failed; run again after an interruption, lines done are replays, never second "
        "refunds).",
    ),
    "reconcile": (
        "payment_cli.reconcile_command:reconcile",
        "Compare our payments, refunds and disputes with Stripe's, the ledger of record.",
    ),
    "refunds": (
        "payment_cli.operator_commands:refunds",
        "Look up refunds (process-refund makes them).",
    ),
    "replay-webhook": (
        "payment_cli.webhook_commands:replay_webhook",
        "Run a stored event through its handler again, e.g. one parked after failures; or, with "
        "--from FILE, every event the file names (one result line each, a summary).",
    ),
    "stats": (
        "payment_cli.doctor_command:stats",
        "The deployment in numbers: payments, refunds, subscriptions, emails and webhook events "
        "by status; queue depths and ages; the webhook lag; parked events; the workers seen; "
        "the drift the last reconcile found.",
    ),
    "stripe-emulator": (
        "payment_cli.emulator_command:stripe_emulator",
        "Run a local Stripe test-mode emulator until Ctrl-C or SIGTERM.",
    ),
    "subscriptions": (
        "payment_cli.groups:subscriptions",
        "Look up, start (trials) and cancel subscriptions.",
    ),
    "webhooks": (
        "payment_cli.groups:webhooks",
        "Stripe webhook events: receive one (or many, for a backfill), list the inbox.",
    ),
    "worker": (
        "payment_cli.worker_command:worker",
        "Process webhooks, send emails, renew subscriptions and recover stale payments.",
    ),
}
PAYMENTS: LazyEntries = {
    "list": (
        "payment_cli.operator_commands:payments_list",
        "List payments newest first, filtered; --cursor goes on where a page ended.",
    ),
}
PLANS: LazyEntries = {
    "archive": (
        "payment_cli.operator_commands:plans_archive",
        "Stop selling a plan: new purchases are refused; its subscriptions go on renewing.",
    ),
    "update": ("payment_cli.operator_commands:plans_update", "Rename a plan."),
}


@click.group(
    cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option("--database-url", help="Overrides PAYMENT_DATABASE_URL.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log lines on stderr at this level and above.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="console: lines for people; json: one JSON object per line; auto: console on a "
    "terminal, JSON otherwise.",
)
@click.version_option(
    package_name="payment_lib", prog_name="payment-cli", message="%(prog)s %(version)s"
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None, log_level: str, log_format: str) -> None:
    """Payments, subscriptions, refunds and webhooks from the command line.

    Configuration comes from PAYMENT_* environment variables: `payment-cli docs readme` lists
    them, `payment-cli docs cli` is the full guide (exit codes included).

    Example: payment-cli plans list --json
    """
    configure_logging(log_level, log_format=log_format)  # type: ignore[arg-type]
    # db fixes a missing or old schema and doctor reports one: neither refuses it.
    context = Context(database_url, check_schema=ctx.invoked_subcommand not in ("db", "doctor"))
    ctx.obj = context
    ctx.call_on_close(context.close)


@main.group()
def db() -> None:
    """Database schema migrations.

    Example: payment-cli db upgrade
    """


@db.command("upgrade")
@click.argument("revision", default="head")
@json_option
@pass_context
def db_upgrade(context: Context, revision: str, as_json: bool) -> None:
    """Migrate the database up to REVISION (default: the newest).

    Example: payment-cli db upgrade
    """
    reached = context.payments.upgrade_database(revision)
    emit({"revision": reached}, f"database at revision {reached}", as_json=as_json)


@db.command("downgrade")
@click.argument("revision", default="-1")
@json_option
@pass_context
def db_downgrade(context: Context, revision: str, as_json: bool) -> None:
    """Undo migrations down to REVISION (default: one step back; "base" removes everything).

    Example: payment-cli db downgrade base
    """
    reached = context.payments.downgrade_database(revision)
    emit(
        {"revision": reached}, f"database at revision {reached or 'base (empty)'}", as_json=as_json
    )


@db.command("current")
@json_option
@pass_context
def db_current(context: Context, as_json: bool) -> None:
    """Show the database's revision and whether it is up to date.

    Example: payment-cli db current --json
    """
    current, head = context.payments.database_revision(), context.payments.latest_revision()
    state = "up to date" if current == head else f"behind (newest is {head})"
    emit(
        {"revision": current, "head": head, "up_to_date": current == head},
        f"revision {current or 'none'}: {state}",
        as_json=as_json,
    )


@main.group(cls=LazyGroup, lazy=PLANS)
def plans() -> None:
    """Subscription plans.

    Example: payment-cli plans seed-demo
    """


def _plan_line(plan: Any) -> str:
    every = plan.interval if plan.interval_count == 1 else f"{plan.interval_count} {plan.interval}s"
    trial = f", {plan.trial_days}-day trial" if plan.trial_days else ""
    return f"{plan.id:<20} {plan.name:<24} {plan.price} every {every}{trial}"


@plans.command("add")
@click.argument("plan_id")
@click.option("--name", required=True, help="Name shown to people.")
@click.option("--amount", required=True, help='Price per period, a decimal such as "9.99".')
@click.option("--currency", required=True, help="ISO 4217 code, e.g. usd.")
@click.option("--interval", required=True, type=click.Choice(["month", "year"]))
@click.option(
    "--interval-count", default=1, show_default=True, type=int, help="Periods between renewals."
)
@click.option(
    "--trial-days",
    default=0,
    show_default=True,
    type=int,
    help="Days of free trial (subscriptions start-trial); 0 to 730.",
)
@json_option
@pass_context
def plans_add(
    context: Context,
    plan_id: str,
    name: str,
    amount: str,
    currency: str,
    interval: str,
    interval_count: int,
    trial_days: int,
    as_json: bool,
) -> None:
    """Add a plan (with --trial-days N, its subscriptions may start with an N-day trial).

    Example: payment-cli plans add basic-monthly --name Basic --amount 9.99 --currency usd
    --interval month --trial-days 14
    """
    plan = context.payments.add_plan(
        plan_id,
        name=name,
        amount=amount,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        trial_days=trial_days,
    )
    emit(plan.to_dict(), f"added {_plan_line(plan)}", as_json=as_json)


@plans.command("list")
@json_option
@pass_context
def plans_list(context: Context, as_json: bool) -> None:
    """List plans.

    Example: payment-cli plans list --json
    """
    found = context.payments.list_plans()
    text = "\n".join(_plan_line(p) for p in found) if found else "no plans"
    emit({"plans": [p.to_dict() for p in found]}, text, as_json=as_json)


@plans.command("seed-demo")
@json_option
@pass_context
def plans_seed_demo(context: Context, as_json: bool) -> None:
    """Add the demo plans (basic-monthly, pro-monthly, pro-yearly, basic-monthly-jpy).

    Plans that exist already are left alone.

    Example: payment-cli plans seed-demo
    """
    added = context.payments.seed_demo_plans()
    text = "\n".join(f"added {_plan_line(p)}" for p in added) if added else "demo plans present"
    emit({"plans": [p.to_dict() for p in added]}, text, as_json=as_json)


def _payment_line(payment: PaymentInfo) -> str:
    line = f"{payment.id}  {payment.status:<18} {payment.amount}"
    if payment.stripe_transaction_id:
        line += f"  {payment.stripe_transaction_id}"
    if payment.redirect_url:
        line += f"\n  authenticate at: {payment.redirect_url}"
    return line


def _emit_payment(payment: PaymentInfo, *, as_json: bool) -> None:
    """Print a payment; a failed one also exits 1 with its reason."""
    emit(payment.to_dict(), _payment_line(payment), as_json=as_json)
    if payment.error is not None and payment.status == "failed":
        if not as_json:
            click.echo(f"error: {payment.error.message} [{payment.error.code}]", err=True)
        sys.exit(EXIT_FAILED)


@main.command("pay")
@click.option("--user", "user_id", required=True, help="The paying user's UUID.")
@click.option("--amount", required=True, help='A decimal string in major units, e.g. "20.00".')
@click.option("--currency", required=True, help="ISO 4217 code, e.g. usd.")
@click.option("--payment-method", required=True, help="Stripe PaymentMethod id (pm_...).")
@click.option("--idempotency-key", required=True, help="Same key, same payment: never twice.")
@click.option("--plan", "plan_id", help="Start a subscription to this plan.")
@click.option("--email", "customer_email", help="Where receipts go.")
@click.option("--return-url", help="Where 3-D Secure sends the payer back to.")
@click.option("--description", help="Shown in Stripe's dashboard.")
@json_option
@pass_context
def pay(context: Context, /, as_json: bool, **fields: Any) -> None:
    """Charge a card once per idempotency key.

    Exits 0 when the payment succeeded or awaits 3-D Secure (the URL is printed), 1 when
    it was declined (the reason is printed).

    Example: payment-cli pay --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b --amount 20.00
    --currency usd --payment-method pm_card_visa --idempotency-key order-1042 --json
    """
    _emit_payment(context.payments.pay(**fields), as_json=as_json)


@main.group(cls=LazyGroup, lazy=PAYMENTS)
def payments() -> None:
    """Look up payments and bring them up to date with Stripe.

    Example: payment-cli payments list --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b
    """


@payments.command("show")
@click.argument("payment_id")
@json_option
@pass_context
def payments_show(context: Context, payment_id: str, as_json: bool) -> None:
    """Show one payment.

    Example: payment-cli payments show 0b6f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e --json
    """
    payment = context.payments.get_payment(payment_id)
    emit(payment.to_dict(), _payment_line(payment), as_json=as_json)


@payments.command("refresh")
@click.argument("payment_id")
@json_option
@pass_context
def payments_refresh(context: Context, payment_id: str, as_json: bool) -> None:
    """Ask Stripe where a payment stands (e.g. after 3-D Secure) and record it.

    Example: payment-cli payments refresh 0b6f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e
    """
    payment = context.payments.refresh_payment(payment_id)
    emit(payment.to_dict(), _payment_line(payment), as_json=as_json)


@main.command("quickstart")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@guarded
@click.pass_context
def quickstart(ctx: click.Context, as_json: bool) -> None:
    """Try everything in seconds: a payment that starts a subscription, a decline, a signed
    webhook processed by the worker, and a refund that cancels the subscription.

    Uses PAYMENT_DATABASE_URL (default: payments.db here, migrated first) and an in-process
    Stripe emulator, or real Stripe test mode when PAYMENT_STRIPE_API_KEY is set without
    PAYMENT_STRIPE_API_BASE. Exits 0 only if every scenario passes.

    Example: payment-cli quickstart
    """
    parent = ctx.find_root()
    if parent.get_parameter_source("log_level") == click.core.ParameterSource.DEFAULT:
        configure_logging("critical")  # the declined card is expected: keep the story readable
    context = ctx.find_object(Context)
    assert context is not None  # main() always makes one
    settings = context.settings
    from payment_cli.quickstart import run_quickstart  # the emulator: only when asked for

    sys.exit(0 if run_quickstart(settings, as_json=as_json) else EXIT_FAILED)


