"""List endpoints and events: Stripe's cursor pagination (newest first, ``limit``,
``starting_after``, ``ending_before``, ``created[gte]``...) and the event log endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from payment_lib.testing.errors import invalid, no_such
from payment_lib.testing.forms import Params
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import ANY, accepting, check_known, integer

LIST_PARAMS = accepting("limit starting_after ending_before created expand")
EVENT_LIST_PARAMS = {**LIST_PARAMS, **accepting("type types delivery_success")}

_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def page(
    items_oldest_first: list[Any],
    params: Params,
    id_of: Callable[[Any], str] = lambda item: item["id"],
    created_of: Callable[[Any], int] = lambda item: item["created"],
) -> tuple[list[Any], bool]:
    """One page of a list, newest first, and whether more follow."""
    limit = integer(params, "limit", minimum=1) or 10
    if limit > 100:
        raise invalid(
            "This value must be less than or equal to 100.",
            code="parameter_invalid_integer",
            param="limit",
        )
    items = list(reversed(items_oldest_first))
    created = params.get("created")
    if isinstance(created, dict):
        for operator, bound in created.items():
            if operator not in _COMPARE:
                raise invalid(
                    f"Received unknown parameter: created[{operator}]",
                    code="parameter_unknown",
                    param=f"created[{operator}]",
                )
            limit_value = int(bound)
            items = [item for item in items if _COMPARE[operator](created_of(item), limit_value)]
    elif created is not None:
        items = [item for item in items if created_of(item) == int(created)]
    ids = [id_of(item) for item in items]
    if params.get("starting_after"):
        items = items[_position(ids, params["starting_after"], "starting_after") + 1 :]
        return items[:limit], len(items) > limit
    if params.get("ending_before"):
        items = items[: _position(ids, params["ending_before"], "ending_before")]
        return items[-limit:], len(items) > limit
    return items[:limit], len(items) > limit


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise invalid(f"No such object: '{cursor}'", code="resource_missing", param=param) from None


def listed(store: Store, params: Params, kind: str, url: str, filters: tuple[str, ...] = ()) -> Obj:
    """A page of one kind of object, filtered on equality of the named fields."""
    items = store.of_kind(kind)
    for name in filters:
        if params.get(name):
            items = [item for item in items if item[name] == params[name]]
    chosen, more = page(items, params)
    return list_object(chosen, more, url)


def list_object(data: list[Obj], has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def list_events(store: Store, call: Call) -> Obj:
    params = call.params
    check_known(params, EVENT_LIST_PARAMS)
    wanted: set[str] | None = None
    if params.get("type"):
        wanted = {params["type"]}
    elif isinstance(params.get("types"), list):
        wanted = set(params["types"])
    events = store.events
    if wanted is not None:
        events = [event for event in events if _matches(event.type, wanted)]
    chosen, more = page(
        events, params, id_of=lambda event: event.id, created_of=lambda event: event.created
    )
    return list_object([json.loads(event.payload) for event in chosen], more, "/v1/events")


def _matches(event_type: str, wanted: set[str]) -> bool:
    """``type`` accepts exact names and ``*`` wildcards such as ``charge.*``."""
    return any(
        event_type == pattern or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))
        for pattern in wanted
    )


def retrieve_event(store: Store, call: Call, event_id: str) -> Obj:
    check_known(call.params, {"expand": ANY})
    stored = store.events_by_id.get(event_id)
    if stored is None:
        raise no_such("event", event_id)
    result: Obj = json.loads(stored.payload)
    return result
