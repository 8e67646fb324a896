"""Fixtures for the PrestaShop module's tests, reused from ``tests/integration/conftest.py``, not copied.

Only function-scoped fixtures are imported here. The end-to-end test that needs the session-scoped Celery app
(``systems``, ``worker``) lives in ``tests/integration/test_prestashop_module.py``: importing ``celery_app`` here
would register it a second time, and its second set-up (``use_broker``) closes the broker pool the first one's
tests still publish through.
"""

from __future__ import annotations

from tests.integration.conftest import make_settings  # noqa: F401  (a fixture, registered by being imported)
