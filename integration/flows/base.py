"""What every flow shares: the step runner that keeps the inbox row true at every step.

A flow is a named sequence of plain functions ``step(rt, event, previous_output) -> output``. The runner
reads the previous step's snapshot from the store, runs the step, and writes its outcome and output back
before anything else happens, so the store can always say where an event is and resume it from there.
The Celery layer only decides *when* a step runs (and retries); it never holds state of its own.
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import HeldForReview, IntegrationError, PermanentError, TransientError, is_transient
from integration.store import models as m
from integration.store.repository import EventRow

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.flow")


class SkipEvent(IntegrationError):
    """Nothing to do (already synced, filtered by a rule): the event ends ``skipped`` with this reason."""


EventView = EventRow  # what a step may read of its event

StepFn = Callable[["Runtime", EventView, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Flow:
    entity: str
    queue: str
    steps: tuple[tuple[str, StepFn], ...]

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.steps)

    def steps_from(self, step: str | None) -> tuple[str, ...]:
        names = self.step_names
        return names[names.index(step):] if step in names else names


@dataclass(frozen=True)
class StepOutcome:
    """``proceed`` False halts the chain: the event is final (done, skipped, held) or was final already."""

    proceed: bool
    status: str


def describe_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, IntegrationError):
        return exc.to_dict()
    return {"type": type(exc).__name__, "transient": False, "message": str(exc) or type(exc).__name__,
            "resolution": "an unexpected error: see the traceback in the dead letter and report it", "details": {}}


def run_step(rt: Runtime, flow: Flow, step: str, event_id: int,
             *, will_retry: Callable[[BaseException], bool] | bool = True) -> StepOutcome:
    """Run one step of one event. Raises TransientError (retry it) or any other exception (dead-letter it).

    ``will_retry`` tells the runner whether a transient failure will be retried (a flag, or a predicate on
    the exception), so the row says ``retrying`` only when that is true.
    """
    # One execution of an event at a time: a redelivered message and the sweeper's re-enqueue may race.
    with rt.record_lock(f"event:{event_id}", timeout=rt.settings.event_lock_seconds, wait=5):
        return _run_step_locked(rt, flow, step, event_id, will_retry)


def _run_step_locked(rt: Runtime, flow: Flow, step: str, event_id: int,
                     will_retry: Callable[[BaseException], bool] | bool) -> StepOutcome:
    def retrying(exc: BaseException) -> bool:
        return will_retry(exc) if callable(will_retry) else will_retry

    store = rt.store
    names = flow.step_names
    index = names.index(step)
    started = store.start_step(event_id, step, names[index - 1] if index else None)
    if started is None:
        return StepOutcome(proceed=False, status="noop")
    view, previous = started
    bound = log.bind(event_id=event_id, entity=flow.entity, source_id=view.source_id, step=step,
                     connection=view.connection)
    fn = dict(flow.steps)[step]
    try:
        output = fn(rt, view, dict(previous or {}))
    except SkipEvent as exc:
        store.finish_step(event_id, step, {"skipped": exc.message}, final_status=m.SKIPPED,
                          result={"skipped": exc.message, "step": step})
        bound.info("event skipped", reason=exc.message)
        return StepOutcome(proceed=False, status=m.SKIPPED)
    except HeldForReview as exc:
        store.fail_step(event_id, step, exc.to_dict(), retrying=False)
        store.set_status(event_id, m.HELD, error=exc.to_dict())
        bound.warning("event held for review", reason=exc.message)
        return StepOutcome(proceed=False, status=m.HELD)
    except TransientError as exc:
        again = retrying(exc)
        store.fail_step(event_id, step, exc.to_dict(), retrying=again)
        bound.warning("step failed, transient", error=exc.message, will_retry=again)
        raise
    except PermanentError as exc:
        store.fail_step(event_id, step, exc.to_dict(), retrying=False)
        bound.error("step failed, permanent", error=exc.message, resolution=exc.resolution)
        raise
    except Exception as exc:
        error = describe_error(exc)
        error["transient"] = is_transient(exc)
        error["traceback"] = tb.format_exc(limit=20)
        store.fail_step(event_id, step, error, retrying=error["transient"] and retrying(exc))
        bound.exception("step failed", transient=error["transient"])
        raise
    last = index == len(names) - 1
    store.finish_step(event_id, step, output, final_status=m.SUCCEEDED if last else None,
                      result=output if last else None)
    if last:
        bound.info("event succeeded", **{k: v for k, v in output.items() if isinstance(v, str | int)})
        return StepOutcome(proceed=False, status=m.SUCCEEDED)
    bound.debug("step done")
    return StepOutcome(proceed=True, status=m.RUNNING)
