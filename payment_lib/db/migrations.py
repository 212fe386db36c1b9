"""Schema migrations through Alembic, callable from code (the CLI's ``db`` commands use these)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from payment_lib.db.engine import make_engine
from payment_lib.db.faults import masked
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.environment_errors import SchemaOutOfDate, UnknownRevision

_KEYWORDS = ("head", "heads", "base")


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
    _run(command.upgrade, url, revision)


def downgrade(url: str, revision: str = "-1") -> None:
    """Migrate the database at ``url`` down to ``revision`` (default: one step; "base": empty)."""
    refuse_card_numbers({"revision": revision})
    _run(command.downgrade, url, revision)


def _run(step: object, url: str, revision: str) -> None:
    """Run an Alembic command; a revision we do not ship is ``UnknownRevision`` and a database
    at a revision we do not know (made by newer code) is ``SchemaOutOfDate``."""
    known = known_revisions()
    relative = re.fullmatch(r"[+-]\d+", revision) is not None
    if not (relative or revision in _KEYWORDS or any(r.startswith(revision) for r in known)):
        raise UnknownRevision(
            f"Unknown revision {revision[:40]!r}: this version ships {', '.join(known)} "
            "(also head, base, or a step such as -1).",
            param="revision",
        )
    try:
        step(_config(url), revision)  # type: ignore[operator]
    except (CommandError, RevisionError) as error:
        current = _stored_revision(url)
        if current is not None and current not in known:
            raise SchemaOutOfDate(
                f"The database at {masked(url)} is at revision {current}, which this code does "
                f"not know (it ships up to {known[-1]}): use a newer payment_lib."
            ) from None
        raise UnknownRevision(f"Cannot migrate to {revision[:40]!r}: {error}.") from None


def _stored_revision(url: str) -> str | None:
    """The revision recorded in the database, whether or not this code knows it."""
    try:
        return current_revision(url)
    except Exception:
        return None


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
