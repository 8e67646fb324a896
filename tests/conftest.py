"""Shared fixtures: a real Redis for the whole session (REDIS_URL if it answers, else a private server)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from integration.devservices import ensure_redis

# Tests use their own Redis database so they never touch a developer's data on db 0.
TEST_REDIS_URL = os.environ.get("PSINFOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    service = ensure_redis(TEST_REDIS_URL, db=13)
    yield service.url
    service.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A clean Redis database for one test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
