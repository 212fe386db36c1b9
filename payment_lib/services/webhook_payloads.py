"""What a webhook body must be before it is stored: JSON, a Stripe event, not absurdly nested.

Any JSON Stripe may sign is accepted, whatever its strings hold (NUL characters and lone
surrogates included: the column type stores them losslessly on PostgreSQL too). A body nested
deeper than ``MAX_DEPTH`` is refused as ``InvalidRequest``, before anything walks it
recursively (Stripe's events are under ten levels deep).
"""

from __future__ import annotations

import json
from typing import Any

from payment_lib.domain.errors import InvalidRequest

MAX_DEPTH = 64
_FORBIDDEN_IN_ID = "\x00"


def _too_deep() -> InvalidRequest:
    return InvalidRequest(
        f"The webhook payload is nested more than {MAX_DEPTH} levels deep: not a Stripe event.",
        param="payload",
    )


def _check_depth(document: Any) -> None:
    """InvalidRequest when ``document`` nests objects and arrays deeper than MAX_DEPTH; walks
    without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_event(payload: bytes) -> dict[str, Any]:
    """The event in a payload, or InvalidRequest when it is not a Stripe event."""
    try:
        event = json.loads(payload)
    except RecursionError:  # deeper than the parser goes
        raise _too_deep() from None
    except ValueError:  # includes bytes that are not UTF-8
        raise InvalidRequest("The webhook payload is not JSON.", param="payload") from None
    # Each level opens a bracket: a body with few of them cannot nest too deep (walked if not).
    if isinstance(event, dict | list) and payload.count(b"{") + payload.count(b"[") > MAX_DEPTH:
        _check_depth(event)
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(event, dict)
        and _identifier(event.get("id"), 255)
        and _identifier(event.get("type"), 100)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        raise InvalidRequest(
            "The webhook payload is not a Stripe event (id, type and data.object).",
            param="payload",
        )
    return event


def _identifier(value: object, longest: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= longest
        and _FORBIDDEN_IN_ID not in value
    )
