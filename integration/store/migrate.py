"""Run the Alembic migrations programmatically: ``psinfor db upgrade`` and the test fixtures use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from integration.store.db import get_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    get_engine(url)  # creates the SQLite directory if needed
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def pending_migrations(url: str) -> list[str]:
    """Revisions not yet applied to the database at ``url`` (all of them for an empty database)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    with get_engine(url).connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == set(script.get_heads()):
        return []
    return [rev.revision for rev in script.iterate_revisions(tuple(script.get_heads()), tuple(current) or "base")]


def schema_problem(url: str) -> str | None:
    """One line when the processes must not run against this database: migrations are pending."""
    pending = pending_migrations(url)
    if not pending:
        return None
    return (f"the database has {len(pending)} pending migration(s) ({', '.join(reversed(pending))}): "
            "run `psinfor db upgrade` (or `make db-upgrade`) first")
