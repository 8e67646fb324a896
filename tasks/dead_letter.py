"""The ``dead_letter`` queue: one message per dead-lettered event, visible in Flower as a FAILURE, raising the alert.

The SQL ``dead_letter`` row is already written when this runs (and Sentry has its one event, sent where the
failure happened, with its stack); this task is the alerting side: an ERROR log line carrying the resolution
hint, then it ends FAILED so Flower's failed-task view lists every dead letter.
"""

from __future__ import annotations

import structlog

from integration.runtime import get_runtime
from tasks.app import app

log = structlog.get_logger("psinfor.alerts")


class DeadLettered(Exception):
    """The outcome of a dead-letter message: Flower shows it as a failed task, with the summary."""


@app.task(name="psinfor.dead_letter.record", ignore_result=True, throws=(DeadLettered,))
def record(dead_letter_id: int, event_id: int, step: str, summary: str) -> None:
    row = get_runtime().store.get_dead_letter(dead_letter_id)
    resolution = row.resolution if row else None
    log.error("ALERT dead letter", dead_letter_id=dead_letter_id, event_id=event_id, step=step, summary=summary,
              resolution=resolution, replay=f"psinfor dlq replay {dead_letter_id}")
    raise DeadLettered(f"dead letter {dead_letter_id} (event {event_id}, step {step}): {summary}"
                       + (f" Resolution: {resolution}" if resolution else ""))
