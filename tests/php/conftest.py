"""Fixtures for the PrestaShop module's tests: the integration fixtures (sandboxes, receiver over HTTP, embedded
worker) are reused from ``tests/integration/conftest.py``, not copied."""

from __future__ import annotations

from tests.integration.conftest import (  # noqa: F401  (fixtures, registered by being imported here)
    celery_app,
    clean_broker,
    make_settings,
    runtime_for,
    systems,
    worker,
)
