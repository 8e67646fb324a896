"""The framework's beat-driven safety nets: the sweeper (lost chains) and retention. The flows' pollers are
generated from their declarations (``tasks/flows.py``); single-beat leadership is ``tasks/beat.py``."""

from __future__ import annotations

import structlog

from integration.flows.maintenance import prune, resume_waiting, sweep
from integration.flows.registry import FLOWS
from integration.runtime import get_runtime
from tasks.app import app
from tasks.dispatch import enqueue

log = structlog.get_logger("psinfor.maintenance")


def queue_backlog(queue: str) -> int | None:
    """Messages waiting in a queue, as the broker counts them (Redis or RabbitMQ); None when it cannot say."""
    try:
        with app.connection_for_write() as conn:
            try:
                return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
            except conn.channel_errors:  # no such queue: Redis drops an empty list's key
                return 0
    except Exception as exc:
        log.warning("could not read the queue's length", queue=queue, error=type(exc).__name__)
        return None


@app.task(name="psinfor.maintenance.sweep", ignore_result=True)
def sweep_task(stale_seconds: int | None = None) -> list[int]:
    return sweep(get_runtime(), enqueue, stale_seconds=stale_seconds, backlog=queue_backlog)


@app.task(name="psinfor.maintenance.resume_waiting", ignore_result=True)
def resume_waiting_task(older_than_seconds: float | None = None) -> list[int]:
    return resume_waiting(get_runtime(), enqueue, older_than_seconds=older_than_seconds)


@app.task(name="psinfor.maintenance.prune", ignore_result=True)
def prune_task(retention_days: float | None = None) -> int:
    return prune(get_runtime(), retention_days=retention_days)


@app.task(name="psinfor.maintenance.alerts", ignore_result=True)
def alerts_task() -> dict[str, object]:
    """Alerts (dead letters, held too long, queues backing up, no success) and the daily digest."""
    from integration.alerting import AlertSettings, run_alerts
    from integration.web.metrics import broker_queue_depths
    from tasks.routing import queue_names

    rt = get_runtime()
    settings = rt.settings
    result = run_alerts(rt.store, rt.redis, AlertSettings.load(), key_prefix=settings.key_prefix,
                        queue_depths=lambda: broker_queue_depths(rt.redis, settings.key_prefix,
                                                                 queue_names(FLOWS.values())))
    return {"sent": result.alerts, "throttled": result.throttled, "digest": result.digest}
