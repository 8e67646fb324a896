"""Beat-driven safety nets: the order poller (missed webhooks) and the sweeper (lost chains).

Only one beat may run: it takes a Redis lock when it starts and keeps it alive; a second beat exits.
Each poll also takes a short lock, so a slow poll and the next tick never overlap.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import structlog
from celery.signals import beat_init

from integration.flows.maintenance import poll_order_status, poll_orders, sweep
from integration.runtime import get_runtime
from tasks.app import app
from tasks.dispatch import enqueue

log = structlog.get_logger("psinfor.maintenance")
BEAT_LOCK = "psinfor:beat:leader"


@app.task(name="psinfor.maintenance.poll_orders", ignore_result=True)
def poll_orders_task(connection: str | None = None) -> dict[str, Any]:
    rt = get_runtime()
    names = [connection] if connection else list(rt.settings.connections)
    summary: dict[str, Any] = {}
    for name in names:
        lock = rt.redis.lock(f"psinfor:poll:orders:{name}", timeout=300, blocking_timeout=0)
        if not lock.acquire(blocking=False):
            summary[name] = "another poll is running"
            continue
        try:
            result = poll_orders(rt, name, enqueue)
            summary[name] = {"seen": result.seen, "enqueued": len(result.enqueued), "watermark": result.watermark}
        finally:
            lock.release()
    return summary


@app.task(name="psinfor.maintenance.poll_order_status", ignore_result=True)
def poll_order_status_task(connection: str | None = None) -> dict[str, int]:
    rt = get_runtime()
    interval = float(app.conf.get("STATUS_POLL_INTERVAL", 300.0))
    names = [connection] if connection else list(rt.settings.connections)
    return {name: len(poll_order_status(rt, name, enqueue, interval=interval)) for name in names}


@app.task(name="psinfor.maintenance.sweep", ignore_result=True)
def sweep_task(stale_seconds: int | None = None) -> list[int]:
    return sweep(get_runtime(), enqueue, stale_seconds=stale_seconds)


@beat_init.connect
def _single_beat(sender: Any = None, **_kwargs: Any) -> None:
    rt = get_runtime()
    lock = rt.redis.lock(BEAT_LOCK, timeout=60, blocking_timeout=0, thread_local=False)
    if not lock.acquire(blocking=False):
        log.error("another beat holds the leader lock; this one exits", lock=BEAT_LOCK)
        os._exit(3)

    def keep_alive() -> None:
        while True:
            threading.Event().wait(20)
            try:
                lock.extend(60, replace_ttl=True)
            except Exception:
                log.exception("lost the beat leader lock; exiting")
                os._exit(3)

    threading.Thread(target=keep_alive, name="beat-leader", daemon=True).start()
