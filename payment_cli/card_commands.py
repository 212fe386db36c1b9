"""payment-cli cards list/default/remove: a user's saved cards."""

from __future__ import annotations

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option
from payment_lib import CardInfo


def _card_line(card: CardInfo) -> str:
    expiry = f"{card.exp_month:02d}/{card.exp_year}" if card.exp_month and card.exp_year else "-"
    line = f"{card.id}  {card.brand or 'card':<10} **** {card.last4 or '----'}  exp {expiry}"
    if card.removed_at is not None:
        return line + f"  removed {card.removed_at:%Y-%m-%d %H:%M} UTC"
    if card.default:
        line += f"  default ({len(card.subscriptions)} live subscription(s))"
    return line


@click.group()
def cards() -> None:
    """A user's saved cards: list them, choose the default, remove one.

    Example: payment-cli cards list --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b
    """


@cards.command("list")
@click.option("--user", "user_id", required=True, help="The user's UUID.")
@json_option
@pass_context
def cards_list(context: Context, user_id: str, as_json: bool) -> None:
    """List a user's saved cards: brand, last 4 digits, expiry, and whether renewals use it.

    Example: payment-cli cards list --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b --json
    """
    found = context.payments.list_cards(user_id)
    text = "\n".join(_card_line(c) for c in found) if found else "no saved cards"
    emit({"cards": [c.to_dict() for c in found]}, text, as_json=as_json)


@cards.command("default")
@click.option("--user", "user_id", required=True, help="The user's UUID.")
@click.argument("payment_method")
@json_option
@pass_context
def cards_default(context: Context, user_id: str, payment_method: str, as_json: bool) -> None:
    """Make a saved card (pm_..., as cards list shows it) the user's default: every live
    subscription renews with it, and it is the Stripe Customer's invoice default.

    Exits 6 when the user has no such card, 2 when it was removed.

    Example: payment-cli cards default --user 3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b pm_1Q2w3E4r5T6y
    """
    card = context.payments.set_default_card(user_id, payment_method)
    emit(card.to_dict(), _card_line(card), as_json=as_json)


@cards.command("remove")
@click.argument("payment_method")
@json_option
@pass_context
def cards_remove(context: Context, payment_method: str, as_json: bool) -> None:
    """Remove a saved card: detached at Stripe for good, no longer listed or charged.

    Exits 2 when a live subscription renews with it (make another card the default first),
    6 when there is no such card. Removing a removed card changes nothing.

    Example: payment-cli cards remove pm_1Q2w3E4r5T6y --json
    """
    card = context.payments.remove_card(payment_method)
    emit(card.to_dict(), _card_line(card), as_json=as_json)
