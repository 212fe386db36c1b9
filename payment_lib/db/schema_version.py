"""Which schema revision a database is at, and whether this code can use it, without importing
Alembic (slow to import): every command but ``db`` checks this before it starts.

``REVISIONS`` lists the migrations this version ships, oldest first;
tests/integration/test_migrations.py keeps it equal to what Alembic finds in migrations/.
"""

from __future__ import annotations

from sqlalchemy import inspect, text

from payment_lib.db.engine import make_engine
from payment_lib.db.faults import UPGRADE, masked
from payment_lib.domain.environment_errors import SchemaOutOfDate

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011")
HEAD = REVISIONS[-1]


def current_revision(url: str) -> str | None:
    """The revision the database is at (Alembic's ``alembic_version`` row), or None for an
    empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])
    finally:
        engine.dispose()


def check_schema(url: str) -> None:
    """``SchemaOutOfDate`` unless the database is at the newest revision this code ships."""
    current = current_revision(url)
    if current == HEAD:
        return
    if current is None:
        problem = f"The database at {masked(url)} has no schema (code expects {HEAD})"
    elif current not in REVISIONS:
        raise SchemaOutOfDate(
            f"database at revision {current}, which this code does not know (it ships up to "
            f"{HEAD}): use a newer payment_lib."
        )
    else:
        problem = f"database at revision {current}, code expects {HEAD}"
    raise SchemaOutOfDate(f"{problem}: {UPGRADE}.")
