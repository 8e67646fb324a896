"""Celery tasks generated from the flow registry: ``psinfor.<entity>.<step>`` for every step and
``psinfor.<entity>.poll.<name>`` for every poller. Routes and the beat schedule follow from the same
declarations (``tasks/routing.py``).

Each step task is a thin wrapper: run the plain step through the runner (which keeps the store true), retry
transient failures, dead-letter the rest, and halt the chain when the event is final.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task

from integration.flows.base import Flow, Poller, StepFailed, run_steps
from integration.flows.registry import FLOWS
from integration.runtime import get_runtime
from tasks.app import app
from tasks.base import SyncTask, will_retry_later

log = structlog.get_logger("psinfor.tasks")

STEP_TASKS: dict[tuple[str, str], Task] = {}
POLL_TASKS: dict[tuple[str, str], Task] = {}


def _make_step_task(flow: Flow, step: str) -> Task:
    def run(self: SyncTask, event_id: int, deferred: int = 0) -> int:
        """``deferred``: how many of this step's retries were waits the remote side asked for."""
        structlog.contextvars.bind_contextvars(event_id=event_id, step=step, task_id=self.request.id)

        def will_retry(at: str, exc: BaseException) -> bool:
            # A later step run in this task is at its first attempt, as it would be in a task of its own.
            return self.will_retry(exc, deferred) if at == step else self.will_retry(exc, 0, retries=0)

        dead: BaseException | None = None
        try:
            try:
                outcome = run_steps(get_runtime(), flow, step, event_id, will_retry=will_retry,
                                    go_on=self.steps_together_budget(), task_id=self.request.id)
            except StepFailed as failed:
                self.halt_chain()  # the chain's next tasks are for steps already done or handed over
                if not self.hand_over(flow, event_id, failed.step, failed.error):
                    dead = failed.error  # raised below, out of this handler: the task shows as FAILURE
            except Exception as exc:
                if will_retry_later(exc) and self.will_retry(exc, deferred):
                    raise self.retry_later(exc, event_id, deferred) from exc
                self.dead_letter(event_id, step, exc)
                raise
            else:
                if outcome.step != step:
                    self.halt_chain()  # ran ahead: what is left goes on in a chain from the next step
                    if outcome.proceed:
                        publish_from(flow, event_id, flow.step_after(outcome.step))
                elif not outcome.proceed:
                    self.halt_chain()
            if dead is not None:
                raise dead
            return event_id
        finally:
            structlog.contextvars.clear_contextvars()

    run.__name__ = f"{flow.entity}_{step}"
    run.__doc__ = f"Step {step!r} of the {flow.entity} flow, and the steps after it while they succeed."
    return app.task(bind=True, base=SyncTask, name=flow.task_name(step))(run)


def publish_from(flow: Flow, event_id: int, step: str, *, deferred: int = 0, **options: Any) -> None:
    """Publish the event's chain from ``step``: the rest of a run that stopped early, or a later step handed over
    for its retry (``options``: its countdown and retry count). A publish that fails leaves the event active
    with no lease (and, for a retry, its wait marker): the sweeper publishes it again."""
    try:
        chain_for(flow.entity, event_id, step, deferred=deferred).apply_async(**options)
    except Exception:
        log.exception("could not publish the event from this step; the sweeper will", event_id=event_id, step=step)
        raise


def _make_poll_task(flow: Flow, poller: Poller) -> Task:
    def run(connection: str | None = None) -> dict[str, Any]:
        """One poll per connection, each under a lock that a dead worker's poll gives up within one period."""
        from tasks.dispatch import enqueue

        rt = get_runtime()
        interval = poller.interval()
        summary: dict[str, Any] = {}
        for name in [connection] if connection else list(rt.settings.connections):
            lock = rt.redis.lock(rt.key("poll", flow.entity, poller.name, name), timeout=poller.lock_timeout(),
                                 blocking_timeout=0)
            if not lock.acquire(blocking=False):
                summary[name] = "another poll is running"
                continue
            try:
                summary[name] = poller.run(rt, name, enqueue, interval)
            finally:
                try:
                    lock.release()
                except Exception:  # expired while we polled: the next tick polls again, nothing is lost
                    log.warning("poll lock expired before the poll ended", poller=poller.name, connection=name)
        return summary

    run.__name__ = f"{flow.entity}_poll_{poller.name}"
    run.__doc__ = f"Poller {poller.name!r} of the {flow.entity} flow."
    return app.task(name=flow.poll_task_name(poller), ignore_result=True)(run)


def register_flow(flow: Flow) -> None:
    """Generate the tasks of one flow (the registry's at import; a test may add its own)."""
    for step in flow.step_names:
        STEP_TASKS[(flow.entity, step)] = _make_step_task(flow, step)
    for poller in flow.pollers:
        POLL_TASKS[(flow.entity, poller.name)] = _make_poll_task(flow, poller)


for _flow in FLOWS.values():
    register_flow(_flow)


def chain_for(entity: str, event_id: int, from_step: str | None = None, *, deferred: int = 0) -> Any:
    """extract | transform | validate | load (or the rest of it from ``from_step``), one message.
    ``deferred``: the first task's count of waits so far (a step handed over for a retry)."""
    from celery import chain

    steps = [step for (flow_entity, step) in STEP_TASKS if flow_entity == entity]
    if from_step in steps:
        steps = steps[steps.index(from_step):]
    first, *rest = steps
    head = STEP_TASKS[(entity, first)].si(event_id, **({"deferred": deferred} if deferred else {}))
    return chain(head, *(STEP_TASKS[(entity, step)].si(event_id) for step in rest))
