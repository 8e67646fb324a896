"""Start and stop the whole system as real processes: sandboxes, receiver, worker, beat (demo and bench).

Every process runs in its own process group with its output in ``workdir/logs``; ``stop()`` ends them all
(SIGTERM, then SIGKILL) and the private Redis if one was started, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from psinfor_devkit.devservices import RedisService, _redis_server_binary, ensure_redis, free_port, redis_answers
from psinfor_devkit.mappings import relaxed_copy

BIN = Path(sys.executable).parent
# Processes run from the repository (the bench's own task module, `bench.tasks`, is imported from there).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PS_KEY = "DEMOKEY00000000000000000000000001"[:32]
WEBHOOK_SECRET = "demo-webhook-secret"
def _all_queues() -> str:
    from integration.flows.registry import FLOWS
    from tasks.routing import queue_names

    return ",".join(queue_names(FLOWS.values()))


ALL_QUEUES = _all_queues()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    workdir: Path
    worker_concurrency: int = 16
    web_workers: int = 2
    poll_interval: float = 60.0
    sweep_interval: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)
    redis: RedisService | None = None
    procs: dict[str, Proc] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    ps_url: str = ""
    infor_url: str = ""
    web_url: str = ""

    # -- life cycle ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        # Always a private Redis, started here and stopped by stop(): the stack flushes and restarts its Redis,
        # which must never be the developer's (REDIS_URL is not looked at).
        self.redis = ensure_redis(None)
        sys.stderr.write(f"psinfor stack: a private Redis at {self.redis.url} (your REDIS_URL is left alone)\n")
        ps_port, infor_port, web_port = free_port(), free_port(), free_port()
        self.ps_url = f"http://127.0.0.1:{ps_port}"
        self.infor_url = f"http://127.0.0.1:{infor_port}"
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'psinfor.db'}",
            "REDIS_URL": self.redis.url,
            "PS_URL": f"{self.ps_url}/api",
            "PS_KEY": PS_KEY,
            "IONAPI_FILE": str(self.workdir / "sandbox.ionapi"),
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "PSINFOR_POLL_INTERVAL": str(self.poll_interval),
            "PSINFOR_SWEEP_INTERVAL": str(self.sweep_interval),
            "PYTHONUNBUFFERED": "1",
            # synthetic traffic: eight customers ordering in bursts would trip the velocity detector
            "MAPPINGS_DIR": str(relaxed_copy(self.workdir / "mappings")),
            **self.extra_env,
        }
        self._flush_broker()
        from integration.store.migrate import upgrade

        upgrade(self.env["DATABASE_URL"])

    def _flush_broker(self) -> None:
        import redis

        assert self.redis is not None
        if not self.redis.owned:  # never FLUSH a database this stack did not create
            return
        client = redis.Redis.from_url(self.redis.url)
        client.flushdb()
        client.close()

    def start_sandboxes(self) -> None:
        ps_port = self.ps_url.rsplit(":", 1)[1]
        infor_port = self.infor_url.rsplit(":", 1)[1]
        self.spawn("prestashop", [str(BIN / "psinfor"), "sandbox", "prestashop", "--port", ps_port, "--key", PS_KEY,
                                  "--webhook-url", f"{self.web_url}/webhooks/prestashop",
                                  "--webhook-secret", WEBHOOK_SECRET])
        self.spawn("infor", [str(BIN / "psinfor"), "sandbox", "infor", "--port", infor_port,
                             "--write-ionapi", self.env["IONAPI_FILE"]])
        self.wait_http(f"{self.ps_url}/_sandbox/stats", "prestashop")
        self.wait_http(f"{self.infor_url}/_sandbox/stats", "infor")
        self.wait_file(Path(self.env["IONAPI_FILE"]), "infor")

    def start_web(self) -> None:
        self.spawn("web", [str(BIN / "gunicorn"), "-c", "python:integration.web.gunicorn_conf", "-w",
                           str(self.web_workers), "-b", self.web_url.removeprefix("http://"), "--log-level", "warning",
                           "tasks.wsgi:create_app()"])
        self.wait_http(f"{self.web_url}/healthz", "web")

    def start_worker(self, name: str = "worker", *, concurrency: int | None = None, include: str | None = None,
                     queues: str = ALL_QUEUES, production: bool = False) -> None:
        """``production``: with gossip and mingle, as ``make worker`` and the compose file run it (the chaos
        run); without them, a worker starts faster (demo, bench)."""
        cmd = [str(BIN / "celery"), "-A", "tasks.app", "worker", "-P", "threads", "-c",
               str(concurrency or self.worker_concurrency), "-Q", queues, "-n", f"{name}@%h", "-l", "INFO"]
        if not production:
            cmd += ["--without-gossip", "--without-mingle"]
        if include:
            cmd += ["--include", include]
        self.spawn(name, cmd)
        self.wait_file(self.ready_file(name), name)

    def start_beat(self) -> None:
        self.spawn("beat", [str(BIN / "celery"), "-A", "tasks.app", "beat", "-l", "INFO",
                            "-s", str(self.workdir / "celerybeat-schedule")])
        self.wait_file(self.ready_file("beat"), "beat")

    def start_all(self) -> None:
        self.prepare()
        self.start_sandboxes()
        self.start_web()
        self.start_worker()
        self.start_beat()

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            self._terminate(proc)
        self.procs.clear()
        if self.redis is not None:
            self.redis.stop()

    def stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            self._terminate(proc, first=sig)

    # -- helpers ---------------------------------------------------------------------------------------
    def ready_file(self, name: str) -> Path:
        return self.workdir / f"{name}.ready"

    def spawn(self, name: str, cmd: list[str]) -> Proc:
        log = self.workdir / "logs" / f"{name}.log"
        self.ready_file(name).unlink(missing_ok=True)
        handle = log.open("ab")
        env = {**self.env, "PSINFOR_READY_FILE": str(self.ready_file(name))}
        popen = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=PROJECT_ROOT)
        handle.close()
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    @staticmethod
    def _terminate(proc: Proc, first: int = signal.SIGTERM) -> None:
        if proc.popen.poll() is not None:
            return
        try:
            os.killpg(proc.popen.pid, first)
            proc.popen.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=5)

    def _check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.popen.poll() is not None:
            tail = proc.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.popen.returncode}; its log ends with:\n{tail}")

    def wait_http(self, url: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer at {url} within {timeout}s")

    def wait_file(self, path: Path, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            self._check_alive(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not write {path}")
            time.sleep(0.1)

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU so far of every live process in the group of ``name`` (gunicorn's workers and
        celery's pool included), plus what its reaped children used (Linux /proc)."""
        pgid = self.procs[name].popen.pid
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 of /proc/PID/stat: the process group
                total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        return total / ticks


class RestartableRedis:
    """A redis-server of our own that can be stopped and started again on the same port (chaos runs and the
    restart tests): emptied, or with its data (a snapshot written at shutdown, read back at start)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="psinfor-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = _redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server installed (make install provides one)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--dbfilename", "dump.rdb", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not redis_answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self, *, keep_data: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        import redis

        with contextlib.suppress(redis.RedisError, OSError):
            redis.Redis.from_url(self.url, socket_timeout=10).shutdown(save=keep_data, nosave=not keep_data)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if not keep_data:
            (self.dir / "dump.rdb").unlink(missing_ok=True)

    def restart(self, *, keep_data: bool = False, down_seconds: float = 0.0) -> None:
        self.stop(keep_data=keep_data)
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
