"""Slow clients do not delay signed webhooks: the receiver as shipped (gunicorn, ``integration.web.gunicorn_conf``,
gthread) with one worker, while several clients trickle their headers a byte at a time, still answers every
signed webhook. (gunicorn itself never times a trickling client out: that is the reverse proxy's job, see the
module docstring of gunicorn_conf.py and docker/nginx.conf. This test shows the threads keep the others going.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from integration.config import PROJECT_ROOT
from integration.connectors.prestashop import webhooks
from integration.store.repository import Store
from psinfor_devkit.devservices import free_port
from tests.integration.conftest import wait_until

SECRET = "slow-client-test-secret"
SLOW_CLIENTS = 4  # twice what starved the sync workers in the probe
WEBHOOKS = 14


@pytest.fixture
def gunicorn_receiver(sqlite_url: str, redis_url: str, tmp_path: Path):
    port = free_port()
    prefix = f"psinfor-slow-{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PS_", "PSINFOR_", "IONAPI", "WEBHOOK"))}
    env.update({"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url, "PS_KEY": "K" * 32, "WEBHOOK_SECRET": SECRET,
                "IONAPI_FILE": str(PROJECT_ROOT / "tests" / "fixtures" / "infor" / "ionapi-sample.ionapi"),
                "PSINFOR_BROKER_PREFIX": prefix, "WEB_WORKERS": "1", "WEB_BIND": f"127.0.0.1:{port}",
                "LOG_LEVEL": "WARNING"})
    log = (tmp_path / "gunicorn.log").open("w")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen([gunicorn, "-c", "python:integration.web.gunicorn_conf", "tasks.wsgi:create_app()"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(PROJECT_ROOT))
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        try:
            return requests.get(f"{url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, timeout=60)
        yield url, Store(sqlite_url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


class Trickler:
    """A client that sends a request line, then one header byte every half second, and never finishes."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"POST /webhooks/prestashop HTTP/1.1\r\nHost: receiver\r\nX-Slow: ")
        self.stop = threading.Event()
        self.bytes_sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self.sock.sendall(b"a")
            self.bytes_sent += 1

    def still_waiting(self) -> bool:
        """Connected, and not answered (the server is still reading our headers)."""
        self.sock.setblocking(False)
        try:
            self.sock.recv(1)  # an answer, or b"" when the server closed the connection
        except BlockingIOError:
            return True
        finally:
            self.sock.setblocking(True)
        return False

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def _post_signed(url: str, order_id: int) -> int:
    body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": order_id}).encode()
    headers = webhooks.sign_headers(SECRET, f"slow-test-{order_id}", body)
    # The timeout guards the test run; what is asserted is that every webhook was answered 202.
    return requests.post(f"{url}/webhooks/prestashop", data=body, headers=headers, timeout=(5, 20)).status_code


def test_slow_header_clients_do_not_delay_signed_webhooks(gunicorn_receiver):
    url, store = gunicorn_receiver
    port = int(url.rsplit(":", 1)[1])
    slow = [Trickler(port) for _ in range(SLOW_CLIENTS)]
    try:
        wait_until(lambda: all(s.bytes_sent >= 2 for s in slow), timeout=30)  # they hold their threads now
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda i: _post_signed(url, i), range(1, WEBHOOKS + 1)))
        assert statuses == [202] * WEBHOOKS
        assert store.status_counts() == {"queued": WEBHOOKS}
        assert all(s.still_waiting() for s in slow)  # the slow clients were there all along, unanswered
    finally:
        for s in slow:
            s.close()
