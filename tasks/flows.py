"""One Celery task per flow step, generated from the flow definitions: ``psinfor.<entity>.<step>``.

Each task is a thin wrapper: run the plain step through the runner (which keeps the store true), retry
transient failures, dead-letter the rest, and halt the chain when the event is final.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task

from integration.flows import FLOWS
from integration.flows.base import Flow, run_step
from integration.runtime import get_runtime
from tasks.app import app
from tasks.base import TRANSIENT, SyncTask, is_deferred

log = structlog.get_logger("psinfor.tasks")

STEP_TASKS: dict[tuple[str, str], Task] = {}


def _make_step_task(flow: Flow, step: str) -> Task:
    def run(self: SyncTask, event_id: int, deferred: int = 0) -> int:
        """``deferred``: how many of this step's retries were waits the remote side asked for."""
        structlog.contextvars.bind_contextvars(event_id=event_id, step=step, task_id=self.request.id)

        def will_retry(exc: BaseException) -> bool:
            return self.will_retry(exc, deferred)

        try:
            try:
                outcome = run_step(get_runtime(), flow, step, event_id, will_retry=will_retry)
            except TRANSIENT as exc:
                if will_retry(exc):
                    waits = deferred + (1 if is_deferred(exc) else 0)
                    raise self.retry(exc=exc, countdown=self.countdown(exc), args=[event_id],
                                     kwargs={"deferred": waits}) from exc
                self.dead_letter(event_id, step, exc)
                raise
            except Exception as exc:
                self.dead_letter(event_id, step, exc)
                raise
            if not outcome.proceed:
                self.halt_chain()
            return event_id
        finally:
            structlog.contextvars.clear_contextvars()

    run.__name__ = f"{flow.entity}_{step}"
    run.__doc__ = f"Step {step!r} of the {flow.entity} flow."
    return app.task(bind=True, base=SyncTask, name=f"psinfor.{flow.entity}.{step}")(run)


for _flow in FLOWS.values():
    for _step in _flow.step_names:
        STEP_TASKS[(_flow.entity, _step)] = _make_step_task(_flow, _step)


def chain_for(entity: str, event_id: int, from_step: str | None = None) -> Any:
    """extract | transform | validate | load (or the rest of it from ``from_step``), one message."""
    from celery import chain

    flow = FLOWS[entity]
    return chain(*(STEP_TASKS[(entity, step)].si(event_id) for step in flow.steps_from(from_step)))
