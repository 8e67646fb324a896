"""The order flow end to end: the PrestaShop sandbox sends signed webhooks to our receiver over HTTP, an
embedded Celery worker on the live Redis runs the chain, and the Infor sandbox receives the orders."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from integration.connectors.prestashop import webhooks
from integration.flows.maintenance import sweep
from integration.flows.orders import poll_orders
from integration.store import models as m
from tests.integration.conftest import WEBHOOK_SECRET, wait_until


class Pipeline:
    def __init__(self, ps: Any, infor: Any, receiver: Any, runtime: Any):
        self.ps, self.infor, self.receiver, self.rt = ps, infor, receiver, runtime
        self.store = runtime.store

    # the shop
    def place(self, **body: Any) -> list[int]:
        response = requests.post(f"{self.ps.url}/_sandbox/orders", json={"count": 1, **body}, timeout=30)
        response.raise_for_status()
        return [int(i) for i in response.json()["orders"]]

    # the ERP
    def infor_orders(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.infor.url}/_sandbox/orders", timeout=10).json()["orders"])

    def infor_customers(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.infor.url}/_sandbox/customers", timeout=10).json()["customers"])

    def infor_faults(self, **faults: Any) -> None:
        if faults:
            requests.post(f"{self.infor.url}/_sandbox/faults", json=faults, timeout=10).raise_for_status()
        else:
            requests.delete(f"{self.infor.url}/_sandbox/faults", timeout=10).raise_for_status()

    def infor_stats(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.infor.url}/_sandbox/stats", timeout=10).json())

    # our side
    def events_for(self, order_id: int) -> list[m.SyncEvent]:
        return [e for e in self.store.recent_events(limit=1000) if e.entity == "order" and e.source_id == str(order_id)]

    def wait_final(self, order_id: int, count: int = 1, timeout: float = 60) -> list[m.SyncEvent]:
        def final() -> list[m.SyncEvent] | None:
            events = self.events_for(order_id)
            done = [e for e in events if e.status in m.FINAL_STATUSES]
            return done if len(done) >= count and len(done) == len(events) else None

        return list(wait_until(final, timeout=timeout))

    def post_webhook(self, order_id: int, webhook_id: str | None = None) -> requests.Response:
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": order_id}).encode()
        headers = webhooks.sign_headers(WEBHOOK_SECRET, webhook_id or str(uuid.uuid4()), body)
        return requests.post(f"{self.receiver.url}/webhooks/prestashop", data=body, headers=headers, timeout=30)

    def enqueue(self) -> Any:
        from tasks.dispatch import enqueue

        return enqueue


@pytest.fixture
def pipeline(systems, worker):
    return Pipeline(systems.ps, systems.infor, systems.receiver, systems.rt)


def test_a_shop_order_becomes_one_infor_order(pipeline: Pipeline):
    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED, event.last_error
    orno = event.result["orno"]
    [infor_order] = [o for o in pipeline.infor_orders() if o.get("ORNO") == orno]
    assert infor_order["CUOR"].endswith(f"-{order_id}")
    assert pipeline.store.get_binding("default", "order", str(order_id)) == orno
    snap = pipeline.store.event_snapshot(event.id)
    assert [(s["step"], s["status"]) for s in snap["steps"]] == [
        ("extract", "done"), ("transform", "done"), ("validate", "done"), ("load", "done")]


def test_one_webhook_delivered_five_times_concurrently_gives_one_infor_order(pipeline: Pipeline):
    [order_id] = pipeline.place(send_webhook=False)
    with ThreadPoolExecutor(5) as pool:
        same = list(pool.map(lambda _: pipeline.post_webhook(order_id, "one-delivery-id"), range(5)))
    assert {r.status_code for r in same} == {202}
    assert len({r.json()["event_id"] for r in same}) == 1
    # and five *different* events about the same order at once: one order, the other four skipped
    with ThreadPoolExecutor(5) as pool:
        distinct = list(pool.map(lambda _: pipeline.post_webhook(order_id), range(5)))
    assert {r.status_code for r in distinct} == {202}
    events = pipeline.wait_final(order_id, count=6)
    assert sorted(e.status for e in events).count(m.SUCCEEDED) == 1
    assert all(e.status in (m.SUCCEEDED, m.SKIPPED) for e in events)
    cuors = [o["CUOR"] for o in pipeline.infor_orders()]
    assert len([c for c in cuors if c.endswith(f"-{order_id}")]) == 1


def test_orders_of_one_new_customer_at_once_create_the_customer_once(pipeline: Pipeline):
    ids = pipeline.place(count=4, customer_id=3)
    for order_id in ids:
        [event] = pipeline.wait_final(order_id)
        assert event.status == m.SUCCEEDED, event.last_error
    cunos = {e.result["cuno"] for i in ids for e in pipeline.events_for(i)}
    assert len(cunos) == 1
    assert [c["CUNO"] for c in pipeline.infor_customers()].count(cunos.pop()) == 1


def test_an_order_whose_webhook_never_came_is_found_by_the_poller(pipeline: Pipeline):
    [order_id] = pipeline.place(send_webhook=False)
    assert pipeline.events_for(order_id) == []
    result = poll_orders(pipeline.rt, "default", pipeline.enqueue())
    assert len(result.enqueued) == 1 and result.watermark
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED and event.source_system == "poller"
    again = poll_orders(pipeline.rt, "default", pipeline.enqueue())  # the overlap re-reads it: bound, skipped
    assert again.enqueued == [] and again.skipped_bound >= 1


def test_infor_unavailable_for_a_while_the_order_retries_and_lands_once(pipeline: Pipeline):
    pipeline.infor_faults(down=True)
    [order_id] = pipeline.place()
    wait_until(lambda: any(e.status == m.RETRYING and e.attempts >= 3 for e in pipeline.events_for(order_id)))
    pipeline.infor_faults()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED, event.last_error
    assert [o["CUOR"] for o in pipeline.infor_orders()].count(event.result["cuor"]) == 1
    assert event.attempts > 4  # the retries are on record


def test_infor_timeouts_then_back(pipeline: Pipeline):
    pipeline.infor_faults(fail_next=3, error_status=504)
    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED, event.last_error
    assert [o["CUOR"] for o in pipeline.infor_orders()].count(event.result["cuor"]) == 1


def test_a_lost_confirm_answer_never_doubles_the_order(pipeline: Pipeline):
    # M3 confirms the order, but the gateway's answer is lost: the loader must find out, not create again.
    pipeline.infor_faults(drop_after="OIS100MI/Confirm", drop_after_count=1)
    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED, event.last_error
    assert event.result["recovered"] is True
    orders = pipeline.infor_orders()
    assert [o["CUOR"] for o in orders].count(event.result["cuor"]) == 1
    assert pipeline.store.get_binding("default", "order", str(order_id)) == event.result["orno"]


def test_a_lost_head_answer_leaves_no_second_order(pipeline: Pipeline):
    # The batch head was written but its answer lost: a new batch order is made, the orphan is never confirmed.
    pipeline.infor_faults(drop_after="OIS100MI/AddBatchHead", drop_after_count=1)
    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED, event.last_error
    assert [o["CUOR"] for o in pipeline.infor_orders()].count(event.result["cuor"]) == 1


def test_infor_rejecting_an_order_dead_letters_it_at_once_with_infors_message(pipeline: Pipeline):
    [order_id] = pipeline.place(lines=[{"product_id": 10, "combination_id": 0, "quantity": 1}])
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.DEAD
    [letter] = pipeline.store.list_dead_letters()
    assert letter.step == "load" and "LEGACY-LAMP" in letter.message
    assert letter.resolution
    assert pipeline.store.event_snapshot(event.id)["steps"][-1]["attempts"] == 1  # not retried
    assert pipeline.store.get_binding("default", "order", str(order_id)) is None
    # the poller leaves it to the operator: no second rejected batch order in M3 on every poll
    result = poll_orders(pipeline.rt, "default", pipeline.enqueue())
    assert result.enqueued == [] and result.skipped_open == 1


def test_sweeper_recovers_an_event_whose_chain_was_lost(pipeline: Pipeline):
    [order_id] = pipeline.place(send_webhook=False)
    from integration.store.repository import NewEvent

    event_id, _ = pipeline.store.add_event(NewEvent("default", "prestashop", "order", str(order_id),
                                                    "order.created", "lost-chain", {"id_order": order_id}),
                                           status=m.QUEUED)  # in the inbox, never published: a lost chain
    assert sweep(pipeline.rt, pipeline.enqueue(), stale_seconds=0) == [event_id]
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED


def test_operator_resyncs_one_order_and_everything_since_a_date(pipeline: Pipeline):
    from click.testing import CliRunner

    from integration.cli import main

    [synced] = pipeline.place()
    pipeline.wait_final(synced)
    [missed] = pipeline.place(send_webhook=False)
    again = CliRunner().invoke(main, ["resync", "order", str(synced)])
    assert again.exit_code == 0, again.output
    assert "is already Infor order" in again.output and "nothing sent" in again.output  # never doubled
    assert [e.status for e in pipeline.events_for(synced)] == [m.SUCCEEDED]
    forced = CliRunner().invoke(main, ["resync", "order", str(synced), "--force"])
    assert forced.exit_code == 1 and "cannot force" in forced.output
    since = CliRunner().invoke(main, ["resync", "orders", "--since", "2000-01-01"])
    assert since.exit_code == 0, since.output
    assert "1 enqueued" in since.output and "1 already synced" in since.output
    [event] = pipeline.wait_final(missed)
    assert event.status == m.SUCCEEDED and event.source_system == "operator"
    bad = CliRunner().invoke(main, ["resync", "orders", "--since", "yesterday"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_infor_progress_reaches_the_shop_state_and_tracking_number(pipeline: Pipeline):
    from datetime import UTC, datetime, timedelta

    from integration.flows.order_status import poll_order_status

    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    orno = event.result["orno"]
    ps = pipeline.rt.prestashop("default")
    states = ps.order_states()
    paid = ps.get("orders", order_id)["current_state"]
    assert paid == states.payment

    polls = iter(range(1, 100))

    def poll() -> list[int]:  # each call is a later poll period
        later = datetime.now(UTC) + timedelta(minutes=10 * next(polls))
        return poll_order_status(pipeline.rt, "default", pipeline.enqueue(), now=later, interval=60)

    def check_status() -> list[m.SyncEvent]:
        enqueued = poll()
        assert len(enqueued) == 1, (enqueued, pipeline.store.open_bindings("default", "order"),
                                    [(e.id, e.entity, e.source_id, e.status, e.dedupe_key)
                                     for e in pipeline.store.recent_events(limit=10)])
        [status_event] = enqueued
        return list(wait_until(lambda: (e := pipeline.store.get_event(status_event)).status in m.FINAL_STATUSES
                               and [e]))

    [nothing] = check_status()  # entered, not yet allocated: the shop keeps "payment accepted"
    assert nothing.status == m.SKIPPED and ps.get("orders", order_id)["current_state"] == paid

    for step in ("allocate", "pick"):
        requests.post(f"{pipeline.infor.url}/_sandbox/orders/{orno}/advance", json={"to": step},
                      timeout=10).raise_for_status()
    [preparing] = check_status()
    assert preparing.status == m.SUCCEEDED and preparing.result["state"] == "PS_OS_PREPARATION"
    assert ps.get("orders", order_id)["current_state"] == states.preparation

    requests.post(f"{pipeline.infor.url}/_sandbox/orders/{orno}/advance",
                  json={"to": "deliver", "tracking_number": "1Z999AA10123456784"}, timeout=10).raise_for_status()
    [shipped] = check_status()
    assert shipped.status == m.SUCCEEDED, shipped.last_error
    assert ps.get("orders", order_id)["current_state"] == states.shipping
    [carrier] = list(ps.list("order_carriers", filters={"id_order": order_id}))
    assert carrier["tracking_number"] == "1Z999AA10123456784"

    [again] = check_status()  # the same news twice is not written twice
    assert again.status == m.SKIPPED

    requests.post(f"{pipeline.infor.url}/_sandbox/orders/{orno}/advance", json={"to": "invoice"},
                  timeout=10).raise_for_status()
    [invoiced] = check_status()
    assert invoiced.status == m.SKIPPED  # still "shipped" for the shop, and the order is now closed
    assert poll() == []


def test_the_status_flow_never_overrides_what_the_shop_finished(pipeline: Pipeline):
    from datetime import UTC, datetime, timedelta

    from integration.flows.order_status import poll_order_status

    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    requests.post(f"{pipeline.ps.url}/_sandbox/orders/{order_id}/state", json={"state": "PS_OS_CANCELED"},
                  timeout=10).raise_for_status()  # the merchant cancels in the shop
    for step in ("allocate", "pick"):
        requests.post(f"{pipeline.infor.url}/_sandbox/orders/{event.result['orno']}/advance", json={"to": step},
                      timeout=10).raise_for_status()
    later = datetime.now(UTC) + timedelta(hours=1)
    [check] = poll_order_status(pipeline.rt, "default", pipeline.enqueue(), now=later, interval=60)
    wait_until(lambda: pipeline.store.get_event(check).status in m.FINAL_STATUSES)
    assert pipeline.store.get_event(check).status == m.SKIPPED
    ps = pipeline.rt.prestashop("default")
    assert ps.get("orders", order_id)["current_state"] == ps.order_states().canceled
    assert poll_order_status(pipeline.rt, "default", pipeline.enqueue(), now=later + timedelta(hours=1),
                             interval=60) == []  # closed: no more checks
