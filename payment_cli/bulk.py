"""Running one operation per input line, in one process (a process per item costs 0.6 s).

Each line gets one result line on stdout (one JSON object per line with --json), failures
included; a summary line closes the run; the exit is 1 when any line failed. A progress bar
goes to stderr when stderr is a terminal and the results go elsewhere (a file, a pipe). A line
that fails never stops the run: the operation of each line is expected to be idempotent, so
the whole file can be run again after an interruption.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

import click
import structlog

from payment_cli.output import EXIT_FAILED
from payment_lib import InvalidRequest, PaymentError

log = structlog.get_logger("payment_cli")
T = TypeVar("T")
FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What one line did: ``kind`` (counted in the summary), its JSON fields, its text."""

    kind: str
    fields: dict[str, Any]
    text: str


@dataclass
class Run:
    """The counts a run reports: ``kinds`` in this order, ``failed`` last."""

    kinds: Sequence[str]
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = {"lines": 0, **dict.fromkeys(self.kinds, 0), FAILED: 0}

    def summary_text(self) -> str:
        parts = [f"{self.counts[kind]} {kind}" for kind in (*self.kinds, FAILED)]
        return f"{self.counts['lines']} lines: " + ", ".join(parts)


def input_lines(source: BinaryIO) -> list[tuple[int, str | None]]:
    """(line number, text) of each line that holds something: blank lines and ``#`` comments
    are skipped; a line that is not UTF-8 comes as None (it fails alone)."""
    found: list[tuple[int, str | None]] = []
    for number, raw in enumerate(source.read().splitlines(), start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            found.append((number, None))
            continue
        if text and not text.startswith("#"):
            found.append((number, text))
    return found


def parse_json_object(text: str) -> dict[str, Any]:
    """An NDJSON line's object, or InvalidRequest (never repeating the line)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidRequest("The line is not valid JSON.", param="line") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The line must be one JSON object.", param="line")
    return value


def run_lines(
    items: Sequence[tuple[int, T]],
    handle: Callable[[T], Outcome],
    *,
    kinds: Sequence[str],
    label: str,
    head: Callable[[int, T], dict[str, Any]],
    as_json: bool,
) -> None:
    """``handle`` each item, print its result line, then the summary; exit 1 if any failed.

    ``head(number, item)`` gives the fields every result line starts with (its line number,
    the id it names), failed ones included.
    """
    run = Run(kinds)
    with _progress(len(items), label) as advance:
        for number, item in items:
            outcome = _outcome(handle, item)
            run.counts["lines"] += 1
            run.counts[outcome.kind] += 1
            fields = {**head(number, item), "outcome": outcome.kind, **outcome.fields}
            text = f"line {number}: {outcome.text}" if "line" in fields else outcome.text
            click.echo(json.dumps(fields) if as_json else text)
            advance()
    click.echo(json.dumps({"summary": run.counts}) if as_json else run.summary_text())
    if run.counts[FAILED]:
        sys.exit(EXIT_FAILED)


def _outcome(handle: Callable[[T], Outcome], item: T) -> Outcome:
    try:
        return handle(item)
    except PaymentError as error:
        return failure(error.to_dict())
    except Exception:
        log.exception("unexpected error on a bulk line")
        return failure(
            {"code": "internal_error", "message": "unexpected internal error; see the log"}
        )


def failure(error: dict[str, Any]) -> Outcome:
    return Outcome(FAILED, {"error": error}, f"failed: {error['message']} [{error['code']}]")


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A bar on stderr when it is a terminal and the results go elsewhere (else the two
    would share one screen line)."""
    if not sys.stderr.isatty() or sys.stdout.isatty():
        yield lambda: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)
