"""Structured logging with a trace id and card-number scrubbing.

Library modules only call ``structlog.get_logger(__name__)``; configuring output is the job of
the CLI or the host application (``configure_logging``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from payment_lib.domain.card_data import holds_card_number, redact_value

TRACE_ID = "trace_id"


def scrub_card_numbers(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace anything that looks like a card number, at any depth: in
    the message, keys, values, numbers and the text of any other object (exceptions, ids) it
    would render. Put it last before the renderer when configuring structlog yourself."""
    if not holds_card_number(event):
        return event
    return {redact_value(key): redact_value(value) for key, value in event.items()}


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """One JSON object per line on ``stream`` (stderr), with trace id, level and UTC time."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_card_numbers,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def utcnow() -> dt.datetime:
    """The current time, aware UTC: the default clock."""
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    """A time as ISO 8601 for the JSON callers see (None stays None)."""
    return moment.isoformat() if moment else None


def current_trace_id() -> str | None:
    """The trace id bound in this context, if any."""
    value = structlog.contextvars.get_contextvars().get(TRACE_ID)
    return str(value) if value is not None else None


@contextmanager
def trace(trace_id: str | None = None) -> Iterator[str]:
    """Bind a trace id for the operation inside; an enclosing one is kept, not replaced."""
    existing = current_trace_id()
    if existing is not None:
        yield existing
        return
    new_id = trace_id or uuid.uuid4().hex
    with structlog.contextvars.bound_contextvars(**{TRACE_ID: new_id}):
        yield new_id
