"""The emulator's state: every object by id, the event log, and the context of one API call.

All reads and writes happen under ``Store.lock`` (one request at a time inside the state), so
handlers can read, decide and mutate without races. Objects are Stripe-shaped dicts; facts
Stripe keeps but does not show (the test card behind a PaymentMethod, a 3-D Secure return
URL) live in ``Store.hidden``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payment_lib.testing import errors, objects
from payment_lib.testing.forms import Params
from payment_lib.testing.webhooks import WebhookDelivery

Obj = dict[str, Any]


class StoredEvent:
    """An event and, once someone asks for it, its JSON (then fixed, so resends are identical).

    Serializing lazily keeps the hot path cheap: most events are never listed or delivered.
    """

    __slots__ = ("_payload", "created", "event", "id", "type")

    def __init__(self, event: Obj) -> None:
        self.event = event
        self.id: str = event["id"]
        self.type: str = event["type"]
        self.created: int = event["created"]
        self._payload: bytes | None = None

    @property
    def payload(self) -> bytes:
        """The event's JSON; call under the store's lock."""
        if self._payload is None:
            self._payload = json.dumps(self.event).encode()
        return self._payload


@dataclass
class Call:
    """One API request as handlers see it."""

    params: Params
    request_id: str | None
    idempotency_key: str | None
    api_version: str
    base_url: str
    now: int = field(default_factory=lambda: int(time.time()))
    # Set once validation passed and the request changes state: from then on its outcome
    # (success or error) is what the idempotency key replays.
    executing: bool = False
    after_response: list[Callable[[], None]] = field(default_factory=list)


class Store:
    """Objects, hidden facts and events, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.webhooks: WebhookDelivery | None = None
        self.objects: dict[str, Obj] = {}
        self.hidden: dict[str, Obj] = {}
        # Each kind's objects in insertion order, which is creation order: lists walk these
        # from a cursor's position instead of sorting everything for every page.
        self.kinds: dict[str, list[Obj]] = {}
        self.positions: dict[str, int] = {}
        self.events: list[StoredEvent] = []
        self.events_by_id: dict[str, StoredEvent] = {}
        self.event_positions: dict[str, int] = {}

    def clear(self) -> None:
        with self.lock:
            self.objects.clear()
            self.hidden.clear()
            self.kinds.clear()
            self.positions.clear()
            self.events.clear()
            self.events_by_id.clear()
            self.event_positions.clear()

    def add(self, obj: Obj, **hidden: Any) -> Obj:
        object_id = obj["id"]
        self.objects[object_id] = obj
        self.hidden[object_id] = hidden
        same_kind = self.kinds.setdefault(obj["object"], [])
        self.positions[object_id] = len(same_kind)
        same_kind.append(obj)
        return obj

    def replace(self, obj: Obj) -> None:
        """Put ``obj`` where the object with its id was (a deleted customer's stub, say)."""
        object_id = obj["id"]
        self.objects[object_id] = obj
        self.kinds[obj["object"]][self.positions[object_id]] = obj

    def position(self, kind: str, object_id: str) -> int | None:
        """Where an object of this kind stands in ``kinds[kind]``; None if it is not one."""
        index = self.positions.get(object_id)
        same_kind = self.kinds.get(kind)
        if index is None or same_kind is None or same_kind[index]["id"] != object_id:
            return None
        return index

    def find(self, kind: str, object_id: object, *, param: str = "id", status: int = 404) -> Obj:
        """The object of this kind, or the error Stripe gives for a missing one."""
        found = self.objects.get(object_id) if isinstance(object_id, str) else None
        if found is None or found["object"] != kind or found.get("deleted"):
            error = errors.no_such(kind, str(object_id), param=param)
            error.status = status
            raise error
        return found

    def of_kind(self, kind: str) -> list[Obj]:
        """Objects of one kind, oldest first (deleted ones left out)."""
        with self.lock:
            return [obj for obj in self.kinds.get(kind, ()) if not obj.get("deleted")]

    def record(self, call: Call, event_type: str, obj: Obj, previous: Obj | None = None) -> None:
        """Log the event Stripe would send for a state change (a snapshot of ``obj``)."""
        # A shallow copy is a true snapshot: state changes replace top-level fields and never
        # edit nested objects in place.
        event = objects.event(
            event_type,
            dict(obj),
            created=call.now,
            api_version=call.api_version,
            pending_webhooks=1 if self.webhooks is not None and self.webhooks.enabled else 0,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
            previous_attributes=previous,
        )
        stored = StoredEvent(event)
        self.event_positions[stored.id] = len(self.events)
        self.events.append(stored)
        self.events_by_id[stored.id] = stored
        if self.webhooks is not None:
            self.webhooks.enqueue(stored.id)

    def event_payload(self, event_id: str) -> bytes | None:
        with self.lock:
            stored = self.events_by_id.get(event_id)
            return stored.payload if stored else None

    def expanded(self, obj: Obj, paths: object) -> Obj:
        """``obj`` with the ids at ``expand[]`` paths (``latest_charge``,
        ``data.payment_intent``, ``latest_charge.payment_method``) replaced by their objects."""
        result = obj
        for path in paths if isinstance(paths, list) else [paths]:
            result = self._expand(result, str(path).split("."))
        return result

    def _expand(self, obj: Obj, parts: list[str]) -> Obj:
        head, rest = parts[0], parts[1:]
        value = obj[head] if head in obj else self._included(obj, head)
        if value is None and head not in obj:
            raise errors.invalid(f"This property cannot be expanded ({head}).", param="expand")
        copied = dict(obj)
        if head == "data" and isinstance(value, list) and rest:
            copied[head] = [self._expand(item, rest) for item in value]
            return copied
        if isinstance(value, str) and value in self.objects:
            value = self.objects[value]
        if isinstance(value, dict):
            copied[head] = self._expand(value, rest) if rest else value
        return copied

    def _included(self, obj: Obj, name: str) -> Obj | None:
        """What Stripe sends only when asked to expand it: a charge's ``refunds`` (the first
        page, newest first; ``url`` lists the rest)."""
        if obj.get("object") != "charge" or name != "refunds":
            return None
        refunds = [
            item for item in reversed(self.kinds.get("refund", ())) if item["charge"] == obj["id"]
        ]
        return {
            "object": "list",
            "data": refunds[:10],
            "has_more": len(refunds) > 10,
            "url": f"/v1/charges/{obj['id']}/refunds",
        }
