"""Environment faults (issue 14, item 1): each has its own documented exit code and one line
that names the problem and the fix, with secrets masked; never a traceback, never exit 70.

One test per row of docs/cli.md's "Environment faults" table.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.db.migrations import downgrade, head_revision

PASSWORD = "s3cretPassw0rd"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoke(*args: str, env: dict[str, str] | None = None):
    variables = {k: None for k in os.environ if k.startswith("PAYMENT_")}
    variables.pop("PAYMENT_TEST_DATABASE_URL", None)
    return CliRunner().invoke(main, list(args), env={**variables, **(env or {})})


def one_error_line(result) -> str:
    """The one line a person reads (log lines beside it are JSON, for the log)."""
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def json_error(result) -> dict[str, object]:
    assert "Traceback" not in result.output
    return json.loads(result.stdout)["error"]


# --- the database ------------------------------------------------------------------------------


def test_an_unreachable_database_names_host_and_port_with_the_password_masked():
    port = closed_port()
    url = f"postgresql+psycopg://payments:{PASSWORD}@127.0.0.1:{port}/payments"
    result = invoke("plans", "list", env={"PAYMENT_DATABASE_URL": url})

    assert result.exit_code == 9
    line = one_error_line(result)
    assert f"127.0.0.1:{port}" in line
    assert "payments:***@" in line and "[database_unavailable]" in line
    assert PASSWORD not in result.output


def test_database_url_option_gets_the_same_checks_as_the_variable():
    port = closed_port()
    url = f"postgresql+psycopg://payments:{PASSWORD}@127.0.0.1:{port}/payments"
    unreachable = invoke("--database-url", url, "plans", "list", "--json")
    assert unreachable.exit_code == 9
    assert f"127.0.0.1:{port}" in json_error(unreachable)["message"]
    assert PASSWORD not in unreachable.output

    unknown = invoke("--database-url", "mysql://root@localhost/x", "plans", "list")
    assert unknown.exit_code == 8
    assert "--database-url" in one_error_line(unknown)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+nosuchdriver://u@127.0.0.1/payments",
        "postgresql+psycopg2://u@127.0.0.1/payments",
    ],
    ids=["unknown driver", "driver not installed (psycopg2)"],
)
def test_a_wrong_driver_exits_13_and_names_the_one_to_use(url):
    result = invoke("plans", "list", env={"PAYMENT_DATABASE_URL": url})

    assert result.exit_code == 13, result.output
    line = one_error_line(result)
    assert "[database_driver]" in line and "postgresql+psycopg://" in line


def test_a_missing_sqlite_file_exits_14_and_is_not_created(tmp_path):
    path = tmp_path / "payments.db"
    result = invoke("plans", "list", env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"})

    assert result.exit_code == 14, result.output
    line = one_error_line(result)
    assert str(path) in line and "payment-cli db upgrade" in line
    assert not path.exists()


def test_a_sqlite_file_in_a_missing_directory_exits_14_even_for_db_upgrade(tmp_path):
    path = tmp_path / "no" / "such" / "payments.db"
    result = invoke("db", "upgrade", env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"})

    assert result.exit_code == 14, result.output
    assert "[database_file_missing]" in one_error_line(result)


def test_a_sqlite_path_under_a_file_exits_14(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker / 'payments.db'}"
    result = invoke("db", "upgrade", "--json", env={"PAYMENT_DATABASE_URL": url})

    assert result.exit_code == 14, result.output
    assert json_error(result)["code"] == "database_file_missing"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (chmod)")
def test_an_unwritable_sqlite_file_exits_15(tmp_path):
    path = tmp_path / "payments.db"
    assert invoke("db", "upgrade", env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"}).exit_code == 0
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        result = invoke("plans", "seed-demo", env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"})
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)

    assert result.exit_code == 15, result.output
    assert "[database_file_unwritable]" in one_error_line(result)


def test_an_unwritable_sqlite_file_opened_read_only_exits_15(tmp_path):
    """Works as root too: SQLite's read-only mode refuses every write whoever runs it."""
    path = tmp_path / "payments.db"
    assert invoke("db", "upgrade", env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"}).exit_code == 0
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = invoke("plans", "seed-demo", env={"PAYMENT_DATABASE_URL": url})

    assert result.exit_code == 15, result.output
    line = one_error_line(result)
    assert "[database_file_unwritable]" in line and str(path) in line


@pytest.mark.parametrize("command", [["plans", "list"], ["db", "upgrade"], ["db", "current"]])
def test_a_corrupt_sqlite_file_exits_16(tmp_path, command):
    path = tmp_path / "payments.db"
    garbage = b"this is not a database\x00\xff" * 400
    path.write_bytes(garbage)
    result = invoke(*command, env={"PAYMENT_DATABASE_URL": f"sqlite:///{path}"})

    assert result.exit_code == 16, result.output
    line = one_error_line(result)
    assert "[database_file_corrupt]" in line and str(path) in line
    assert path.read_bytes() == garbage


def test_a_database_without_the_schema_exits_17_and_says_to_upgrade(empty_database_url):
    if empty_database_url.startswith("sqlite"):
        sa.create_engine(empty_database_url).connect().close()  # an empty file
    result = invoke("plans", "list", env={"PAYMENT_DATABASE_URL": empty_database_url})

    assert result.exit_code == 17, result.output
    line = one_error_line(result)
    assert (
        "no schema" in line and "payment-cli db upgrade" in line and "[schema_out_of_date]" in line
    )


def test_a_database_behind_the_code_exits_17_naming_both_revisions(database_url):
    downgrade(database_url, "0003")
    result = invoke(
        "plans",
        "add",
        "p1",
        "--name",
        "P",
        "--amount",
        "1.00",
        "--currency",
        "usd",
        "--interval",
        "month",
        env={"PAYMENT_DATABASE_URL": database_url},
    )

    assert result.exit_code == 17, result.output
    line = one_error_line(result)
    assert f"database at revision 0003, code expects {head_revision()}" in line
    assert "run `payment-cli db upgrade`" in line
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM plans")).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize("command", [["db", "upgrade", "9999"], ["db", "downgrade", "abc"]])
def test_an_unknown_revision_exits_18_and_lists_the_known_ones(database_url, command):
    result = invoke(*command, env={"PAYMENT_DATABASE_URL": database_url})

    assert result.exit_code == 18, result.output
    line = one_error_line(result)
    assert "[unknown_revision]" in line and "0001" in line and head_revision() in line
    assert invoke("db", "current", "--json", env={"PAYMENT_DATABASE_URL": database_url}).stdout


# --- Stripe --------------------------------------------------------------------------------------


def pay_args() -> list[str]:
    return [
        "pay",
        "--user",
        str(uuid.uuid4()),
        "--amount",
        "20.00",
        "--currency",
        "usd",
        "--payment-method",
        "pm_card_visa",
        "--idempotency-key",
        f"k-{uuid.uuid4()}",
    ]


def stripe_env(database_url: str, api_base: str, key: str = "sk_test_faults") -> dict[str, str]:
    return {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": key,
        "PAYMENT_STRIPE_API_BASE": api_base,
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0",
    }


def test_an_unreachable_stripe_base_url_exits_19_naming_the_variable(database_url):
    base = f"http://127.0.0.1:{closed_port()}"
    result = invoke(*pay_args(), env=stripe_env(database_url, base))

    assert result.exit_code == 19, result.output
    line = one_error_line(result)
    assert "PAYMENT_STRIPE_API_BASE" in line and base in line
    assert "[provider_unreachable]" in line
    assert "sk_test_faults" not in result.output


@pytest.mark.emulator_only
def test_stripe_answering_5xx_exits_5(database_url, stripe_emulator):
    stripe_emulator.faults.set(error_status=503)
    result = invoke(*pay_args(), env=stripe_env(database_url, stripe_emulator.url))

    assert result.exit_code == 5, result.output
    line = one_error_line(result)
    assert "[provider_unavailable]" in line and "503" in line


@pytest.mark.emulator_only
def test_a_key_stripe_rejects_exits_20_without_printing_it(database_url, stripe_emulator):
    key = "sk_live_" + "k3y" * 10
    result = invoke(*pay_args(), env=stripe_env(database_url, stripe_emulator.url, key))

    assert result.exit_code == 20, result.output
    line = one_error_line(result)
    assert "PAYMENT_STRIPE_API_KEY" in line and "[stripe_key_rejected]" in line
    assert key not in result.output and key[8:] not in result.output


def test_the_exit_code_table_lists_every_fault():
    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for code in (
        "database_unavailable",
        "database_driver",
        "database_file_missing",
        "database_file_unwritable",
        "database_file_corrupt",
        "schema_out_of_date",
        "unknown_revision",
        "provider_unreachable",
        "provider_unavailable",
        "stripe_key_rejected",
    ):
        assert f"`{code}`" in text, code


def test_a_database_ahead_of_the_code_exits_17_saying_so(database_url):
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    env = {"PAYMENT_DATABASE_URL": database_url}

    for command in (["plans", "list"], ["db", "upgrade"]):
        result = invoke(*command, env=env)
        assert result.exit_code == 17, (command, result.output)
        line = one_error_line(result)
        assert "0099" in line and "newer payment_lib" in line, line


def test_the_drivers_own_text_is_logged_only_at_debug():
    url = f"postgresql+psycopg://payments:{PASSWORD}@127.0.0.1:{closed_port()}/payments"
    quiet = invoke("plans", "list", env={"PAYMENT_DATABASE_URL": url})
    loud = invoke("--log-level", "debug", "plans", "list", env={"PAYMENT_DATABASE_URL": url})

    assert quiet.exit_code == loud.exit_code == 9
    assert "OperationalError" not in quiet.stderr
    assert "OperationalError" in loud.stderr
    assert PASSWORD not in quiet.output + loud.output


def test_doctor_reports_an_old_schema_instead_of_refusing_to_run(database_url):
    downgrade(database_url, "0003")
    result = invoke("doctor", "--json", env={"PAYMENT_DATABASE_URL": database_url})

    assert result.exit_code == 12, result.output  # doctor's "a check failed"
    checks = {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert checks["migrations"] == "failed"
