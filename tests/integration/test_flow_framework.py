"""The flow framework: a flow's declaration alone decides its routing, schedule and webhook acceptance; binders;
attempt history; retention; the one failure classifier; the beat leader lease."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from integration.connectors.prestashop import webhooks
from integration.errors import LockBusy, PermanentError, TransientError, classify, is_transient
from integration.flows.base import Flow, Poller
from integration.flows.registry import FLOWS, accepted_events
from integration.store import models as m
from integration.store.repository import NewEvent, Store
from integration.web.app import create_app
from tasks import routing
from tests.integration.conftest import WEBHOOK_SECRET


def _noop(rt: Any, event: Any, previous: dict[str, Any]) -> dict[str, Any]:
    return previous


def _poll_toys(rt: Any, connection: str, enqueue: Any, interval: float) -> dict[str, Any]:
    return {"polled": connection}


# A toy flow, declared in a few lines: everything below follows from this declaration alone.
TOY = Flow(entity="toy", queue="toys", steps=(("extract", _noop), ("load", _noop)),
           events={"toy.changed": "id_toy"}, pollers=(Poller("toys", _poll_toys, "PSINFOR_TOY_INTERVAL", 42.0),))


def test_every_registered_task_routes_to_its_flows_queue(celery_app):
    import tasks.flows  # noqa: F401  (generates the tasks)

    router = celery_app.amqp.router
    for flow in FLOWS.values():
        for step in flow.step_names:
            assert flow.task_name(step) in celery_app.tasks
            assert router.route({}, flow.task_name(step))["queue"].name == flow.queue
        for poller in flow.pollers:
            assert flow.poll_task_name(poller) in celery_app.tasks
            assert router.route({}, flow.poll_task_name(poller))["queue"].name == routing.MAINTENANCE_QUEUE
    assert router.route({}, "psinfor.dead_letter.record")["queue"].name == routing.DEAD_LETTER_QUEUE
    # every queue a task can land on is one the worker consumes
    consumed = set(routing.queue_names(FLOWS.values()))
    assert {q.name for q in celery_app.conf.task_queues} == consumed
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled >= {f.poll_task_name(p) for f in FLOWS.values() for p in f.pollers}


def test_a_toy_flows_routing_schedule_and_queue_follow_from_its_declaration():
    flows = [*FLOWS.values(), TOY]
    routes = routing.task_routes(flows)
    assert routes["psinfor.toy.extract"] == routes["psinfor.toy.load"] == {"queue": "toys"}
    assert routes["psinfor.toy.poll.toys"] == {"queue": routing.MAINTENANCE_QUEUE}
    assert "toys" in routing.queue_names(flows)
    schedule = routing.beat_schedule(flows, env={"PSINFOR_TOY_INTERVAL": "7"})
    assert schedule["toy-poll-toys"] == {"task": "psinfor.toy.poll.toys", "schedule": 7.0,
                                         "options": {"expires": 7.0}}
    assert routing.beat_schedule(flows, env={})["toy-poll-toys"]["schedule"] == 42.0
    assert "toy.changed" not in accepted_events()
    assert accepted_events(flows)["toy.changed"].entity == "toy"


def _signed(client: Any, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return client.post("/webhooks/prestashop", data=raw,
                       headers=webhooks.sign_headers(WEBHOOK_SECRET, str(uuid.uuid4()), raw))


def test_a_toy_flows_webhook_is_accepted_only_because_it_is_declared(make_settings):
    settings = make_settings()
    published: list[tuple[int, str, str | None]] = []
    body = {"event": "toy.changed", "shop_id": 1, "id_toy": 5}
    with_toy = create_app(settings, enqueue=lambda *a: published.append(a),
                          flows=[*FLOWS.values(), TOY]).test_client()
    response = _signed(with_toy, body)
    assert response.status_code == 202, response.json
    event = Store(settings.database_url).get_event(response.json["event_id"])
    assert (event.entity, event.source_id, event.status) == ("toy", "5", m.QUEUED)
    assert published == [(event.id, "toy", None)]
    without = create_app(settings, enqueue=lambda *a: published.append(a)).test_client()
    assert _signed(without, body).status_code == 422
    assert _signed(with_toy, {"event": "toy.changed", "shop_id": 1}).status_code == 422  # its id field is required


def test_ping_is_answered_and_never_stored(make_settings):
    settings = make_settings()
    client = create_app(settings, enqueue=lambda *a: None).test_client()
    response = _signed(client, {"event": "ping", "shop_id": 1})
    assert response.status_code == 200 and response.json["pong"] is True
    assert Store(settings.database_url).status_counts() == {}


def test_binder_both_ways(make_settings):
    from integration.runtime import Runtime

    rt = Runtime(make_settings())
    items = rt.binder("default", "item")
    assert items.get("10") is None and items.to_shop("ITEM-A") is None
    items.bind("10", "ITEM-A", {"reference": "a"})
    items.bind(11, "ITEM-B")
    assert items.get(10) == "ITEM-A" and items.data("10") == {"reference": "a"}
    assert items.to_shop("ITEM-B") == "11"
    assert items.to_shop_many(["ITEM-A", "ITEM-B", "NOPE"]) == {"ITEM-A": "10", "ITEM-B": "11"}
    orders = rt.binder("default", "order")
    assert orders.claim("7", event_id=99, data={"cuor": "X-7"})
    assert not orders.claim("7", event_id=100, data={})
    assert orders.get("7") is None and orders.row("7")[0].startswith(m.PENDING_PREFIX)
    orders.update("7", temporary_orno="T1")
    orders.finalize("7", "ORD-7")
    assert orders.get("7") == "ORD-7" and orders.data("7")["temporary_orno"] == "T1"
    assert list(orders.open()) == [("7", "ORD-7")]
    orders.close("7")
    assert list(orders.open()) == [] and orders.count() == 1


def test_attempt_history_and_retention(make_settings):
    store = Store(make_settings().database_url)
    event_id, _ = store.add_event(NewEvent("default", "test", "order", "1", "order.created", "k1", {}))
    for outcome in ("retrying", "done"):
        started = store.start_step(event_id, "extract", task_id=f"task-{outcome}")
        assert started is not None
        view, _ = started
        if outcome == "retrying":
            store.fail_step(event_id, "extract", {"message": "timed out"}, retrying=True, attempt_id=view.attempt_id)
        else:
            store.finish_step(event_id, "extract", {"ok": 1}, final_status=m.SUCCEEDED, result={"ok": 1},
                              attempt_id=view.attempt_id)
    history = store.attempts_of(event_id)
    assert [(a["step"], a["attempt"], a["outcome"], a["task_id"]) for a in history] == [
        ("extract", 1, "retrying", "task-retrying"), ("extract", 2, "done", "task-done")]
    assert history[0]["error"] == {"message": "timed out"} and history[1]["duration_ms"] is not None
    dead_id, _ = store.add_event(NewEvent("default", "test", "order", "2", "order.created", "k2", {}))
    store.dead_letter(dead_id, step="load", task_name="t", error={"message": "no"}, traceback=None)
    assert store.prune_finished(datetime.now(UTC) - timedelta(days=1)) == 0  # too young
    assert store.prune_finished(datetime.now(UTC) + timedelta(seconds=1)) == 1  # the succeeded one only
    assert store.get_event(event_id) is None and store.attempts_of(event_id) == []
    assert store.get_event(dead_id) is not None  # dead letters stay until resolved


def test_a_step_output_over_the_bound_is_a_clear_permanent_error(make_settings):
    store = Store(make_settings().database_url)
    event_id, _ = store.add_event(NewEvent("default", "test", "stock", "w1", "stock.window", "w1", {}))
    started = store.start_step(event_id, "extract")
    assert started is not None
    with pytest.raises(PermanentError, match="too large"):
        store.finish_step(event_id, "extract", {"rows": ["x" * 1000] * 5000}, attempt_id=started[0].attempt_id)


def test_one_classifier_for_runner_and_task():
    from celery.exceptions import SoftTimeLimitExceeded

    import tasks.base  # noqa: F401  (registers Celery's soft time limit as transient)

    assert is_transient(SoftTimeLimitExceeded()) and classify(SoftTimeLimitExceeded()).counts_as_attempt
    wait = classify(LockBusy("held", retry_after=12))
    assert wait.transient and wait.retry_after == 12 and wait.is_wait
    assert classify(TransientError("5xx")).counts_as_attempt
    assert not classify(PermanentError("no")).transient and not classify(KeyError("x")).transient
    assert classify(redis.exceptions.ConnectionError()).transient


def test_beat_lease_single_leader_release_and_redis_down(redis_client):
    from tasks.beat import AnotherLeader, LeaderLease

    key = f"psinfor-test:{uuid.uuid4()}:beat:leader"
    first = LeaderLease(redis_client, key, seconds=5)
    second = LeaderLease(redis_client, key, seconds=5)
    assert first.ensure() and first.held
    with pytest.raises(AnotherLeader):
        second.ensure()
    first.release()  # a clean shutdown gives the lease up at once
    assert second.ensure()
    down = LeaderLease(redis.Redis(port=1, socket_connect_timeout=0.2), key, seconds=5)
    assert down.ensure() is False  # a beat that cannot reach Redis never schedules


def test_worker_and_readyz_refuse_a_database_with_pending_migrations(tmp_path, redis_url, make_settings):
    import os
    import subprocess
    import sys
    from pathlib import Path

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": url, "PS_KEY": "TESTKEY0000000000000000000000001",
           "IONAPI_FILE": str(Path(__file__).resolve().parents[1] / "fixtures" / "infor" / "ionapi-sample.ionapi")}
    worker = subprocess.run([str(Path(sys.executable).parent / "celery"), "-A", "tasks.app", "worker", "-P", "threads",
                             "-c", "1", "-Q", "dead_letter", "--without-gossip", "--without-mingle"],
                            env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert worker.returncode == 78
    [line] = [ln for ln in worker.stderr.splitlines() if ln.startswith("psinfor:")]
    assert "pending migration" in line and "psinfor db upgrade" in line
    settings = make_settings(DATABASE_URL=url)
    ready = create_app(settings, enqueue=lambda *a: None).test_client().get("/readyz")
    assert ready.status_code == 503 and "psinfor db upgrade" in ready.json["checks"]["migrations"]
