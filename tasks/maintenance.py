"""The framework's beat-driven safety nets: the sweeper (lost chains) and retention. The flows' pollers are
generated from their declarations (``tasks/flows.py``); single-beat leadership is ``tasks/beat.py``."""

from __future__ import annotations

from integration.flows.maintenance import prune, resume_waiting, sweep
from integration.runtime import get_runtime
from tasks.app import app
from tasks.dispatch import enqueue


@app.task(name="psinfor.maintenance.sweep", ignore_result=True)
def sweep_task(stale_seconds: int | None = None) -> list[int]:
    return sweep(get_runtime(), enqueue, stale_seconds=stale_seconds)


@app.task(name="psinfor.maintenance.resume_waiting", ignore_result=True)
def resume_waiting_task(older_than_seconds: float | None = None) -> list[int]:
    return resume_waiting(get_runtime(), enqueue, older_than_seconds=older_than_seconds)


@app.task(name="psinfor.maintenance.prune", ignore_result=True)
def prune_task(retention_days: float | None = None) -> int:
    return prune(get_runtime(), retention_days=retention_days)
