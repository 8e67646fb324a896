"""``/metrics`` in the Prometheus text format, read from the store and the broker: it parses with
``prometheus_client.parser``, and its figures are the store's (so the workers' work shows from any web process)."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from integration.config import load_settings
from integration.store import models as m
from integration.store.repository import NewEvent, Store
from integration.web.app import create_app
from integration.web.metrics import AttemptTally, broker_queue_depths


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def event(store: Store, steps: list[tuple[str, str]], source_id: str = "1") -> int:
    """An order event whose steps end as given: (step, done | retrying | failed)."""
    event_id, _ = store.add_event(NewEvent("default", "prestashop", "order", source_id, "order.created",
                                           f"k-{uuid.uuid4()}", {}))
    for step, outcome in steps:
        started = store.start_step(event_id, step)
        assert started is not None
        if outcome == "done":
            store.finish_step(event_id, step, {}, attempt_id=started[0].attempt_id)
        else:
            store.fail_step(event_id, step, {"message": "x"}, retrying=outcome == "retrying",
                            attempt_id=started[0].attempt_id)
    return event_id


def test_metrics_parse_and_count_from_the_store(db_url: str, redis_url: str) -> None:
    settings = load_settings({"DATABASE_URL": db_url, "REDIS_URL": redis_url,
                              "PSINFOR_BROKER_PREFIX": f"metrics-{uuid.uuid4().hex[:8]}:"})
    store = Store(db_url)
    ok = event(store, [("extract", "done"), ("transform", "retrying"), ("transform", "done")])
    store.set_status(ok, m.SUCCEEDED)
    dead = event(store, [("extract", "done"), ("load", "failed")], "2")
    store.dead_letter(dead, step="load", task_name="psinfor.order.load", error={"message": "no"}, traceback=None)
    event(store, [], "3")  # received, not yet run
    client = create_app(settings, enqueue=lambda *a: None).test_client()

    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    found = samples(response.text)
    flow = (("connection", "default"), ("flow", "order"))
    assert found[("psinfor_events", (*flow, ("status", "succeeded")))] == 1
    assert found[("psinfor_events", (*flow, ("status", "dead")))] == 1
    assert found[("psinfor_events", (*flow, ("status", "received")))] == 1
    assert found[("psinfor_dead_letters_open", flow)] == 1
    assert found[("psinfor_oldest_active_event_age_seconds", flow)] >= 0
    assert found[("psinfor_step_retries_total", (("flow", "order"), ("step", "transform")))] == 1
    assert found[("psinfor_step_attempts_total", (("flow", "order"), ("outcome", "done"), ("step", "extract")))] == 2
    transform = (("flow", "order"), ("step", "transform"))
    assert found[("psinfor_step_duration_seconds_count", transform)] == 2
    assert found[("psinfor_step_duration_seconds_bucket", tuple(sorted((*transform, ("le", "+Inf")))))] == 2
    assert found[("psinfor_step_duration_seconds_sum", transform)] >= 0
    assert found[("psinfor_queue_depth", (("queue", "orders"),))] == 0
    assert found[("psinfor_broker_up", ())] == 1

    # counters only grow: the next scrape adds the attempts written since
    event(store, [("transform", "retrying")], "4")
    again = samples(client.get("/metrics").text)
    assert again[("psinfor_step_retries_total", (("flow", "order"), ("step", "transform")))] == 2
    assert again[("psinfor_step_duration_seconds_count", transform)] == 3


def test_an_attempt_still_running_is_counted_once_it_finishes(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    event_id, _ = store.add_event(NewEvent("default", "prestashop", "order", "1", "order.created", "k", {}))
    running = store.start_step(event_id, "extract")
    assert running is not None
    tally = AttemptTally(store)
    tally.update()
    assert tally.snapshot()[0] == {}
    later = event(store, [("extract", "done")], "2")
    tally.update()
    assert tally.snapshot()[0] == {("order", "extract", "done"): 1}
    store.finish_step(event_id, "extract", {}, attempt_id=running[0].attempt_id)
    tally.update()
    tally.update()  # and never twice
    assert tally.snapshot()[0] == {("order", "extract", "done"): 2}
    assert later


def test_queue_depths_are_read_from_what_kombu_wrote(celery_app: Any, redis_url: str) -> None:
    """A real publish through Celery (no worker): the queue is found from kombu's bindings, under the prefix."""
    import redis

    from tests.integration.conftest import BROKER_PREFIX, Broker

    broker = Broker(redis_url)
    broker.clear()
    try:
        for _ in range(3):
            celery_app.send_task("psinfor.maintenance.sweep", queue="maintenance")
        client = redis.Redis.from_url(redis_url)
        depths = broker_queue_depths(client, BROKER_PREFIX, ["orders"])
        assert depths["maintenance"] == 3 and depths["orders"] == 0
    finally:
        broker.clear()
