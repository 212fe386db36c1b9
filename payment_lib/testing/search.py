"""Search: ``GET /v1/payment_intents/search`` and ``GET /v1/charges/search`` with Stripe's
query language, answering ``search_result`` pages newest first.

A query is clauses ``field operator value`` joined by spaces or ``AND``, or by ``OR`` (not
both), each negatable with a leading ``-``: ``metadata['order']:'17' AND -status:'canceled'``.
String values are quoted with ``'`` or ``"`` (a backslash escapes a quote inside); numbers may
be bare; ``:`` matches exactly and numeric fields also take ``>``, ``>=``, ``<``, ``<=`` and
``=``. ``metadata['key']:null`` matches objects without that key. Anything else is a 400 on
``query``, as at Stripe (whose wording here is unconfirmed).

Unlike Stripe's search, which is eventually consistent (new or changed objects can take a
minute to show), this one sees every change at once.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from payment_lib.testing.errors import ApiError, invalid, missing_param
from payment_lib.testing.lists import page_limit, walk
from payment_lib.testing.store import Call, Obj, Store

NUMBER, STRING, BOOLEAN = "number", "string", "boolean"
# The query fields Stripe documents for each resource (metadata['key'] on both).
PAYMENT_INTENT_FIELDS = {
    "amount": NUMBER,
    "created": NUMBER,
    "currency": STRING,
    "customer": STRING,
    "status": STRING,
}
CHARGE_FIELDS = {
    **PAYMENT_INTENT_FIELDS,
    "disputed": BOOLEAN,
    "refunded": BOOLEAN,
    "billing_details.address.postal_code": STRING,
    "payment_method_details.card.brand": STRING,
    "payment_method_details.card.exp_month": NUMBER,
    "payment_method_details.card.exp_year": NUMBER,
    "payment_method_details.card.fingerprint": STRING,
    "payment_method_details.card.last4": STRING,
}
MAX_CLAUSES = 10

_KEYWORD = re.compile(r"(?:and|or)(?=\s)", re.IGNORECASE)
_NEGATION = re.compile(r"-")
_METADATA = re.compile(r"metadata\[")
_CLOSE = re.compile(r"\]")
_FIELD = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_OPERATOR = re.compile(r">=|<=|:|>|<|=|~")
_BARE = re.compile(r"[^\s'\"]+")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_COMPARE = {
    ">": lambda actual, bound: actual > bound,
    ">=": lambda actual, bound: actual >= bound,
    "<": lambda actual, bound: actual < bound,
    "<=": lambda actual, bound: actual <= bound,
}

Value = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Clause:
    """``[-]field operator value``; ``operator`` is ``:`` (equal) or a comparison."""

    path: tuple[str, ...]
    operator: str
    value: Value
    negated: bool

    def matches(self, obj: Obj) -> bool:
        actual = _value_at(obj, self.path)
        if self.operator == ":":
            hit = actual == self.value
        else:
            hit = isinstance(actual, int) and _COMPARE[self.operator](actual, self.value)
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool  # joined by OR (else AND)

    def matches(self, obj: Obj) -> bool:
        hits = (clause.matches(obj) for clause in self.clauses)
        return any(hits) if self.any_of else all(hits)


def search_payment_intents(store: Store, call: Call) -> Obj:
    return _search(store, call, "payment_intent", "payment_intents", PAYMENT_INTENT_FIELDS)


def search_charges(store: Store, call: Call) -> Obj:
    return _search(store, call, "charge", "charges", CHARGE_FIELDS)


def _search(store: Store, call: Call, kind: str, resource: str, fields: Mapping[str, str]) -> Obj:
    params = call.params
    text = params.get("query")
    if text is None:
        raise missing_param("query")
    if not isinstance(text, str):
        raise _bad("The query must be a string.")
    query = parse_query(text, fields, resource)
    limit = page_limit(params)
    items = store.kinds.get(kind, [])
    start = len(items) - 1
    if params.get("page"):
        start = _page_position(store, kind, params["page"]) - 1
    found = walk(items, start, -1, query.matches, limit + 1)
    data, more = found[:limit], len(found) > limit
    return {
        "object": "search_result",
        "data": data,
        "has_more": more,
        "next_page": _page_token(data[-1]["id"]) if more else None,
        "url": f"/v1/{resource}/search",
    }


def parse_query(text: str, fields: Mapping[str, str], resource: str) -> Query:
    """Read a query in Stripe's search language.

    Raises:
        ApiError: 400 on ``query`` for anything malformed or a field the resource lacks.
    """
    reader = _Reader(text)
    clauses: list[Clause] = []
    joiners: set[str] = set()
    reader.skip_space()
    while not reader.done:
        if clauses:  # a space alone joins with AND
            joiners.add((reader.take(_KEYWORD) or "AND").upper())
            reader.skip_space()
        clauses.append(_clause(reader, fields, resource))
        reader.skip_space()
    if not clauses:
        raise _bad("The query is empty; give at least one clause, such as status:'succeeded'.")
    if len(joiners) > 1:
        raise _bad("AND and OR cannot be combined in one query.")
    if len(clauses) > MAX_CLAUSES:
        raise _bad(f"A query can have at most {MAX_CLAUSES} clauses.")
    return Query(tuple(clauses), joiners == {"OR"})


class _Reader:
    """A cursor over the query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    @property
    def done(self) -> bool:
        return self.at >= len(self.text)

    def skip_space(self) -> None:
        while not self.done and self.text[self.at].isspace():
            self.at += 1

    def take(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.match(self.text, self.at)
        if found is None:
            return None
        self.at = found.end()
        return found.group(0)

    def quoted(self) -> str | None:
        """A '...' or "..." string with backslash escapes, unquoted; None if none starts here."""
        if self.done or self.text[self.at] not in "'\"":
            return None
        quote, self.at = self.text[self.at], self.at + 1
        chars: list[str] = []
        while not self.done:
            char = self.text[self.at]
            self.at += 1
            if char == "\\" and not self.done:
                chars.append(self.text[self.at])
                self.at += 1
            elif char == quote:
                return "".join(chars)
            else:
                chars.append(char)
        raise _bad(f"A quoted value is not closed: {quote}{''.join(chars)}")


def _clause(reader: _Reader, fields: Mapping[str, str], resource: str) -> Clause:
    negated = reader.take(_NEGATION) is not None
    path: tuple[str, ...]
    if reader.take(_METADATA):
        key = reader.quoted()
        if key is None or not reader.take(_CLOSE):
            raise _bad("Metadata keys are quoted inside brackets: metadata['key'].")
        path, kind, name = ("metadata", key), STRING, f"metadata['{key}']"
    else:
        name = reader.take(_FIELD) or ""
        if not name:
            raise _bad(f"Expected a field at position {reader.at} of the query.")
        if name not in fields:
            raise _bad(
                f"Field `{name}` is an unsupported search field for resource `{resource}`. See "
                "https://stripe.com/docs/search#query-fields-for-"
                f"{resource.replace('_', '-')} for a list of supported fields."
            )
        path, kind = tuple(name.split(".")), fields[name]
    operator = reader.take(_OPERATOR)
    if operator is None:
        raise _bad(f"Expected an operator (: > >= < <= =) after {name}.")
    value = _value(reader, kind, operator, name, metadata=path[0] == "metadata")
    return Clause(path, ":" if operator == "=" else operator, value, negated)


def _value(reader: _Reader, kind: str, operator: str, name: str, *, metadata: bool) -> Value:
    text = reader.quoted()
    quoted = text is not None
    if text is None:
        text = reader.take(_BARE)
        if text is None:
            raise _bad(f"Expected a value after {name}{operator}.")
    if kind == NUMBER:
        if operator == "~" or not _WHOLE_NUMBER.fullmatch(text):
            raise _bad(f"{name} is numeric: compare it to a whole number, as in {name}>1000.")
        return int(text)
    if operator != ":":
        raise _bad(f"{name} supports only exact matches ({name}:'value').")
    if kind == BOOLEAN:
        if text not in ("true", "false"):
            raise _bad(f"{name} is true or false.")
        return text == "true"
    if not quoted:
        if metadata and text == "null":
            return None
        raise _bad(f"String values must be quoted: {name}:'{text}'.")
    return text.lower() if name == "currency" else text


def _value_at(obj: Obj, path: tuple[str, ...]) -> Value:
    if path[0] == "metadata":
        found: Value = obj["metadata"].get(path[1])
        return found
    current: object = obj
    for part in path:
        current = current.get(part) if isinstance(current, dict) else None
    return current if isinstance(current, str | int | bool) else None


def _page_token(object_id: str) -> str:
    return base64.urlsafe_b64encode(object_id.encode()).decode().rstrip("=")


def _page_position(store: Store, kind: str, token: object) -> int:
    try:
        text = str(token)
        object_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        object_id = ""
    index = store.position(kind, object_id)
    if index is None:
        raise invalid(f"Invalid page: {token}", param="page")
    return index


def _bad(message: str) -> ApiError:
    return invalid(message, param="query")
