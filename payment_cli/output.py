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

from payment_cli.context import Context
from payment_lib import InvalidRequest, PaymentError, contains_card_number

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
EXIT_DATABASE_UNAVAILABLE = 9
EXIT_DRIFT = 10
# Environment faults (docs/cli.md, "Environment faults"): each its own code.
EXIT_DATABASE_DRIVER = 13
EXIT_DATABASE_FILE_MISSING = 14
EXIT_DATABASE_FILE_UNWRITABLE = 15
EXIT_DATABASE_FILE_CORRUPT = 16
EXIT_SCHEMA_OUT_OF_DATE = 17
EXIT_UNKNOWN_REVISION = 18
EXIT_PROVIDER_UNREACHABLE = 19
EXIT_STRIPE_KEY_REJECTED = 20
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
    "database_unavailable": EXIT_DATABASE_UNAVAILABLE,
    "database_driver": EXIT_DATABASE_DRIVER,
    "database_file_missing": EXIT_DATABASE_FILE_MISSING,
    "database_file_unwritable": EXIT_DATABASE_FILE_UNWRITABLE,
    "database_file_corrupt": EXIT_DATABASE_FILE_CORRUPT,
    "schema_out_of_date": EXIT_SCHEMA_OUT_OF_DATE,
    "unknown_revision": EXIT_UNKNOWN_REVISION,
    "provider_unreachable": EXIT_PROVIDER_UNREACHABLE,
    "stripe_key_rejected": EXIT_STRIPE_KEY_REJECTED,
}

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger("payment_cli")


class CardRefusingGroup(click.Group):
    """The root command: any argument that holds a card number is refused before parsing,
    whatever the option (text, number, path or choice), so no card number is used, stored or
    printed back (click's own errors repeat the values they reject)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for position, arg in enumerate(args):
            if contains_card_number(arg):
                name = _option_of(args, position, _flags(self))
                error = InvalidRequest(
                    f"{name} looks like it holds a card number. Never pass card numbers: "
                    "collect cards with Stripe and pass the PaymentMethod id (pm_...).",
                    param=name,
                )
                fail(error.to_dict(), EXIT_INVALID, as_json="--json" in args)
        return super().parse_args(ctx, args)

    # With --json, click's own errors (usage, bad parameter values) are one JSON object on
    # stdout too, like every other failure; without it click prints its usage help as usual.
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        self.as_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:
            self._json_or_raise(error)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            self._json_or_raise(error)

    def _json_or_raise(self, error: click.ClickException) -> NoReturn:
        if not getattr(self, "as_json", False):
            raise error
        usage = isinstance(error, click.UsageError)
        detail: dict[str, Any] = {
            "code": "invalid_request" if usage else "failed",
            "message": error.format_message(),
        }
        param = getattr(error, "param", None)
        if param is not None and param.opts:
            detail["param"] = param.opts[0]
        fail(detail, error.exit_code, as_json=True)


def _flags(command: click.Command) -> set[str]:
    """Every flag's name in ``command`` and its subcommands (flags take no value)."""
    names = {
        name
        for param in command.params
        if isinstance(param, click.Option) and (param.is_flag or param.count)
        for name in param.opts
    }
    for sub in getattr(command, "commands", {}).values():
        names |= _flags(sub)
    return names


def _option_of(args: list[str], position: int, flags: set[str]) -> str:
    """The option whose value ``args[position]`` is (``--note x`` or ``--note=x``), else
    "argument N" (counted from 1 on the whole command line)."""
    arg = args[position]
    if arg.startswith("-") and "=" in arg:
        return arg.partition("=")[0]
    before = args[position - 1] if position else ""
    if before.startswith("-") and "=" not in before and before not in flags:
        return before
    return f"argument {position + 1}"


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
            fail(
                _as_given(error.to_dict()),
                EXIT_BY_CODE.get(error.code, EXIT_FAILED),
                as_json=as_json,
            )
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:
            # One line in the log; the traceback only at --log-level debug.
            log.error("unexpected error", error=f"{type(error).__name__}: {error}"[:300])
            log.debug("unexpected error: traceback", exc_info=True)
            internal = {
                "code": "internal_error",
                "message": "unexpected internal error; details are in the log",
            }
            fail(internal, EXIT_INTERNAL, as_json=as_json)

    return wrapper  # type: ignore[return-value]


def _as_given(error: dict[str, Any]) -> dict[str, Any]:
    """The error naming ``--database-url`` where the URL came from that option."""
    click_context = click.get_current_context(silent=True)
    context = click_context.find_object(Context) if click_context else None
    if context is not None:
        error["message"] = context.named(str(error["message"]))
    return error


def json_option(function: F) -> F:
    """Add ``--json`` to a guarded command."""
    option = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
    )
    return option(guarded(function))


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
