"""How payment-cli speaks: text or one JSON object on stdout, one error line, documented exits."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
import structlog

from payment_lib import InvalidRequest, PaymentError

# Exit codes, documented in docs/cli.md.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_RATE_LIMITED = 3
EXIT_CONFLICT = 4
EXIT_PROVIDER_UNAVAILABLE = 5
EXIT_NOT_FOUND = 6
EXIT_FORBIDDEN = 7
EXIT_CONFIGURATION = 8
EXIT_DRIFT = 10
EXIT_INTERNAL = 70

EXIT_BY_CODE = {
    "invalid_request": EXIT_INVALID,
    "invalid_signature": EXIT_INVALID,
    "rate_limited": EXIT_RATE_LIMITED,
    "idempotency_conflict": EXIT_CONFLICT,
    "illegal_transition": EXIT_CONFLICT,
    "already_refunded": EXIT_CONFLICT,
    "provider_unavailable": EXIT_PROVIDER_UNAVAILABLE,
    "not_found": EXIT_NOT_FOUND,
    "forbidden": EXIT_FORBIDDEN,
    "invalid_configuration": EXIT_CONFIGURATION,
}

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger("payment_cli")


def emit(data: dict[str, Any], text: str, *, as_json: bool) -> None:
    """Print ``data`` as one JSON object with --json, else the human ``text``."""
    click.echo(json.dumps(data, sort_keys=False) if as_json else text)


def fail(error: dict[str, Any], exit_code: int, *, as_json: bool) -> NoReturn:
    """One error line on stderr (or a JSON error object on stdout with --json), then exit.

    ``error`` holds at least ``code`` and ``message``.
    """
    if as_json:
        click.echo(json.dumps({"error": error}))
    else:
        click.echo(f"error: {error['message']} [{error['code']}]", err=True)
    sys.exit(exit_code)


def guarded(function: F) -> F:
    """Turn every failure into a documented exit, never a traceback (JSON with --json)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        try:
            return function(*args, **kwargs)
        except PaymentError as error:
            fail(error.to_dict(), EXIT_BY_CODE.get(error.code, EXIT_FAILED), as_json=as_json)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception:
            log.exception("unexpected error")
            internal = {
                "code": "internal_error",
                "message": "unexpected internal error; details are in the log",
            }
            fail(internal, EXIT_INTERNAL, as_json=as_json)

    return wrapper  # type: ignore[return-value]


def json_option(function: F) -> F:
    """Add ``--json`` to a guarded command."""
    option = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
    )
    return option(guarded(function))  # type: ignore[no-any-return]


def parse_time(text: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 time given to ``--<option>`` as aware UTC (UTC when it names no zone)."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"--{option} must be an ISO 8601 time such as 2027-01-31T00:00:00Z, got {text[:40]!r}.",
            param=option,
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
