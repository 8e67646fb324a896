"""Integration fixtures: the Celery app on the live test Redis, settings pointing at real services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from integration.config import Settings, load_settings
from integration.runtime import reset_runtime

WEBHOOK_SECRET = "test-webhook-secret"
BROKER_PREFIX = f"psinfor-test-{os.getpid()}:"
# The broker of the Celery tests: the test Redis, or RabbitMQ when set (.ci/run's second pass runs the chain,
# dead-letter, crash, duplicate-webhook and chaos tests on it). Redis stays the store of locks and tokens.
TEST_BROKER = os.environ.get("PSINFOR_TEST_BROKER", "")
PS_KEY = "TESTKEY0000000000000000000000001"


@pytest.fixture(scope="session")
def celery_app(redis_url: str) -> Any:
    from tasks.app import app, use_broker

    # Every test session gets its own key prefix, so two test runs on one Redis never consume each other's tasks
    # (a RabbitMQ test broker is a virtual host of its own).
    use_broker(TEST_BROKER or redis_url, BROKER_PREFIX)
    if TEST_BROKER:  # AMQP heartbeats every 2 s wake the worker's loop, so an embedded worker stops at once
        app.conf.broker_heartbeat = 4
    # Fast retries in tests; the policy itself is unchanged.
    app.conf.update(retry_backoff_base=0.2, retry_backoff_max=1.0, retry_max_retries=12,
                    worker_send_task_events=False, task_send_sent_event=False)
    app.loader.import_default_modules()
    return app


@pytest.fixture
def make_settings(db_url: str, redis_url: str, tmp_path: Path, sandbox_mappings: Path) -> Callable[..., Settings]:
    def make(**overrides: str) -> Settings:
        env = {
            "MAPPINGS_DIR": str(sandbox_mappings),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PS_KEY": PS_KEY,
            "PS_URL": "http://127.0.0.1:9/api",
            "LOG_FORMAT": "console",
            "POLL_OVERLAP_SECONDS": "300",
            "PS_BREAKER_RESET": "1",
            "INFOR_BREAKER_RESET": "1",
            "PSINFOR_OUTCOME_SETTLE_SECONDS": "1",
            **overrides,
        }
        return load_settings(env)

    return make


class Broker:
    """The test session's slice of the broker's Redis (keys under ``BROKER_PREFIX``), and its RabbitMQ queues
    when the tests run on RabbitMQ."""

    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(url)

    def clear(self) -> None:
        keys = list(self.redis.scan_iter(f"{BROKER_PREFIX}*", count=1000))
        if keys:
            self.redis.delete(*keys)
        for key in self.redis.scan_iter("psinfor:*", count=1000):  # locks and beat leader of this run
            self.redis.delete(key)
        if TEST_BROKER:
            from tasks.app import app

            with app.connection_for_write() as conn:
                for queue in app.conf.task_queues:
                    queue(conn.default_channel).declare()
                    queue(conn.default_channel).purge()

    def queue_length(self, queue: str) -> int:
        if TEST_BROKER:
            from tasks.app import app

            with app.connection_for_write() as conn:
                return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
        return int(self.redis.llen(f"{BROKER_PREFIX}{queue}"))

    def exists(self, key: str) -> bool:
        return bool(self.redis.exists(key))


@pytest.fixture
def clean_broker(redis_url: str, celery_app: Any) -> Iterator[Broker]:
    broker = Broker(redis_url)
    broker.clear()
    yield broker
    broker.clear()
    broker.redis.close()


@pytest.fixture
def runtime_for() -> Iterator[Callable[[Settings], Any]]:
    yield reset_runtime
    reset_runtime(None)


@pytest.fixture
def worker(celery_app: Any, clean_broker: redis.Redis) -> Iterator[Any]:
    """A real Celery worker (threads pool) in this process, consuming every queue of the live Redis."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=8, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=20) as controller:
        yield controller


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy (a readiness wait, not a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class Systems:
    """Both sandboxes and our receiver over real HTTP, with settings and a runtime pointing at them."""

    def __init__(self, tmp_path: Path, make_settings: Callable[..., Settings], runtime_for: Callable[[Settings], Any]):
        from integration.web.app import create_app
        from psinfor_devkit.sandbox.infor import start_infor_sandbox
        from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
        from psinfor_devkit.sandbox.server import serve_wsgi
        from tasks.dispatch import enqueue

        self.infor = start_infor_sandbox(port=0)
        self.ionapi = self.infor.write_ionapi(tmp_path / "sandbox.ionapi")
        self.ps = start_prestashop_sandbox(port=0, key=PS_KEY)
        self.settings = make_settings(PS_URL=f"{self.ps.url}/api", IONAPI_FILE=str(self.ionapi))
        self.rt = runtime_for(self.settings)
        self.receiver = serve_wsgi(create_app(self.settings, enqueue=enqueue))
        import requests

        hook = {"url": f"{self.receiver.url}/webhooks/prestashop", "secret": WEBHOOK_SECRET}
        requests.post(f"{self.ps.url}/_sandbox/webhooks", json=hook, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.receiver.stop()
        self.ps.stop()
        self.infor.stop()


@pytest.fixture
def systems(tmp_path: Path, make_settings: Callable[..., Settings], runtime_for: Any, celery_app: Any,
            clean_broker: Broker) -> Iterator[Systems]:
    running = Systems(tmp_path, make_settings, runtime_for)
    yield running
    running.stop()


def start_worker_process(env: dict[str, str], log: Path, queues: str, concurrency: int) -> subprocess.Popen[bytes]:
    """A real ``celery worker`` process (an embedded one cannot be SIGKILLed without the test), ready when this
    returns; its output goes to ``log``."""
    handle = log.open("ab")
    ready = log.with_suffix(".ready")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "tasks.app", "worker", "-P", "threads", "-c",
         str(concurrency), "-l", "INFO", "-Q", queues, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env={**env, "PSINFOR_READY_FILE": str(ready)}, stdout=handle, stderr=subprocess.STDOUT,
        start_new_session=True, cwd=Path(__file__).resolve().parents[2])
    handle.close()
    wait_until(lambda: ready.exists() or proc.poll() is not None, timeout=60)
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def kill_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started by ``start_worker_process`` with its children (a worker's pool)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
