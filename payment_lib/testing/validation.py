"""Parameter values checked with Stripe's error codes and wording: missing parameters,
integers, booleans, enums, amounts and currencies (which parameters exist at all is
``parameters``' business).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from payment_lib.domain.money import (
    MAX_MINOR_UNITS,
    SUPPORTED,
    THREE_DECIMAL,
    format_amount,
    minimum_charge,
)
from payment_lib.testing.errors import ApiError, invalid, missing_param
from payment_lib.testing.forms import Params

_INTEGER = re.compile(r"-?[0-9]+")
_SYMBOLS = {
    "usd": "$",
    "cad": "$",
    "aud": "$",
    "nzd": "$",
    "sgd": "$",
    "hkd": "$",
    "mxn": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "inr": "₹",
}


def required(params: Params, name: str) -> Any:
    if name not in params or params[name] == "":
        raise missing_param(name)
    return params[name]


def integer(
    params: Params, name: str, *, minimum: int | None = None, param: str | None = None
) -> int | None:
    """An integer parameter (None when absent); errors name it ``param`` (default ``name``),
    so a nested one can be reported by its full name, ``created[gte]``."""
    raw = params.get(name)
    if raw is None:
        return None
    shown_as = param or name
    if not isinstance(raw, str) or not _INTEGER.fullmatch(raw):
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=shown_as)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid(
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=shown_as,
        )
    return value


def boolean(params: Params, name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)
    return bool(raw == "true")


def one_of(
    params: Params, name: str, allowed: Collection[str], *, param: str | None = None
) -> str | None:
    """An enum parameter (None when absent or empty); errors name it ``param`` (default
    ``name``)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        choices = ", ".join(f"`{choice}`" for choice in allowed)
        raise invalid(f"Invalid {name}: must be one of {choices}", param=param or name)
    return str(raw)


def text(params: Params, name: str) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise invalid(f"Invalid string: {raw!r}", code="parameter_invalid_string", param=name)
    return raw


def currency(params: Params) -> str:
    code = str(required(params, "currency")).lower()
    if code not in SUPPORTED:
        raise invalid(
            f"Invalid currency: {code}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param="currency",
        )
    return code


def shown(minor: int, code: str) -> str:
    """An amount as Stripe writes it in messages: ``$0.50`` (symbol, grouped digits)."""
    whole, _, fraction = format_amount(minor, code).partition(".")
    grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"{_SYMBOLS.get(code, '')}{grouped}"


def charge_amount(params: Params, code: str) -> int:
    """The ``amount`` of a charge in minor units, checked against the currency's limits."""
    required(params, "amount")
    amount = integer(params, "amount", minimum=1)
    assert amount is not None
    least = minimum_charge(code)
    if amount < least:
        raise ApiError(
            400,
            f"Amount must be at least {shown(least, code)} {code}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAX_MINOR_UNITS:
        raise ApiError(
            400,
            f"Amount must be no more than {shown(MAX_MINOR_UNITS, code)} {code}",
            code="amount_too_large",
            param="amount",
        )
    if code in THREE_DECIMAL and amount % 10:
        # (unconfirmed wording) Stripe documents that the last digit must be 0.
        raise invalid(
            f"Amounts in {code.upper()} must be multiples of 10 (the last digit must be 0).",
            code="parameter_invalid_integer",
            param="amount",
        )
    return amount
