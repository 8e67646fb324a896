"""The base task: retry policy and dead-lettering in one place.

A step that raises ``TransientError`` (or a database or broker hiccup) is retried with exponential backoff
and full jitter over its real attempts, capped far below the Redis visibility timeout. A wait the other side
asked for (an open circuit, a 429, a held lease, M3 settling a write) is retried when it said, with a little
jitter, and counted apart. A ``PermanentError``, an unexpected exception, or a transient one that ran out of
retries, dead-letters the event: a ``dead_letter`` row in SQL (written first, so nothing is lost) and a
message on the ``dead_letter`` queue that Flower shows.

Every scheduled retry leaves a wait marker in Redis for its countdown (and a margin): the sweeper's sign
that the event is waiting, not lost.
"""

from __future__ import annotations

import math
import random
import time
import traceback
from collections.abc import Callable
from typing import Any

import structlog
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from celeryconfig import is_amqp
from integration.errors import classify, register_transient
from integration.flows.base import Flow, error_of
from integration.flows.maintenance import WAIT_MARGIN_SECONDS, wait_key
from integration.runtime import get_runtime

log = structlog.get_logger("psinfor.tasks")

# A soft time limit is transient, for the runner (the step row) and the task alike: one classifier decides.
register_transient(SoftTimeLimitExceeded)

DEFERRED_BUDGET_FACTOR = 3


def will_retry_later(exc: BaseException) -> bool:
    return classify(exc).transient


def is_deferred(exc: BaseException) -> bool:
    """A wait the remote side or another holder asked for: counted apart from the real attempts."""
    return classify(exc).is_wait


def backoff_seconds(retries: int, base: float, maximum: float) -> float:
    """Full jitter: uniform in [base, min(max, base * 2**retries)] (never zero, never a thundering herd)."""
    ceiling = min(maximum, base * (2 ** retries))
    return random.uniform(min(base, ceiling), ceiling)


def wait_seconds(retry_after: float, base: float, maximum: float) -> float:
    """A wait the other side asked for: then, plus up to a quarter more (at least ``base``) so that the
    waiters do not all come back at the same instant; never more than ``maximum``."""
    low = max(retry_after, base)
    return min(maximum, random.uniform(low, low + max(base, retry_after / 4)))


class SyncTask(Task):
    """Base of every sync step task (``tasks/flows.py``): the retry budget, backoff, and dead-lettering."""

    abstract = True
    acks_late = True
    typing = True
    max_retries = None  # the budget below is ours; Celery's default of 3 must not cut it short
    # Every failure of a step is handled here (retried or dead-lettered) and logged once by the runner: Celery
    # records it as FAILURE without logging a second traceback, and Sentry's Celery integration skips it
    # (the dead letter reports it, once).
    throws = (Exception,)

    @property
    def max_sync_retries(self) -> int:
        return int(self.app.conf.get("retry_max_retries", 8))

    def will_retry(self, exc: BaseException, deferred: int = 0, *, retries: int | None = None) -> bool:
        """Within the retry budget. Waits the remote side asked for (an open circuit, a rate limit, a held
        claim) are counted apart (``deferred``): they are not real attempts, so they neither use up the real
        budget nor go on for ever (their own budget is larger). ``retries``: the step's retries so far
        (this task's, unless the step is a later one it ran)."""
        if is_deferred(exc):
            return deferred < self.max_sync_retries * DEFERRED_BUDGET_FACTOR
        return (self.request.retries if retries is None else retries) - deferred < self.max_sync_retries

    def countdown(self, exc: BaseException | None = None, deferred: int = 0, *, retries: int | None = None) -> float:
        """How long until the retry: exponential over the real attempts (waits do not make the next real
        attempt later), or the wait the remote side asked for. Whole seconds on RabbitMQ, whose native
        delayed delivery (quorum queues) counts them, one at least."""
        conf = self.app.conf
        base = float(conf.get("retry_backoff_base", 2.0))
        maximum = float(conf.get("retry_backoff_max", 300.0))
        if exc is not None and is_deferred(exc):
            seconds = wait_seconds(classify(exc).retry_after, base, maximum)
        else:
            attempts = max(0, (self.request.retries if retries is None else retries) - deferred)
            retry_after = classify(exc).retry_after if exc is not None else 0.0
            seconds = max(backoff_seconds(attempts, base, maximum), min(retry_after, maximum))
        if is_amqp(str(conf.broker_url or "")):
            seconds = float(max(1, math.ceil(seconds)))
        return seconds

    def retry_later(self, exc: BaseException, event_id: int, deferred: int) -> BaseException:
        """The Retry to raise: waits are counted in ``deferred``, attempts by Celery's retry count."""
        countdown, waits = self._plan_retry(exc, event_id, deferred)
        return self.retry(exc=exc, countdown=countdown, args=[event_id], kwargs={"deferred": waits}, throw=False)

    def _plan_retry(self, exc: BaseException, event_id: int, deferred: int, *,
                    retries: int | None = None) -> tuple[float, int]:
        """A step's next retry: its countdown, marked as the event's wait, and its count of waits with this one."""
        countdown = self.countdown(exc, deferred, retries=retries)
        mark_waiting(event_id, countdown)
        return countdown, deferred + (1 if is_deferred(exc) else 0)

    def steps_together_budget(self) -> Callable[[], bool]:
        """Whether this task may go on to the flow's next step (``PSINFOR_STEPS_TOGETHER``): while the task has
        run less than a quarter of its soft time limit. Under prefork, the step it goes on to still has most of the
        limit; the threads pool enforces no time limit, and the budget then bounds how long one task runs."""
        if not self.app.conf.get("steps_together", True):
            return lambda: False
        limit = self.app.conf.get("task_soft_time_limit") or 120  # PSINFOR_SOFT_TIME_LIMIT: no task sets its own
        deadline = time.monotonic() + float(limit) / 4
        return lambda: time.monotonic() < deadline

    def hand_over(self, flow: Flow, event_id: int, step: str, exc: BaseException) -> bool:
        """A later step run in this task failed: retry that step in a task of its own, at its first retry, as
        its own task would have (``SyncTask.retry_later``), and say True; or dead-letter it and say False."""
        from tasks.flows import publish_from

        if not (will_retry_later(exc) and self.will_retry(exc, 0, retries=0)):
            self.dead_letter(event_id, step, exc, task_name=flow.task_name(step))
            return False
        countdown, waits = self._plan_retry(exc, event_id, 0, retries=0)
        publish_from(flow, event_id, step, deferred=waits, countdown=countdown, retries=1)
        log.info("step handed over for a retry", event_id=event_id, step=step, countdown=round(countdown, 2))
        return True

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        """A retry that starts is no longer waiting: from here its lease says it is alive."""
        if self.request.retries and args:
            unmark_waiting(int(args[0]))

    def halt_chain(self) -> None:
        """Stop the rest of the chain (the event is final): Celery reads request.chain after we return."""
        self.request.chain = None
        self.request.callbacks = None

    def dead_letter(self, event_id: int, step: str, exc: BaseException, *, task_name: str | None = None) -> None:
        error = error_of(exc)
        text = "".join(traceback.format_exception(exc))
        rt = get_runtime()
        dlq_id = rt.store.dead_letter(event_id, step=step, task_name=task_name or self.name, error=error,
                                      traceback=text)
        if not dlq_id:
            log.warning("late failure of an event already finished; not dead-lettered", event_id=event_id,
                        step=step, error=error.get("message"))
            return
        log.error("event dead-lettered", event_id=event_id, step=step, dead_letter_id=dlq_id,
                  error=error.get("message"), resolution=error.get("resolution"))
        report_dead_letter(exc, dlq_id, event_id, step)
        try:
            self.app.send_task(
                "psinfor.dead_letter.record",
                args=[dlq_id, event_id, step, f"{error.get('type')}: {error.get('message')}"],
                queue="dead_letter",
            )
        except Exception:  # the SQL row is the record; the queue message is for Flower and alerting
            log.exception("could not publish the dead letter message", dead_letter_id=dlq_id)


def mark_waiting(event_id: int, countdown: float) -> None:
    """The sweeper's sign that a retry is scheduled. Best effort: without it, the sweeper may publish the
    event once more, which is a no-op when the retry runs first."""
    rt = get_runtime()
    try:
        rt.redis.set(wait_key(rt, event_id), "1", px=int((countdown + WAIT_MARGIN_SECONDS) * 1000))
    except Exception as exc:
        log.warning("could not mark the event as waiting", event_id=event_id, error=type(exc).__name__)


def unmark_waiting(event_id: int) -> None:
    rt = get_runtime()
    try:
        rt.redis.delete(wait_key(rt, event_id))
    except Exception as exc:
        log.warning("could not clear the event's wait marker", event_id=event_id, error=type(exc).__name__)


def report_dead_letter(exc: BaseException, dlq_id: int, event_id: int, step: str) -> None:
    """One Sentry event per dead letter, with the failure's stack (a no-op when Sentry is not configured)."""
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("psinfor.dead_letter_id", dlq_id)
        scope.set_tag("psinfor.event_id", event_id)
        scope.set_tag("psinfor.step", step)
        sentry_sdk.capture_exception(exc)
