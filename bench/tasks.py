"""No-op tasks for the ceiling: bare 4-step chains on the same Redis, queue and pool as the order flow."""

from __future__ import annotations

import redis

from tasks.app import app

_clients: dict[str, redis.Redis] = {}


@app.task(name="psinfor.bench.noop")
def noop(value: int) -> int:
    return value


@app.task(name="psinfor.bench.done")
def done(value: int, counter_url: str) -> int:
    client = _clients.get(counter_url) or _clients.setdefault(counter_url, redis.Redis.from_url(counter_url))
    client.incr("psinfor:bench:chains")
    return value
