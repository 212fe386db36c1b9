"""Structured logging with a trace id and card-number scrubbing.

Library modules only call ``structlog.get_logger(__name__)``; configuring output is the job of
the CLI or the host application (``configure_logging``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog

from payment_lib.domain.card_data import holds_card_number, redact_value
from payment_lib.log_lines import JsonLine, ScrubbedRenderer, add_timestamp

TRACE_ID = "trace_id"


def scrub_card_numbers(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace anything that looks like a card number, at any depth: in
    the message, keys, values, numbers and the text of any other object (exceptions, ids) it
    would render. Put it last before the renderer when configuring structlog yourself
    (``configure_logging`` checks the rendered line instead: ``log_lines.ScrubbedRenderer``)."""
    if not holds_card_number(event):
        return event
    return {redact_value(key): redact_value(value) for key, value in event.items()}


LogFormat = Literal["json", "console", "auto"]


class _LineAboveBar:
    """A structlog logger writing whole lines to a terminal: each line first clears the line
    the cursor is on, so a progress bar drawn there (without a newline) is not broken by a log
    line; the bar draws itself again on its next update."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        self._stream.write("\r\x1b[2K" + message + "\n")
        self._stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    level: str = "info", *, stream: TextIO | None = None, log_format: LogFormat = "json"
) -> None:
    """Log lines on ``stream`` (stderr) with trace id, level and UTC time: one JSON object per
    line, or with ``log_format="console"`` a line for people (structlog's ConsoleRenderer,
    coloured on a terminal, drawn above a progress bar). ``"auto"``: console on a terminal,
    JSON otherwise."""
    out = stream or sys.stderr
    terminal = _is_terminal(out)
    console = log_format == "console" or (log_format == "auto" and terminal)
    # One logger for every line (the factory is asked for one at each call: loggers are not
    # cached, so that configuring again, or structlog's capture_logs, takes effect everywhere).
    writer: Any = _LineAboveBar(out) if console and terminal else structlog.WriteLogger(out)
    finish: list[Any] = (
        [
            structlog.processors.add_log_level,
            add_timestamp,
            ScrubbedRenderer(
                structlog.dev.ConsoleRenderer(
                    colors=terminal, exception_formatter=_one_line_exception
                ),
                json_lines=False,
            ),
        ]
        if console
        else [JsonLine()]  # level, time, traceback, the line: at once
    )
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *finish],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda *_args: writer,
        cache_logger_on_first_use=False,
    )


def _one_line_exception(sio: TextIO, exc_info: Any) -> None:
    """On the console an exception is its type and message, not a traceback."""
    _type, value, _traceback = exc_info
    sio.write(f"\n{type(value).__name__}: {value}")


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


def trace(trace_id: str | None = None, **fields: object) -> Traced:
    """Bind a trace id for the operation inside, with ``fields`` (the use case's own: its
    user, its key); an enclosing trace id is kept, not replaced. ``with trace(...) as
    trace_id``. Afterwards the context is as it was (fields bound outside get their values
    back)."""
    return Traced(trace_id, fields)


class Traced:
    """``trace()``'s context manager: one ``bind_contextvars`` for the trace id and the fields,
    undone by their tokens (structlog's ``bound_contextvars`` reads the whole context to undo,
    and a payment used to nest two of them: ~15 µs)."""

    __slots__ = ("_fields", "_tokens", "_trace_id")

    def __init__(self, trace_id: str | None, fields: dict[str, object]) -> None:
        self._trace_id = trace_id
        self._fields = fields
        self._tokens: Mapping[str, Any] = {}

    def __enter__(self) -> str:
        existing = current_trace_id()
        if existing is not None:
            bound = self._fields
        else:
            existing = self._trace_id or uuid.uuid4().hex
            bound = {**self._fields, TRACE_ID: existing}
        if bound:
            self._tokens = structlog.contextvars.bind_contextvars(**bound)
        return existing

    def __exit__(self, *_exc: object) -> None:
        if self._tokens:
            structlog.contextvars.reset_contextvars(**self._tokens)
            self._tokens = {}
