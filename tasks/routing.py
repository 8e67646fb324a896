"""Routing, queues and the beat schedule, generated from the flow registry: a flow declares them once.

``python -m tasks.routing`` prints the worker's ``-Q`` list (``make worker`` uses it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from integration.flows.base import Flow

# Queues of the framework itself: pollers, sweeper and retention on "maintenance"; alerts on "dead_letter".
MAINTENANCE_QUEUE = "maintenance"
DEAD_LETTER_QUEUE = "dead_letter"
SYSTEM_QUEUES = (MAINTENANCE_QUEUE, DEAD_LETTER_QUEUE)

# Framework beat entries: (name, task, interval setting, default seconds).
SYSTEM_BEAT = (
    ("sweep-stale-events", "psinfor.maintenance.sweep", "PSINFOR_SWEEP_INTERVAL", 20.0),
    ("prune-finished-events", "psinfor.maintenance.prune", "PSINFOR_PRUNE_INTERVAL", 3600.0),
    ("resume-held-by-erp", "psinfor.maintenance.resume_waiting", "PSINFOR_RESUME_INTERVAL", 60.0),
    ("alerts", "psinfor.maintenance.alerts", "PSINFOR_ALERT_INTERVAL", 60.0),
)


def queue_names(flows: Iterable[Flow]) -> tuple[str, ...]:
    """Every queue a worker must consume: the flows' own, then the framework's."""
    names: list[str] = []
    for flow in flows:
        if flow.queue not in names:
            names.append(flow.queue)
    return (*names, *(q for q in SYSTEM_QUEUES if q not in names))


def task_routes(flows: Iterable[Flow]) -> dict[str, dict[str, str]]:
    """Exact routes for every generated task: a flow's steps to its queue, its pollers to maintenance."""
    routes: dict[str, dict[str, str]] = {}
    for flow in flows:
        for step in flow.step_names:
            routes[flow.task_name(step)] = {"queue": flow.queue}
        for poller in flow.pollers:
            routes[flow.poll_task_name(poller)] = {"queue": MAINTENANCE_QUEUE}
    routes["psinfor.maintenance.*"] = {"queue": MAINTENANCE_QUEUE}
    routes["psinfor.dead_letter.*"] = {"queue": DEAD_LETTER_QUEUE}
    return routes


def beat_schedule(flows: Iterable[Flow], env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """One entry per poller of every flow, at the interval its setting gives, plus the framework's entries.
    A tick that is not run within its interval expires: the next one does the same work."""
    env = os.environ if env is None else env
    schedule: dict[str, dict[str, Any]] = {}
    for flow in flows:
        for poller in flow.pollers:
            interval = poller.interval(env)
            schedule[f"{flow.entity}-poll-{poller.name}"] = {
                "task": flow.poll_task_name(poller), "schedule": interval, "options": {"expires": interval}}
    for name, task, setting, default in SYSTEM_BEAT:
        interval = float(env.get(setting) or default)
        schedule[name] = {"task": task, "schedule": interval, "options": {"expires": interval}}
    return schedule


if __name__ == "__main__":
    from integration.flows.registry import FLOWS

    print(",".join(queue_names(FLOWS.values())))
