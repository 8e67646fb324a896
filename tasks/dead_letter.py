"""The ``dead_letter`` queue: one message per dead-lettered event, visible in Flower, raising the alert.

The SQL ``dead_letter`` row is already written when this runs; this task is the alerting side: an ERROR log
line carrying the resolution hint, and a Sentry event when Sentry is configured.
"""

from __future__ import annotations

import structlog

from integration.runtime import get_runtime
from tasks.app import app

log = structlog.get_logger("psinfor.alerts")


@app.task(name="psinfor.dead_letter.record", ignore_result=True)
def record(dead_letter_id: int, event_id: int, step: str, summary: str) -> dict[str, object]:
    row = get_runtime().store.get_dead_letter(dead_letter_id)
    resolution = row.resolution if row else None
    log.error("ALERT dead letter", dead_letter_id=dead_letter_id, event_id=event_id, step=step, summary=summary,
              resolution=resolution, replay=f"psinfor dlq replay {dead_letter_id}")
    try:
        import sentry_sdk

        sentry_sdk.capture_message(f"psinfor dead letter {dead_letter_id}: {summary}", level="error")
    except ImportError:  # sentry-sdk is a dependency; this only guards odd installs
        pass
    return {"dead_letter_id": dead_letter_id, "event_id": event_id, "step": step, "summary": summary,
            "resolution": resolution}
