"""Stripe's form encoding, read back: ``a[b][0]=v`` pairs into nested dicts and lists.

The SDK sends ``application/x-www-form-urlencoded`` bodies (and query strings for GET) with
nested keys: ``metadata[order]=42``, arrays indexed ``expand[0]=latest_charge``, booleans as
``true``/``false``. Values stay strings; each endpoint decides what they mean.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

Params = dict[str, Any]

# Objects whose keys are the caller's own: ``metadata[0]=x`` is a key "0", not an array.
_FREE_FORM = frozenset({"metadata"})


def form_pairs(text: str) -> list[tuple[str, str]]:
    """The raw ``(key, value)`` pairs of a form body or query string."""
    return parse_qsl(text, keep_blank_values=True)


def parse_form(text: str) -> Params:
    """Decode a form body or query string into nested parameters."""
    return nest(form_pairs(text))


def nest(pairs: list[tuple[str, str]]) -> Params:
    """Build nested parameters from ``a[b][0]=v`` pairs.

    Raises:
        ValueError: when a key is malformed (an unclosed bracket) or used both as a value and
            as a container; the caller answers 400.
    """
    root: Params = {}
    for key, value in pairs:
        _assign(root, _split_key(key), value)
    # The top level is always a hash: ``0=x`` is an (unknown) parameter named "0".
    return {
        key: _listify(value, key) if isinstance(value, dict) else value
        for key, value in root.items()
    }


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = [head]
    for piece in ("[" + rest).split("]")[:-1]:
        if not piece.startswith("["):
            raise ValueError(f"Invalid parameter name: {key}")
        parts.append(piece[1:])
    if not ("[" + rest).endswith("]"):
        raise ValueError(f"Invalid parameter name: {key}")
    return parts


def _assign(node: Params, parts: list[str], value: str) -> None:
    for depth, part in enumerate(parts[:-1]):
        if part == "":
            part = str(len(node))
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"Invalid parameter name: {'['.join(parts[: depth + 2])}")
        node = child
    last = parts[-1] if parts[-1] != "" else str(len(node))
    if isinstance(node.get(last), dict):
        raise ValueError(f"Invalid parameter name: {last}")
    node[last] = value


def _listify(node: Params, name: str) -> Any:
    """Turn ``{"0": a, "1": b}`` into ``[a, b]``, except where keys are the caller's own."""
    converted = {
        key: _listify(value, key) if isinstance(value, dict) else value
        for key, value in node.items()
    }
    if name not in _FREE_FORM and converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
