"""Shared fixtures: a real Redis for the whole session (REDIS_URL if it answers, else a private server), and
the store on SQLite and, where configured, PostgreSQL.

PostgreSQL runs when ``PSINFOR_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); with
``PSINFOR_REQUIRE_POSTGRES=1`` a missing PostgreSQL fails the run instead of skipping those tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from integration.store.db import dispose_all, get_engine
from integration.store.migrate import upgrade
from integration.store.models import Base
from integration.store.repository import Store
from psinfor_devkit.devservices import ensure_redis

# Tests use their own Redis database so they never touch a developer's data on db 0.
TEST_REDIS_URL = os.environ.get("PSINFOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
POSTGRES_URL = os.environ.get("PSINFOR_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("PSINFOR_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    service = ensure_redis(TEST_REDIS_URL, db=13)
    yield service.url
    service.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A clean Redis database for one test (db 14: not the one the Celery tests use as their broker)."""
    client = redis.Redis.from_url(redis_url, db=14)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


_migrated: set[str] = set()


def _clean_database(url: str) -> None:
    if url not in _migrated:
        if url.startswith("postgresql"):
            with get_engine(url).begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(url)
        _migrated.add(url)
    with get_engine(url).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if REQUIRE_POSTGRES:
        pytest.fail("PSINFOR_REQUIRE_POSTGRES=1 but PSINFOR_TEST_POSTGRES_URL is not set")
    pytest.skip("PostgreSQL not configured (set PSINFOR_TEST_POSTGRES_URL; .ci/run does)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The store's URL, migrated with Alembic and empty: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('db')) / 'psinfor.db'}"
    else:
        url = _postgres_or_skip()
    _clean_database(url)
    yield url
    dispose_all()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'psinfor.db'}"
    _clean_database(url)
    return url


@pytest.fixture
def store(db_url: str) -> Store:
    return Store(db_url)


@pytest.fixture(scope="session")
def sandbox_mappings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's mappings with the velocity detector relaxed: the sandboxes' eight customers order in
    bursts no real shop makes (the anomaly tests use the shipped thresholds)."""
    from psinfor_devkit.mappings import relaxed_copy

    return relaxed_copy(tmp_path_factory.mktemp("mappings") / "mappings")
