"""Which parameters each operation accepts, and the check every API request passes before its
endpoint runs.

``parameters.json`` holds, for every operation the routes serve (``payment_intents.create``),
the parameters stripe-python's typed params declare, generated from the SDK by
``tests/emulator/sdk_types.py --write`` (the emulator itself never imports the SDK). A node is
``"s"`` for a plain value, ``"m"`` for a hash whose keys are the caller's own (metadata),
``[node]`` for an array, ``{name: node}`` for a hash with known keys (its key ``""`` set to
``"s"`` where a plain value may stand instead, as in ``created=N``), ``"*"`` for anything.

The check answers as Stripe does: a key no schema names is 400 ``parameter_unknown`` with its
full bracketed name (``payment_method_options[card][foo]``, also ``customer[x]`` under a
plain value); a plain value where a hash or array belongs is 400 "Invalid hash" / "Invalid
array". An empty value unsets a hash or array. So endpoints can rely on the shapes: a hash
parameter is a dict or "", an array a list or "", anything else a string.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from payment_lib.testing.errors import invalid, unknown_param
from payment_lib.testing.forms import Params

Node = Any

TABLE = Path(__file__).with_name("parameters.json")

# Taken on purpose beyond what the SDK declares. payment_method_types, which this API
# version no longer accepts on PaymentIntents, is refused by the endpoint with Stripe's own
# code. (unconfirmed) The spec leaves ``card`` out of payment_method_data, raw card numbers
# needing PCI compliance, but a test-mode token there is taken as in PaymentMethod create.
_INLINE_CARD = {"payment_method_data": {"card": {"token": "s"}}}
EXTRA: dict[str, dict[str, Node]] = {
    "payment_intents.create": {"payment_method_types": "*", **_INLINE_CARD},
    "payment_intents.confirm": {"payment_method_types": "*", **_INLINE_CARD},
    "payment_intents.update": _INLINE_CARD,
    "setup_intents.create": _INLINE_CARD,
    "setup_intents.confirm": _INLINE_CARD,
}


@functools.cache
def schemas() -> dict[str, dict[str, Node]]:
    """Every operation's parameters: the SDK's, plus ``EXTRA``."""
    table: dict[str, dict[str, Node]] = json.loads(TABLE.read_text())
    for operation, extra in EXTRA.items():
        table[operation] = _merged(table[operation], extra)
    return table


def _merged(schema: dict[str, Node], extra: dict[str, Node]) -> dict[str, Node]:
    merged = dict(schema)
    for name, node in extra.items():
        known = merged.get(name)
        both_hashes = isinstance(known, dict) and isinstance(node, dict)
        merged[name] = _merged(known, node) if both_hashes else node  # type: ignore[arg-type]
    return merged


def check(operation: str, params: Params) -> None:
    """Refuse parameters the operation does not declare, or in the wrong shape.

    Raises:
        ApiError: 400 ``parameter_unknown`` naming the first unknown parameter in full, or
            400 "Invalid hash" / "Invalid array" naming the misshapen one.
    """
    _check_hash(params, schemas()[operation], "")


def _check_hash(given: Params, schema: dict[str, Node], prefix: str) -> None:
    for key, value in given.items():
        name = f"{prefix}[{key}]" if prefix else key
        node = schema.get(key) if key else None
        if node is None:
            raise unknown_param(name)
        if node != "s" or not isinstance(value, str):
            _check(value, node, name)


def _check(value: Any, node: Node, name: str) -> None:
    if node == "*":
        return
    if isinstance(node, dict):
        if isinstance(value, dict):
            _check_hash(value, node, name)
        elif isinstance(value, list):  # a[0]=x: its keys are indexes, which no hash has
            raise unknown_param(f"{name}[0]")
        elif value != "" and node.get("") != "s":
            raise invalid("Invalid hash", param=name)
    elif isinstance(node, list):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check(item, node[0], f"{name}[{index}]")
        elif value != "":
            raise invalid("Invalid array", param=name)
    elif node == "m":
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str):
                    # (unconfirmed wording) Stripe keeps metadata values as strings only.
                    raise invalid("Metadata values must be strings.", param=f"{name}[{key}]")
        elif value != "":
            raise invalid("Invalid hash", param=name)
    elif isinstance(value, dict):  # a plain value given keys: customer[x]
        raise unknown_param(f"{name}[{next(iter(value))}]")
    elif isinstance(value, list):
        raise unknown_param(f"{name}[0]")
