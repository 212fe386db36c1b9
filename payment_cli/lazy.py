"""Commands loaded when used: `payment-cli --help` and a read command import only their own
code, not the database layer, the Stripe SDK, the migrations or the emulator of every other
command (issue 14: start-up time; benchmarks/cli_startup.py measures it).

A lazy entry names where its command lives (``"module:attribute"``) and the one-line help the
group's listing shows, so listing commands imports none of them; tests/cli/test_cli_startup.py
checks that each line is the command's own short help.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from payment_cli.output import CardRefusingGroup

# Where each lazily loaded command lives, and its line in the group's listing.
LazyEntries = dict[str, tuple[str, str]]


def load(where: str) -> click.Command:
    module, attribute = where.split(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{where} is not a click command")
    return command


class LazyGroup(CardRefusingGroup):
    """A group some of whose commands are imported the first time they are asked for."""

    def __init__(self, *args: Any, lazy: LazyEntries | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: LazyEntries = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name][0]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing, from the lazy entries' own lines: nothing is imported to show it."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, _short_help(self.lazy[name][1], limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _short_help(text: str, limit: int) -> str:
    """A lazy entry's line shortened as click shortens a command's (click's own helper for it
    is deprecated)."""
    return click.Command(None, help=text).get_short_help_str(limit)
