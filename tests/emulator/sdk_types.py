"""What the installed stripe-python declares: its resource classes' fields and enums, and
the parameters its services' typed params (``*Params`` TypedDicts) accept.

The conformance and strictness tests read the SDK through this module, so they check the
emulator against whichever SDK version is installed. Run it as a script to regenerate the
parameter table the emulator ships (it never imports the SDK itself)::

    .venv/bin/python tests/emulator/sdk_types.py --write
"""

from __future__ import annotations

import builtins
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import stripe
import stripe.params
from stripe._request_options import RequestOptions

PARAMETERS_FILE = (
    Path(__file__).resolve().parents[2] / "payment_lib" / "testing" / "parameters.json"
)

# A parameter node, as payment_lib/testing/parameters.json writes it: "s" a scalar, "m" a
# hash with free keys (metadata), [node] an array of nodes, {name: node} a hash with known
# keys (its key "" set to "s" when a scalar is accepted in its place, as ``created=N``).
Node = Any

_REQUEST_OPTIONS = frozenset(RequestOptions.__annotations__)


class _Names(dict[str, Any]):
    """Names for evaluating the SDK's string annotations: the module's and class's own, then
    builtins, then what ``stripe`` exports; names only imported under TYPE_CHECKING that
    ``stripe`` does not export become placeholder classes."""

    def __missing__(self, name: str) -> Any:
        for source in (builtins, stripe, stripe.params):
            if hasattr(source, name):
                return getattr(source, name)
        return type(name, (), {"__unresolved__": True})


def type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of an SDK class (a resource, a nested StripeObject or a
    params TypedDict), inherited ones included, private and request options left out."""
    if _is_typed_dict(cls):
        annotations = {k: v for k, v in cls.__annotations__.items() if k not in _REQUEST_OPTIONS}
    else:
        annotations = {}
        for base in reversed(cls.__mro__):
            annotations.update(inspect.get_annotations(base))
    public = {k: v for k, v in annotations.items() if not k.startswith("_") and k.islower()}
    names = _Names(vars(sys.modules[cls.__module__]))
    for base in reversed(cls.__mro__):
        names.update(vars(base))
    holder = types.new_class(f"{cls.__name__}Hints")
    holder.__annotations__ = public
    holder.__module__ = cls.__module__
    return typing.get_type_hints(holder, localns=names)


def _is_typed_dict(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, dict) and hasattr(cls, "__required_keys__")


# Parameters ---------------------------------------------------------------------------------


def service_method(operation: str) -> Any:
    """The SDK method behind an operation name: ``payment_intents.create`` is
    ``client.v1.payment_intents.create``; a capitalized one names a resource's method where
    the client has no service for it (``Charge.list_refunds``)."""
    target: Any = stripe if operation[0].isupper() else stripe.StripeClient("sk_test_x").v1
    for part in operation.split("."):
        target = getattr(target, part)
    return target


def params_class(operation: str) -> type | None:
    """The ``*Params`` TypedDict an operation takes (None: it takes no parameters)."""
    signature = inspect.signature(service_method(operation))
    if "params" not in signature.parameters:
        return None
    found = re.search(r"(\w+Params)\b", str(signature.parameters["params"].annotation))
    assert found, f"{operation}: no params class in {signature}"
    cls: type = getattr(stripe.params, found.group(1))
    return cls


def params_schema(operation: str) -> dict[str, Node]:
    """Every parameter an operation's typed params declare, as a tree of nodes."""
    cls = params_class(operation)
    return {} if cls is None else _node(cls)  # type: ignore[no-any-return]


def _node(annotation: Any) -> Node:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal and args == ("",):
        return "e"  # the empty string that unsets a hash or array: accepted for any of them
    if origin in (typing.Union, types.UnionType):
        parts = [_node(arg) for arg in args if arg is not type(None)]
        parts = [part for part in parts if part != "e"] or ["s"]
        structured = [part for part in parts if not isinstance(part, str)]
        if not structured:
            return "m" if "m" in parts else "s"
        chosen = structured[0]
        if "s" in parts and isinstance(chosen, dict):
            chosen = {**chosen, "": "s"}
        return chosen
    if origin is list:
        return [_node(args[0])]
    if origin is dict or "UntypedStripeObject" in str(annotation):
        return "m"
    if _is_typed_dict(annotation):
        return {name: _node(value) for name, value in sorted(type_hints(annotation).items())}
    return "s"  # str, int, bool, float, Literal


def leaf_paths(node: Node, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(bracketed name, example value)`` for every scalar a schema declares; arrays are
    probed at index 0."""
    if isinstance(node, dict):
        for name, child in node.items():
            if name:
                yield from leaf_paths(child, f"{prefix}[{name}]" if prefix else name)
    elif isinstance(node, list):
        yield from leaf_paths(node[0], f"{prefix}[0]")
    elif node == "m":
        yield f"{prefix}[probe_key]", "probe value"
    else:
        yield prefix, "1"


def hash_paths(node: Node, prefix: str = "") -> Iterator[str]:
    """The bracketed name of every hash with known keys ("" for the top level)."""
    if isinstance(node, dict):
        yield prefix
        for name, child in node.items():
            if name:
                yield from hash_paths(child, f"{prefix}[{name}]" if prefix else name)
    elif isinstance(node, list):
        yield from hash_paths(node[0], f"{prefix}[0]")


# Resources ----------------------------------------------------------------------------------


def literal_values(annotation: Any) -> frozenset[Any] | None:
    """The values a ``Literal`` (alone, optional, or in a union with ``str``) allows."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return frozenset(args)
    if origin in (typing.Union, types.UnionType):
        found = [literal_values(arg) for arg in args]
        values = [value for value in found if value is not None]
        return frozenset().union(*values) if values else None
    return None


# The parameter table ------------------------------------------------------------------------


def parameter_table(operations: list[str]) -> dict[str, Node]:
    return {operation: params_schema(operation) for operation in sorted(operations)}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(PARAMETERS_FILE.parents[2]))
    from payment_lib.testing.routes import ROUTES

    table = parameter_table(sorted({route.operation for route in ROUTES.values()}))
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    if "--write" in argv:
        PARAMETERS_FILE.write_text(text)
        print(f"wrote {PARAMETERS_FILE} ({len(text):,} bytes) from stripe {stripe.VERSION}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
