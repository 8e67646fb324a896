"""Only one beat schedules, whatever Redis does: real ``celery beat`` processes on a Redis of the test's own
that it stops and starts again.

- a second beat exits while the first holds the leader lease;
- beats started while Redis is down schedule nothing; once it is back, one leads and the other exits;
- the leader rides out Redis restarts, emptied or not, and goes on scheduling.

What a beat scheduled is read from the broker: every message carries its producer's pid (``origin``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from psinfor_devkit.stack import RestartableRedis
from tests.integration.conftest import wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
LEADER = "psinfor:beat:leader"


@pytest.fixture
def own_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    yield server
    server.close()


class Beats:
    def __init__(self, tmp_path: Path, redis_url: str, db_url: str):
        self.tmp_path = tmp_path
        # Sweeps every second and nothing else, so that a scheduling beat shows at once; no worker consumes.
        self.env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": db_url, "PSINFOR_SWEEP_INTERVAL": "1",
                    "PSINFOR_POLL_INTERVAL": "3600", "PSINFOR_STATUS_POLL_INTERVAL": "3600",
                    "PSINFOR_PRUNE_INTERVAL": "3600", "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1",
                    # a beat checks its configuration at start: a connection needs its key and .ionapi
                    "PS_KEY": "TESTKEY0000000000000000000000001",
                    "IONAPI_FILE": str(Path(__file__).resolve().parents[1] / "fixtures" / "infor"
                                       / "ionapi-sample.ionapi")}
        self.env.pop("BROKER_URL", None)
        self.url = redis_url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"{name}.log"
        proc = subprocess.Popen([str(BIN / "celery"), "-A", "tasks.app", "beat", "-l", "INFO", "-s",
                                 str(self.tmp_path / f"{name}-schedule")], env=self.env, cwd=ROOT,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def leader(self) -> bool:
        try:
            return bool(self.client().exists(LEADER))
        except redis.RedisError:
            return False

    def scheduled_by(self) -> list[int]:
        """The pid of the producer of every message waiting in the maintenance queue."""
        try:
            raw = self.client().lrange("maintenance", 0, -1)
        except redis.RedisError:
            return []
        origins = [json.loads(m)["headers"]["origin"] for m in raw]
        return [int(o.split("@")[0].removeprefix("gen")) for o in origins]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def beats(tmp_path: Path, own_redis: RestartableRedis, sqlite_url: str) -> Iterator[Beats]:
    running = Beats(tmp_path, own_redis.url, sqlite_url)
    yield running
    running.stop()


def test_a_second_beat_exits(beats, own_redis):
    own_redis.start()
    first = beats.start("first")
    wait_until(beats.leader, timeout=60)
    second = beats.start("second")
    assert second.wait(timeout=60) == 3
    assert "another beat holds the leader lock" in beats.log("second")
    assert first.poll() is None


def test_beats_started_while_redis_is_down_schedule_nothing_then_one_leads(beats, own_redis):
    first = beats.start("first")
    second = beats.start("second")
    wait_until(lambda: "cannot reach Redis" in beats.log("first") and "cannot reach Redis" in beats.log("second"),
               timeout=60)
    assert first.poll() is None and second.poll() is None  # waiting for Redis, not exiting
    own_redis.start()
    # One takes the lease; the other finds it taken and leaves.
    wait_until(lambda: first.poll() is not None or second.poll() is not None, timeout=60)
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    assert loser.returncode == 3 and winner.poll() is None
    wait_until(lambda: len(beats.scheduled_by()) >= 3, timeout=60)
    assert set(beats.scheduled_by()) == {winner.pid}  # never both at once


def test_the_leader_rides_out_redis_restarts_emptied_or_not(beats, own_redis):
    own_redis.start()
    beat = beats.start("beat")
    wait_until(lambda: len(beats.scheduled_by()) >= 2, timeout=60)
    for keep_data in (False, True):
        own_redis.restart(keep_data=keep_data, down_seconds=3)
        before = len(beats.scheduled_by())
        wait_until(lambda before=before: beats.leader() and len(beats.scheduled_by()) >= before + 2, timeout=60)
        assert beat.poll() is None, beats.log("beat")[-3000:]
    assert set(beats.scheduled_by()) == {beat.pid}
    # still the only leader: another beat started now leaves
    assert beats.start("late").wait(timeout=60) == 3
