"""Refusing input that holds a card number: the one check every edge of the library calls."""

from __future__ import annotations

from collections.abc import Mapping

from payment_lib.domain.card_data import holds_card_number
from payment_lib.domain.errors import InvalidRequest


def refuse_card_numbers(fields: Mapping[str, object]) -> None:
    """Raise InvalidRequest naming the first field that holds a card number, never the number.

    Args:
        fields: input field name -> value as given (text, mapping, list, number, object).

    Raises:
        InvalidRequest: ``param`` is the field's name; nothing was changed.
    """
    for name, value in fields.items():
        if holds_card_number(value):
            raise InvalidRequest(
                f"{name} looks like it holds a card number. Never send card numbers: collect "
                "cards with Stripe and pass the PaymentMethod id (pm_...).",
                param=name,
            )
