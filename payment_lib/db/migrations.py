"""Schema migrations through Alembic, callable from code (the CLI's ``db`` commands use these)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from payment_lib.db.engine import make_engine
from payment_lib.domain.card_input import refuse_card_numbers


def script_location() -> Path:
    """Where the revisions live: shipped inside the wheel, or the repository's migrations/."""
    here = Path(__file__).resolve().parent
    packaged = here.parent / "_migrations"
    return packaged if packaged.is_dir() else here.parent.parent / "migrations"


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    refuse_card_numbers({"revision": revision})
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    """Migrate the database at ``url`` down to ``revision`` (default: one step; "base": empty)."""
    refuse_card_numbers({"revision": revision})
    command.downgrade(_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this version of payment_lib knows."""
    return ScriptDirectory.from_config(_config("")).get_current_head()


def known_revisions() -> list[str]:
    """Every revision this version of payment_lib ships, oldest first."""
    script = ScriptDirectory.from_config(_config(""))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]
