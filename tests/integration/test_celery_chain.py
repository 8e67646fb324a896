"""The Celery layer on a live Redis with an embedded worker: per-step retries keep the chain, failures
dead-letter the event (SQL row + dead_letter queue message), skips halt the chain; a step task goes on with the
next steps while they succeed, and a later step that fails is retried or dead-lettered as itself."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from integration.errors import PermanentError, TransientError
from integration.flows.base import Flow, SkipEvent
from integration.flows.registry import FLOWS
from integration.store import models as m
from integration.store.repository import NewEvent
from tasks.flows import STEP_TASKS, _make_step_task
from tests.integration.conftest import wait_until

calls: Counter[str] = Counter()
behaviour: dict[str, str] = {}
retries: dict[tuple[str, int], int] = {}  # (step, its n-th call) -> Celery's retry count of the running task
held_since: dict[str, float] = {}  # step -> when its hold of the event's lease began (Lease.taken)
_lock = threading.Lock()


def _event_lease(event_id: int):
    """The lease this process holds on the event now (the one the running step is under)."""
    from integration.runtime import _keeper

    with _keeper._lock:
        [lease] = [lease for lease in _keeper._leases if lease.key.endswith(f"lock:event:{event_id}")]
    return lease


def _step(name: str):
    def step(rt, event, previous: dict[str, Any]) -> dict[str, Any]:
        with _lock:
            calls[name] += 1
            attempt = calls[name]
        mode = behaviour.get(name, "ok")
        from celery import current_task

        retries[(name, attempt)] = current_task.request.retries if current_task else -1
        lease = _event_lease(event.id)
        held_since[name] = lease.taken
        if mode == "lose-lease":  # the keeper's verdict when another holder took the lease meanwhile
            lease.lost = True
        if mode == "slow":
            time.sleep(0.6)
        if mode == "huge":  # an output over the store's bound: the step runs, its end cannot be written
            from integration.store.db import MAX_JSON_BYTES

            return {"blob": "x" * (MAX_JSON_BYTES + 1)}
        if mode == "flaky" and attempt <= 2:
            raise TransientError(f"{name} timed out (attempt {attempt})")
        if mode == "always-transient":
            raise TransientError(f"{name} is down")
        if mode == "permanent":
            raise PermanentError(f"{name} rejected the record", resolution="fix the record")
        if mode == "skip":
            raise SkipEvent("already synced")
        if mode == "bug":
            raise KeyError("missing")
        return {"seen": [*previous.get("seen", []), name]}

    return step


PROBE = Flow(entity="probe", queue="orders", steps=tuple((n, _step(n)) for n in ("extract", "transform",
                                                                                  "validate", "load")))
# Registered at import, before the worker starts: a worker only knows the tasks registered when it starts.
for _name in PROBE.step_names:
    STEP_TASKS[(PROBE.entity, _name)] = _make_step_task(PROBE, _name)


@pytest.fixture
def probe(make_settings, runtime_for, celery_app, worker):
    FLOWS[PROBE.entity] = PROBE
    calls.clear()
    behaviour.clear()
    retries.clear()
    held_since.clear()
    rt = runtime_for(make_settings())
    yield rt
    FLOWS.pop(PROBE.entity, None)


def _run(rt, key: str) -> int:
    from integration.flows.maintenance import enqueue_new_event
    from tasks.dispatch import enqueue

    event_id, _ = enqueue_new_event(rt.store, NewEvent("default", "test", "probe", key, "probe.created",
                                                       f"test:{key}", {}), enqueue)
    wait_until(lambda: rt.store.get_event(event_id).status in m.FINAL_STATUSES, timeout=60)
    return event_id


def test_a_retried_middle_step_keeps_the_rest_of_the_chain(probe):
    behaviour["transform"] = "flaky"
    event_id = _run(probe, "retry")
    snap = probe.store.event_snapshot(event_id)
    assert snap["status"] == m.SUCCEEDED
    assert snap["result"] == {"seen": ["extract", "transform", "validate", "load"]}
    attempts = {s["step"]: s["attempts"] for s in snap["steps"]}
    assert attempts == {"extract": 1, "transform": 3, "validate": 1, "load": 1}


def _tasks(rt, event_id: int) -> list[tuple[str, str]]:
    """(step, the Celery task that ran it) for every attempt, in order."""
    return [(a["step"], a["task_id"]) for a in rt.store.attempts_of(event_id)]


def test_steps_run_together_and_a_failed_later_step_is_retried_as_itself(probe):
    behaviour["validate"] = "flaky"
    event_id = _run(probe, "together")
    snap = probe.store.event_snapshot(event_id)
    assert snap["status"] == m.SUCCEEDED and snap["result"] == {"seen": ["extract", "transform", "validate", "load"]}
    assert {s["step"]: s["attempts"] for s in snap["steps"]} == {"extract": 1, "transform": 1, "validate": 3,
                                                                 "load": 1}
    (_, first), (_, second), (_, third), (_, retried), (_, last), (_, load) = _tasks(probe, event_id)
    assert first == second == third  # extract, transform and validate's first attempt: one task
    assert retried != third  # validate's retries: a task of its own (Celery keeps a task's id across retries)
    assert retried == last == load  # which goes on with load
    # validate's retries count as they would in a task per step: its first retry is a retry, not a fresh start
    assert [retries[("validate", n)] for n in (1, 2, 3)] == [0, 1, 2]


def test_each_step_of_a_run_holds_the_lease_from_its_own_start_and_a_lost_lease_ends_the_run(probe):
    behaviour["validate"] = "lose-lease"
    event_id = _run(probe, "lease")
    assert probe.store.get_event(event_id).status == m.SUCCEEDED
    # each step's hold limit counts from its own start, as in a task of its own
    assert held_since["extract"] < held_since["transform"] < held_since["validate"] < held_since["load"]
    ran_by = dict(_tasks(probe, event_id))
    assert ran_by["extract"] == ran_by["transform"] == ran_by["validate"]
    assert ran_by["load"] != ran_by["validate"]  # the lease was lost under validate: load went on in a task of its own


def test_with_steps_apart_each_step_is_a_task_of_its_own(probe, celery_app):
    celery_app.conf.steps_together = False
    try:
        event_id = _run(probe, "apart")
    finally:
        celery_app.conf.steps_together = True
    assert probe.store.get_event(event_id).status == m.SUCCEEDED
    assert len({task for _, task in _tasks(probe, event_id)}) == 4


def test_a_run_that_stops_early_goes_on_from_the_next_step(probe, celery_app):
    """A step task goes on only while it has used less than a quarter of its soft time limit: past that, the
    rest of the flow is a chain of its own, from the next step (never from a step already done)."""
    behaviour["transform"] = "slow"
    limit = celery_app.conf.task_soft_time_limit
    celery_app.conf.task_soft_time_limit = 2  # a budget of 0.5 s; transform takes 0.6 s
    try:
        event_id = _run(probe, "early-stop")
    finally:
        celery_app.conf.task_soft_time_limit = limit
    snap = probe.store.event_snapshot(event_id)
    assert snap["status"] == m.SUCCEEDED and snap["result"] == {"seen": ["extract", "transform", "validate", "load"]}
    assert {s["step"]: s["attempts"] for s in snap["steps"]} == {"extract": 1, "transform": 1, "validate": 1,
                                                                 "load": 1}
    ran_by = dict(_tasks(probe, event_id))
    assert ran_by["transform"] != ran_by["validate"]


def test_a_later_step_that_fails_for_good_is_dead_lettered_as_itself(probe, clean_broker):
    behaviour["load"] = "permanent"
    event_id = _run(probe, "later-permanent")
    [letter] = probe.store.list_dead_letters()
    assert (letter.event_id, letter.step, letter.task_name) == (event_id, "load", "psinfor.probe.load")
    assert calls["load"] == 1


def test_a_later_step_whose_end_cannot_be_written_is_dead_lettered_as_itself(probe, clean_broker):
    behaviour["transform"] = "huge"
    event_id = _run(probe, "huge")
    [letter] = probe.store.list_dead_letters()
    assert (letter.event_id, letter.step, letter.error_type) == (event_id, "transform", "PermanentError")
    assert "too large to keep" in letter.message
    steps = {s["step"]: s["status"] for s in probe.store.event_snapshot(event_id)["steps"]}
    assert steps == {"extract": "done", "transform": "failed"}  # recorded as failed, not left running
    assert calls["validate"] == 0


def test_permanent_failure_dead_letters_at_once_and_stops_the_chain(probe, clean_broker):
    behaviour["validate"] = "permanent"
    event_id = _run(probe, "permanent")
    assert probe.store.get_event(event_id).status == m.DEAD
    [letter] = probe.store.list_dead_letters()
    assert (letter.event_id, letter.step, letter.message, letter.resolution) == (
        event_id, "validate", "validate rejected the record", "fix the record")
    assert calls["validate"] == 1 and calls["load"] == 0


# 5: the budget is ours, not Celery's default of three retries (which once cut it short silently).
@pytest.mark.parametrize("budget", [2, 5])
def test_exhausted_retries_dead_letter(probe, celery_app, budget):
    behaviour["load"] = "always-transient"
    celery_app.conf.retry_max_retries = budget
    try:
        event_id = _run(probe, f"exhausted-{budget}")
    finally:
        celery_app.conf.retry_max_retries = 12
    assert probe.store.get_event(event_id).status == m.DEAD
    [letter] = probe.store.list_dead_letters()
    assert letter.step == "load" and letter.error_type == "TransientError"
    assert calls["load"] == budget + 1  # the first run and every retry, then the dead letter


def test_unexpected_error_is_dead_lettered_with_its_traceback(probe):
    behaviour["extract"] = "bug"
    event_id = _run(probe, "bug")
    [letter] = probe.store.list_dead_letters()
    assert letter.event_id == event_id and letter.error_type == "KeyError"
    assert "KeyError" in (letter.traceback or "")


def test_skip_halts_the_chain(probe):
    behaviour["extract"] = "skip"
    event_id = _run(probe, "skip")
    snap = probe.store.event_snapshot(event_id)
    assert snap["status"] == m.SKIPPED and snap["result"]["skipped"] == "already synced"
    assert calls["transform"] == 0


def test_replay_from_the_dead_letter_queue_runs_the_event_again(probe):
    from click.testing import CliRunner

    from integration.cli import main

    behaviour["load"] = "permanent"
    event_id = _run(probe, "replay")
    [letter] = probe.store.list_dead_letters()
    listing = CliRunner().invoke(main, ["dlq", "list"])
    assert listing.exit_code == 0 and f"#{letter.id}" in listing.output
    assert "Resolution: fix the record" in listing.output
    behaviour["load"] = "ok"  # the operator fixed the cause
    result = CliRunner().invoke(main, ["dlq", "replay", str(letter.id)])
    assert result.exit_code == 0, result.output
    wait_until(lambda: probe.store.get_event(event_id).status == m.SUCCEEDED)
    assert probe.store.list_dead_letters() == []
    again = CliRunner().invoke(main, ["dlq", "replay", str(letter.id)])
    assert again.exit_code == 1 and f"#{letter.id}: already replayed, not open" in again.output


def test_unknown_queues_are_refused(celery_app):
    from celery.exceptions import QueueNotFound
    from kombu.exceptions import OperationalError as KombuOperationalError

    with pytest.raises((QueueNotFound, KombuOperationalError)):
        celery_app.send_task("psinfor.order.extract", args=[1], queue="no-such-queue")
