"""The Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from integration.store.db import get_engine
from integration.store.models import Base


def test_migrations_match_the_models(db_url):
    with get_engine(db_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
