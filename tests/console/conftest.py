"""Console fixtures: one stack per module (both sandboxes, the receiver with the console, an embedded worker on
the live Redis) and one headless Chromium per module (Debian's chromium + chromium-driver, never downloaded).

The browser tests run on SQLite only: the store methods they use are tested on PostgreSQL as well in
``test_console_store.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from integration.config import PROJECT_ROOT, Settings, load_settings
from integration.runtime import reset_runtime
from integration.store.repository import Store
from integration.web.console.auth import hash_password
from tests.conftest import _clean_database
from tests.integration.conftest import PS_KEY, WEBHOOK_SECRET, Broker
from tests.integration.conftest import celery_app as celery_app  # the session's Celery app on the test Redis

CONSOLE_SECRET = "console-test-secret-0123456789abcdef0123456789"
PASSWORDS = {"admin": "admin-password-1", "operator": "operator-password-1", "viewer": "viewer-password-1"}
CHROMIUM = os.environ.get("PSINFOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PSINFOR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# The README's screenshots are refreshed on request (``make screenshots``); a test run writes its own under var/,
# so that running the tests never changes tracked files.
SCREENSHOTS = Path(os.environ.get("PSINFOR_SCREENSHOTS") or PROJECT_ROOT / "var" / "screenshots")


@dataclass
class Stack:
    url: str  # the receiver and its console
    ps: Any
    infor: Any
    settings: Settings
    store: Store
    mappings: Path

    def place(self, **body: Any) -> int:
        response = requests.post(f"{self.ps.url}/_sandbox/orders", json={"count": 1, **body}, timeout=30)
        response.raise_for_status()
        return int(response.json()["orders"][0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, celery_app: Any) -> Iterator[Stack]:
    from celery.contrib.testing.worker import start_worker

    from integration.web.app import create_app
    from psinfor_devkit.sandbox.infor import start_infor_sandbox
    from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
    from psinfor_devkit.sandbox.server import serve_wsgi
    from tasks.dispatch import enqueue

    tmp = tmp_path_factory.mktemp("console")
    db_url = f"sqlite:///{tmp / 'psinfor.db'}"
    _clean_database(db_url)
    mappings = tmp / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", mappings)
    broker = Broker(redis_url)
    broker.clear()
    infor = start_infor_sandbox(port=0)
    ionapi = infor.write_ionapi(tmp / "sandbox.ionapi")
    ps = start_prestashop_sandbox(port=0, key=PS_KEY)
    settings = load_settings({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "WEBHOOK_SECRET": WEBHOOK_SECRET, "PS_KEY": PS_KEY,
        "PS_URL": f"{ps.url}/api", "IONAPI_FILE": str(ionapi), "MAPPINGS_DIR": str(mappings),
        "LOG_FORMAT": "console", "PS_BREAKER_RESET": "1", "INFOR_BREAKER_RESET": "1",
        "PSINFOR_OUTCOME_SETTLE_SECONDS": "1",
    })
    reset_runtime(settings)
    store = Store(db_url)
    for name, password in PASSWORDS.items():
        store.add_user(name, hash_password(password), name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PSINFOR_CONSOLE_SECRET_KEY", CONSOLE_SECRET)
        app = create_app(settings, enqueue=enqueue)
    server = serve_wsgi(app)
    requests.post(f"{ps.url}/_sandbox/webhooks", json={"url": f"{server.url}/webhooks/prestashop",
                                                        "secret": WEBHOOK_SECRET}, timeout=10).raise_for_status()
    with start_worker(celery_app, pool="threads", concurrency=8, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=20):
        yield Stack(server.url, ps, infor, settings, store, mappings)
    server.stop()
    ps.stop()
    infor.stop()
    broker.clear()
    reset_runtime(None)


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver, given by path so Selenium never fetches a driver."""
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,1000", "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(driver: Any, name: str, *, height: int | None = None) -> Path:
    """A full-page PNG of the page (``make screenshots`` writes them to docs/console/, which the README links)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    full = int(driver.execute_script("return Math.max(document.body.scrollHeight, 600)"))
    driver.set_window_size(1440, min(height or full + 20, 2600))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1440, 1000)
    return path
