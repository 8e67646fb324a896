"""What every flow shares: the step runner that keeps the inbox row true at every step.

A flow is a named sequence of plain functions ``step(rt, event, previous_output) -> output``. The runner
reads the previous step's snapshot from the store, runs the step, and writes its outcome and output back
before anything else happens, so the store can always say where an event is and resume it from there.
The Celery layer only decides *when* a step runs (and retries); it never holds state of its own.
"""

from __future__ import annotations

import os
import traceback as tb
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import HeldForReview, IntegrationError, PermanentError, TransientError, Waiting, classify
from integration.store import models as m
from integration.store.repository import EventRow, Store

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.flow")


class SkipEvent(IntegrationError):
    """Nothing to do (already synced, filtered by a rule): the event ends ``skipped`` with this reason."""


EventView = EventRow  # what a step may read of its event

StepFn = Callable[["Runtime", EventView, dict[str, Any]], dict[str, Any]]
# publish(event_id, entity, from_step): given to pollers by the Celery layer, so they stay broker-free.
Enqueue = Callable[[int, str, "str | None"], None]
# poll(rt, connection, enqueue, interval) -> a JSON-able summary for the logs.
PollFn = Callable[["Runtime", str, Enqueue, float], dict[str, Any]]


@dataclass(frozen=True)
class Poller:
    """A beat-driven producer of a flow: reads "changed since" on one side and enqueues events.

    ``interval_setting`` is the environment variable that sets its period (``default_interval`` seconds when
    unset). One poll per connection at a time: a Redis lock held for at most ``lock_seconds`` (by default the
    period), so a worker killed mid-poll delays the next poll by one period at most.
    """

    name: str
    run: PollFn
    interval_setting: str
    default_interval: float
    lock_seconds: float | None = None

    def interval(self, env: Mapping[str, str] | None = None) -> float:
        raw = (os.environ if env is None else env).get(self.interval_setting)
        return float(raw) if raw else self.default_interval

    def lock_timeout(self, env: Mapping[str, str] | None = None) -> float:
        return self.lock_seconds if self.lock_seconds is not None else max(30.0, self.interval(env))


@dataclass(frozen=True)
class Flow:
    """Everything about one flow, declared in one place; routing, beat schedule, the worker's queues and the
    receiver's accepted events are generated from the registry of these (``integration.flows.registry``).

    - ``events``: webhook event name -> the body field carrying the record's id (the event's ``source_id``).
    - ``pollers``: its beat-driven producers.
    - ``batch_size``: for flows whose event carries a window of rows (stock, items), the most rows one event
      may carry; 0 for one record per event.
    """

    entity: str
    queue: str
    steps: tuple[tuple[str, StepFn], ...]
    events: Mapping[str, str] = field(default_factory=dict)
    pollers: tuple[Poller, ...] = ()
    batch_size: int = 0

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.steps)

    def task_name(self, step: str) -> str:
        return f"psinfor.{self.entity}.{step}"

    def poll_task_name(self, poller: Poller) -> str:
        return f"psinfor.{self.entity}.poll.{poller.name}"

    def step_before(self, step: str) -> str | None:
        names = self.step_names
        index = names.index(step)
        return names[index - 1] if index else None

    def step_after(self, step: str) -> str:
        names = self.step_names
        return names[names.index(step) + 1]

    def steps_from(self, step: str | None) -> tuple[str, ...]:
        names = self.step_names
        return names[names.index(step):] if step in names else names


@dataclass(frozen=True)
class StepOutcome:
    """``proceed`` False halts the chain: the event is final (done, skipped, held) or was final already.
    ``step``: the last step run (``run_steps`` may go past the one it was asked for)."""

    proceed: bool
    status: str
    step: str = ""


class StepFailed(Exception):
    """A step that ``run_steps`` went on to, after the one it was asked for, failed: ``step`` names it and
    ``error`` is what it raised. The failures of the first step are raised as they are."""

    def __init__(self, step: str, error: BaseException):
        super().__init__(f"step {step!r} failed: {error}")
        self.step = step
        self.error = error


def describe_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, IntegrationError):
        return exc.to_dict()
    return {"type": type(exc).__name__, "transient": False, "message": str(exc) or type(exc).__name__,
            "resolution": "an unexpected error: see the traceback in the dead letter and report it", "details": {}}


def error_of(exc: BaseException) -> dict[str, Any]:
    """``describe_error`` with ``transient`` as the one classifier (``errors.classify``) decides it."""
    if isinstance(exc, IntegrationError):
        return exc.to_dict()
    error = describe_error(exc)
    error["transient"] = classify(exc).transient
    return error


def event_lock_name(event_id: int) -> str:
    """The record lock (a lease renewed while held) taken around each step of the event."""
    return f"event:{event_id}"


def run_step(rt: Runtime, flow: Flow, step: str, event_id: int,
             *, will_retry: Callable[[BaseException], bool] | bool = True, task_id: str | None = None) -> StepOutcome:
    """Run one step of one event. Raises a transient failure (retry it, see ``errors.classify``) or any other
    exception (dead-letter it).

    ``will_retry`` tells the runner whether a transient failure will be retried (a flag, or a predicate on
    the exception), so the row says ``retrying`` only when that is true.
    """
    return run_steps(rt, flow, step, event_id, task_id=task_id, go_on=lambda: False,
                     will_retry=lambda _step, exc: will_retry(exc) if callable(will_retry) else will_retry)


def run_steps(rt: Runtime, flow: Flow, step: str, event_id: int, *,
              will_retry: Callable[[str, BaseException], bool], go_on: Callable[[], bool],
              task_id: str | None = None) -> StepOutcome:
    """Run ``step`` and then, while each succeeds and ``go_on()`` says so, the flow's next steps, under one
    record lock. Each step is still recorded on its own (its row, attempt and snapshot, and the next step reads
    the snapshot back from the store as a step in a task of its own would, in the transaction that ends the one
    before): only the hops between them are saved. ``will_retry(step, exc)`` is asked per step. A failure of a
    later step is raised as ``StepFailed``, so that the caller retries or dead-letters that step, not the first.
    """
    store = rt.store
    # One execution of an event at a time: a redelivered message and the sweeper's re-enqueue may race. The
    # lock is a lease renewed while the steps run, and the sweeper's sign of life: a killed worker's lease runs
    # out within PSINFOR_EVENT_LOCK_SECONDS and the sweeper then publishes the event again.
    with rt.record_lock(event_lock_name(event_id), wait=5) as lease:
        started = store.start_step(event_id, step, flow.step_before(step), task_id=task_id)
        current = step
        outcome = StepOutcome(proceed=False, status="noop")

        def held_and_go_on() -> bool:  # a lease lost while a step ran is not carried into the next one
            return not lease.lost and go_on()

        while started is not None:
            try:
                outcome, started = _run_started(rt, flow, current, started, partial(will_retry, current),
                                                held_and_go_on, task_id)
            except Exception as exc:
                if current == step:
                    raise
                raise StepFailed(current, exc) from exc
            if started is not None:
                current = flow.step_after(current)
                lease.begin_hold()  # each step gets the hold limit a task of its own would have
        return StepOutcome(outcome.proceed, outcome.status, step=current)


Started = tuple[EventView, "dict[str, Any] | None"]


def _run_started(rt: Runtime, flow: Flow, step: str, started: Started, retrying: Callable[[BaseException], bool],
                 go_on: Callable[[], bool], task_id: str | None) -> tuple[StepOutcome, Started | None]:
    """Run a started step and record its outcome. When it succeeded, is not the last, and ``go_on()``, the next
    step is started in the same transaction that records this one's end, and returned."""
    store = rt.store
    names = flow.step_names
    index = names.index(step)
    view, previous = started
    event_id = view.id
    attempt = view.attempt_id
    bound = log.bind(event_id=event_id, entity=flow.entity, source_id=view.source_id, step=step,
                     connection=view.connection)
    fn = dict(flow.steps)[step]
    try:
        output = fn(rt, view, dict(previous or {}))
    except SkipEvent as exc:
        store.finish_step(event_id, step, {"skipped": exc.message}, final_status=m.SKIPPED,
                          result={"skipped": exc.message, "step": step}, attempt_id=attempt,
                          outcome=m.StepStatus.SKIPPED)
        bound.info("event skipped", reason=exc.message)
        return StepOutcome(proceed=False, status=m.SKIPPED), None
    except Waiting as exc:
        store.fail_step(event_id, step, exc.to_dict(), retrying=False, attempt_id=attempt,
                        outcome=m.StepStatus.WAITING)
        store.set_status(event_id, exc.status, error=exc.to_dict())
        bound.info("event waiting", status=exc.status, reason=exc.message)
        return StepOutcome(proceed=False, status=exc.status), None
    except HeldForReview as exc:
        store.fail_step(event_id, step, exc.to_dict(), retrying=False, attempt_id=attempt,
                        outcome=m.StepStatus.HELD)
        store.set_status(event_id, m.HELD, error=exc.to_dict())
        bound.warning("event held for review", reason=exc.message)
        return StepOutcome(proceed=False, status=m.HELD), None
    except TransientError as exc:
        again = retrying(exc)
        store.fail_step(event_id, step, exc.to_dict(), retrying=again, attempt_id=attempt)
        bound.warning("step failed, transient", error=exc.message, will_retry=again, wait=not exc.counts_as_attempt)
        raise
    except PermanentError as exc:
        store.fail_step(event_id, step, exc.to_dict(), retrying=False, attempt_id=attempt)
        # An expected business failure: one line, no traceback (the dead letter keeps the details).
        bound.error("step failed, permanent", error=exc.message, resolution=exc.resolution)
        raise
    except Exception as exc:
        error = error_of(exc)
        error["traceback"] = tb.format_exc(limit=20)
        store.fail_step(event_id, step, error, retrying=error["transient"] and retrying(exc), attempt_id=attempt)
        bound.exception("step failed", transient=error["transient"])
        raise
    last = index == len(names) - 1
    following: Started | None = None
    try:
        if last:
            store.finish_step(event_id, step, output, final_status=m.SUCCEEDED, result=output, attempt_id=attempt)
        elif go_on():
            following = store.advance_step(event_id, step, output, attempt_id=attempt, next_step=names[index + 1],
                                           task_id=task_id)
            if following is None:  # the event was finished or moved on meanwhile: nothing left for this run
                return StepOutcome(proceed=False, status="noop"), None
        else:
            store.finish_step(event_id, step, output, attempt_id=attempt)
    except Exception as exc:
        _unrecorded(store, event_id, step, attempt, exc, retrying, bound)
        raise
    if last:
        bound.info("event succeeded", **{k: v for k, v in output.items() if isinstance(v, str | int)})
        return StepOutcome(proceed=False, status=m.SUCCEEDED), None
    bound.debug("step done")
    return StepOutcome(proceed=True, status=m.RUNNING), following


def _unrecorded(store: Store, event_id: int, step: str, attempt: int, exc: BaseException,
                retrying: Callable[[BaseException], bool], bound: Any) -> None:
    """A step ran but its end could not be written (a snapshot over the store's bound, a database failure): it
    will run again or be dead-lettered, so its row and attempt say it failed. Best effort: the store may be what
    failed, and the sweeper still finds the step by its running row."""
    error = error_of(exc)
    try:
        store.fail_step(event_id, step, error, retrying=error["transient"] and retrying(exc), attempt_id=attempt)
    except Exception as again:
        bound.warning("the failure of the step could not be recorded either", error=type(again).__name__)
    bound.error("the end of the step could not be recorded", error=error.get("message"),
                transient=error["transient"])
