"""A log line rendered once, and written as it is when its text proves it holds no card number.

The last processor ``configure_logging`` installs: it renders the event (JSON or console), then
looks at the line once (``written_json_holds_no_card_number``: no escape, no exponent, so the
text a reader decodes is the text written, and the card rule finds nothing in it; most lines
are settled by the rule's cheap candidate test). Almost every line passes and is written as
rendered: no walk of the event's values. A line that fails the test goes the careful way:
every key and value redacted (``redact_value``), rendered again; for JSON the decoded line
checked and redacted again (an object's repr, which JSON lines show, may hold a number its text
does not); and last the text itself redacted (a console line renders an exception after every
processor).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from structlog.processors import _json_fallback_handler, add_log_level, format_exc_info

from payment_lib.domain.card_data import (
    holds_card_number,
    redact_card_numbers,
    redact_value,
    written_json_holds_no_card_number,
)

Renderer = Callable[[Any, str, MutableMapping[str, Any]], str]

# What structlog's JSONRenderer() writes, with the encoder built once (json.dumps with a
# ``default`` builds a new one for every line).
_ENCODER = json.JSONEncoder(default=_json_fallback_handler)


def render_json(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
    """structlog processor: the event as one JSON object, exactly as JSONRenderer() renders
    it (objects JSON does not know: their ``__structlog__()`` or repr)."""
    return _ENCODER.encode(event)


# The date and time of the current second, formatted once: (epoch second, "YYYY-MM-DDTHH:MM:SS").
_second: tuple[int, str] = (-1, "")


def utc_iso(ns: int) -> str:
    """Nanoseconds since the epoch as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes
    them: ``2026-12-01T04:01:20.132249Z`` (microseconds floored, as ``datetime.now`` does; no
    fraction when they are zero, as ``isoformat`` does)."""
    global _second
    seconds, rest = divmod(ns, 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    micro = rest // 1000
    return f"{cached[1]}.{micro:06d}Z" if micro else f"{cached[1]}Z"


def add_timestamp(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``timestamp``, now, as ``TimeStamper(fmt="iso", utc=True)`` sets
    it, at a third of its cost (the date and time formatted once a second)."""
    event["timestamp"] = utc_iso(time.time_ns())
    return event


class ScrubbedRenderer:
    """structlog's last processor: ``renderer``'s line, proven free of card numbers.

    ``json_lines``: the renderer writes JSON (``render_json``), so the careful way also reads
    the line back as a reader would. Other renderers may change the event they are given
    (structlog's ConsoleRenderer pops keys): they get a copy.
    """

    def __init__(self, renderer: Renderer, *, json_lines: bool) -> None:
        self._render = renderer
        self._json_lines = json_lines

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        line = self._render(logger, method, event if self._json_lines else dict(event))
        if written_json_holds_no_card_number(line):
            return line
        return self._scrubbed(logger, method, event)

    def _scrubbed(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        redacted = {redact_value(key): redact_value(value) for key, value in event.items()}
        line = self._render(logger, method, redacted)
        if self._json_lines:
            document = json.loads(line)
            if holds_card_number(document):
                line = _ENCODER.encode(redact_value(document))
        return redact_card_numbers(line)


class JsonLine:
    """structlog's processors after ``merge_contextvars`` for JSON lines, in one: the level
    (``add_log_level``), the time (``add_timestamp``), an exception's traceback
    (``format_exc_info``, asked only when the event has ``exc_info``), then the line rendered
    and proven (``ScrubbedRenderer``). The same line as those four in a row, with fewer calls."""

    def __init__(self) -> None:
        self._finish = ScrubbedRenderer(render_json, json_lines=True)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        add_log_level(logger, method, event)
        event["timestamp"] = utc_iso(time.time_ns())
        if "exc_info" in event:
            event = format_exc_info(logger, method, event)
        return self._finish(logger, method, event)
