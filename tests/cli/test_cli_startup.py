"""Start-up: a command imports only what it uses (issue 14: `--help` and reads stay fast).

Time is measured by benchmarks/cli_startup.py, never here: these tests check which modules a
whole CLI process has imported by the time the command is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from payment_lib.db.migrations import upgrade

RUN = """
import sys
from payment_cli.cli import main
try:
    main(sys.argv[1:], prog_name="payment-cli")
except SystemExit:
    pass
import json
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""

HEAVY_FOR_HELP = ("sqlalchemy", "stripe", "alembic", "payment_lib.testing", "psycopg", "pydantic")
HEAVY_FOR_READS = ("stripe", "alembic", "payment_lib.testing", "aiosmtpd", "fastapi")


def imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **(env or {})},
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(root for root in roots if any(m == root or m.startswith(root + ".")
                                                 for m in modules))


def test_help_imports_no_database_stripe_or_emulator_code() -> None:
    assert loaded(imported("--help"), HEAVY_FOR_HELP) == []


@pytest.mark.parametrize("command", [["plans", "--help"], ["webhooks", "list", "--help"]])
def test_a_subcommands_help_imports_no_stripe_or_emulator_code(command: list[str]) -> None:
    assert loaded(imported(*command), ("stripe", "alembic", "payment_lib.testing")) == []


def test_a_read_command_imports_no_stripe_migrations_or_emulator_code(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'payments.db'}"
    upgrade(url)
    modules = imported("plans", "list", "--json", env={"PAYMENT_DATABASE_URL": url})
    assert "sqlalchemy" in modules  # it did read the database
    assert loaded(modules, HEAVY_FOR_READS) == []


def test_each_lazy_commands_line_in_the_listing_is_its_own_short_help() -> None:
    from payment_cli.cli import COMMANDS, PAYMENTS, PLANS
    from payment_cli.lazy import load

    for entries in (COMMANDS, PAYMENTS, PLANS):
        for name, (where, line) in entries.items():
            assert load(where).get_short_help_str(10**6) == line, name


def test_every_public_name_of_payment_lib_is_importable_on_demand() -> None:
    import payment_lib

    assert sorted(payment_lib._WHERE) == sorted(payment_lib.__all__)
    for name in payment_lib.__all__:
        assert getattr(payment_lib, name) is not None
