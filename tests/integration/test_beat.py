"""Only one beat may run: a second one exits while the first holds the leader lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from integration.store.migrate import upgrade
from tests.integration.conftest import wait_until

BIN = Path(sys.executable).parent


def test_a_second_beat_exits(tmp_path, redis_url, clean_broker):
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "PSINFOR_POLL_INTERVAL": "3600", "PSINFOR_SWEEP_INTERVAL": "3600",
           # a beat checks its configuration at start: a connection needs its key and .ionapi
           "PS_KEY": "TESTKEY0000000000000000000000001",
           "IONAPI_FILE": str(Path(__file__).resolve().parents[1] / "fixtures" / "infor" / "ionapi-sample.ionapi")}
    root = Path(__file__).resolve().parents[2]
    upgrade(env["DATABASE_URL"])  # a beat refuses a database with pending migrations

    def beat(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen([str(BIN / "celery"), "-A", "tasks.app", "beat", "-l", "INFO", "-s",
                                 str(tmp_path / f"{name}-schedule")], env=env, cwd=root,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT)
        return proc, log

    first, _ = beat("first")
    try:
        wait_until(lambda: clean_broker.exists("psinfor:beat:leader"), timeout=60)
        second, second_log = beat("second")
        assert second.wait(timeout=60) == 3
        assert "another beat holds the leader lock" in second_log.read_text()
        assert first.poll() is None
    finally:
        first.terminate()
        first.wait(timeout=20)
