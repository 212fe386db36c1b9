"""payment-cli disputes list/show: the chargebacks and inquiries webhooks told the library of."""

from __future__ import annotations

import datetime as dt

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option
from payment_lib import DisputeInfo


def _date(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _dispute_line(dispute: DisputeInfo) -> str:
    payment = dispute.payment_id or "(not a payment of this library)"
    return (
        f"{dispute.stripe_dispute_id}  {dispute.status:<22} {dispute.amount}  "
        f"{dispute.reason or '-'}  payment {payment}  evidence due {_date(dispute.evidence_due_by)}"
    )


def _dispute_text(dispute: DisputeInfo) -> str:
    withdrawn = "withdrawn from the balance" if dispute.funds_withdrawn else "not withdrawn"
    return (
        f"{_dispute_line(dispute)}\n"
        f"  id {dispute.id}, charge {dispute.stripe_charge_id or '-'}, amount {withdrawn}\n"
        f"  learned {_date(dispute.created_at)}, closed {_date(dispute.closed_at)}"
    )


@click.group()
def disputes() -> None:
    """Disputes (chargebacks and inquiries) learned from Stripe's webhooks.

    Example: payment-cli disputes list --status needs_response
    """


@disputes.command("list")
@click.option(
    "--status",
    help="Only disputes in this status, e.g. needs_response, under_review, won, lost, "
    "warning_needs_response.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@pass_context
def disputes_list(context: Context, status: str | None, limit: int, as_json: bool) -> None:
    """List disputes, newest first.

    Exits 2 for an unknown status.

    Example: payment-cli disputes list --status needs_response --json
    """
    found = context.payments.list_disputes(status=status, limit=limit)
    text = "\n".join(_dispute_line(d) for d in found) if found else "no disputes"
    emit({"disputes": [d.to_dict() for d in found]}, text, as_json=as_json)


@disputes.command("show")
@click.argument("dispute_id")
@json_option
@pass_context
def disputes_show(context: Context, dispute_id: str, as_json: bool) -> None:
    """Show one dispute, by its id or Stripe's (dp_...).

    Exits 6 when there is no such dispute.

    Example: payment-cli disputes show dp_1QkX2y2eZvKYlo2C0a1b2c3d --json
    """
    dispute = context.payments.get_dispute(dispute_id)
    emit(dispute.to_dict(), _dispute_text(dispute), as_json=as_json)
