"""Every payment-cli command is documented in docs/cli.md and has help with an example."""

from pathlib import Path

import click
import pytest
from command_tree import subcommands

from payment_cli.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(group, prefix=("payment-cli",)):
    for name, command in subcommands(group):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield " ".join(path), command


COMMANDS = dict(_commands(main))


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_has_a_section_in_the_cli_guide(path):
    assert f"## `{path}" in DOCS.read_text(), f"{path} is not documented in docs/cli.md"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_help_carries_an_example(path):
    assert "Example:" in (COMMANDS[path].help or ""), f"{path} help has no example"
