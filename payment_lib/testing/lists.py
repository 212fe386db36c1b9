"""List endpoints and events: Stripe's cursor pagination (newest first, ``limit``,
``starting_after``, ``ending_before``), the ``created`` filter, and the event log endpoints.

A page walks the kind's objects in insertion order (which is creation order) from the newest
or from the cursor's position, keeping those that pass the filters, until it has one more than
``limit``: a page costs about ``limit`` steps however long the list, when the filters match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from payment_lib.testing.errors import invalid, no_such, unknown_param
from payment_lib.testing.forms import Params
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import integer

T = TypeVar("T")

_FOREVER = (-(2**63), 2**63)


def page(
    items_oldest_first: Sequence[T],
    params: Params,
    *,
    position: Callable[[str], int | None],
    created_of: Callable[[T], int] = lambda item: item["created"],  # type: ignore[index]
    keep: Callable[[T], bool] | None = None,
) -> tuple[list[T], bool]:
    """One page of a list, newest first, and whether more follow.

    Args:
        items_oldest_first: every item of the list, in creation order.
        params: the request's parameters (``limit``, cursors, ``created``).
        position: where an id stands in ``items_oldest_first`` (None: not in this list).
        created_of: an item's creation time.
        keep: the endpoint's own filters (None: every item).

    Raises:
        ApiError: 400 for a bad ``limit``, ``created`` or cursor.
    """
    limit = page_limit(params)
    low, high = created_bounds(params)

    def wanted(item: T) -> bool:
        return (keep is None or keep(item)) and low <= created_of(item) <= high

    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        start = _cursor(position, after, "starting_after") - 1
        found = walk(items_oldest_first, start, -1, wanted, limit + 1)
    elif before:
        start = _cursor(position, before, "ending_before") + 1
        found = walk(items_oldest_first, start, 1, wanted, limit + 1)
        return found[:limit][::-1], len(found) > limit
    else:
        found = walk(items_oldest_first, len(items_oldest_first) - 1, -1, wanted, limit + 1)
    return found[:limit], len(found) > limit


def page_limit(params: Params) -> int:
    """``limit``: 1 to 100, 10 unless given."""
    limit = integer(params, "limit", minimum=1) or 10
    if limit > 100:
        raise invalid(
            "This value must be less than or equal to 100.",
            code="parameter_invalid_integer",
            param="limit",
        )
    return limit


def created_bounds(params: Params) -> tuple[int, int]:
    """The inclusive range ``created`` allows: ``created=N`` or ``created[gt|gte|lt|lte]=N``.

    Raises:
        ApiError: 400 naming the parameter in full (``created[gte]``) for a value that is not
            an integer, or an operator Stripe does not know.
    """
    created = params.get("created")
    if created is None:
        return _FOREVER
    if isinstance(created, list):
        # Stripe reads indexed keys (created[]=1 arrives as created[0]) as keys of the hash,
        # and no operator is called "0".
        raise unknown_param("created[0]")
    if not isinstance(created, dict):
        exact = integer(params, "created")
        assert exact is not None
        return exact, exact
    low, high = _FOREVER
    for operator in created:
        bound = integer(created, operator, param=f"created[{operator}]")
        assert bound is not None
        if operator == "gt":
            low = max(low, bound + 1)
        elif operator == "gte":
            low = max(low, bound)
        elif operator == "lt":
            high = min(high, bound - 1)
        elif operator == "lte":
            high = min(high, bound)
        else:
            raise unknown_param(f"created[{operator}]")
    return low, high


def walk(
    items: Sequence[T], start: int, step: int, wanted: Callable[[T], bool], count: int
) -> list[T]:
    """Up to ``count`` wanted items from ``start`` on, going ``step`` at a time."""
    found: list[T] = []
    index = start
    while 0 <= index < len(items) and len(found) < count:
        item = items[index]
        if wanted(item):
            found.append(item)
        index += step
    return found


def _cursor(position: Callable[[str], int | None], cursor: object, param: str) -> int:
    index = position(cursor) if isinstance(cursor, str) else None
    if index is None:
        raise invalid(f"No such object: '{cursor}'", code="resource_missing", param=param)
    return index


def listed(store: Store, params: Params, kind: str, url: str, filters: tuple[str, ...] = ()) -> Obj:
    """A page of one kind of object, filtered on equality of the named fields."""
    equal = {name: params[name] for name in filters if params.get(name)}

    def keep(item: Obj) -> bool:
        return not item.get("deleted") and all(item[name] == value for name, value in equal.items())

    chosen, more = page(
        store.kinds.get(kind, []),
        params,
        position=lambda cursor: store.position(kind, cursor),
        keep=keep,
    )
    return list_object(chosen, more, url)


def list_object(data: list[Obj], has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def list_events(store: Store, call: Call) -> Obj:
    params = call.params
    wanted: set[str] | None = None
    if params.get("type"):
        wanted = {params["type"]}
    elif isinstance(params.get("types"), list):
        wanted = set(params["types"])
    chosen, more = page(
        store.events,
        params,
        position=store.event_positions.get,
        created_of=lambda event: event.created,
        keep=None if wanted is None else lambda event: _matches(event.type, wanted),
    )
    return list_object([json.loads(event.payload) for event in chosen], more, "/v1/events")


def _matches(event_type: str, wanted: set[str]) -> bool:
    """``type`` accepts exact names and ``*`` wildcards such as ``charge.*``."""
    return any(
        event_type == pattern or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))
        for pattern in wanted
    )


def retrieve_event(store: Store, call: Call, event_id: str) -> Obj:
    stored = store.events_by_id.get(event_id)
    if stored is None:
        raise no_such("event", event_id)
    result: Obj = json.loads(stored.payload)
    return result
