"""Every command of a group, the lazily loaded ones included (payment_cli/lazy.py)."""

from __future__ import annotations

from collections.abc import Iterator

import click


def subcommands(group: click.Group) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        yield name, command
