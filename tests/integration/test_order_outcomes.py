"""Orders as real shops and real M3 tenants make them (sandboxes over HTTP, embedded worker, live Redis): only paid
orders reach M3, M3's batch outcome is read back, no orphan or duplicate batch orders, shop cancellations reach
M3, and nothing over-long is ever sent."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integration.flows.maintenance import resume_waiting
from integration.store import models as m
from tests.integration.conftest import wait_until
from tests.integration.test_order_flow import Pipeline


@pytest.fixture
def pipeline(systems, worker):
    return Pipeline(systems.ps, systems.infor, systems.receiver, systems.rt)


def _set_state(pipeline: Pipeline, order_id: int, state: str) -> None:
    """As the merchant does in the back office: the sandbox sends the order.status_changed webhook."""
    requests.post(f"{pipeline.ps.url}/_sandbox/orders/{order_id}/state", json={"state": state},
                  timeout=10).raise_for_status()


def _infor(pipeline: Pipeline, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.post(f"{pipeline.infor.url}/_sandbox/{path}", json=body or {}, timeout=10)
    response.raise_for_status()
    return response.json()


def _orders_for(pipeline: Pipeline, order_id: int) -> list[dict[str, Any]]:
    return [o for o in pipeline.infor_orders() if str(o.get("CUOR", "")).endswith(f"-{order_id}")]


def _batch_orders_for(pipeline: Pipeline, order_id: int) -> list[dict[str, Any]]:
    data = requests.get(f"{pipeline.infor.url}/_sandbox/orders", timeout=10).json()
    return [b for b in data.get("batch_orders", []) if str(b.get("CUOR", "")).endswith(f"-{order_id}")]


def test_a_bank_wire_order_waits_then_becomes_one_m3_order_once_paid(pipeline: Pipeline):
    [order_id] = pipeline.place(state="PS_OS_BANKWIRE")
    [waiting] = pipeline.wait_final(order_id)
    assert waiting.status == m.AWAITING_PAYMENT, waiting.last_error
    assert _orders_for(pipeline, order_id) == [] and _batch_orders_for(pipeline, order_id) == []
    _set_state(pipeline, order_id, "PS_OS_PAYMENT")  # the wire arrived
    events = pipeline.wait_final(order_id, count=2)
    assert sorted(e.status for e in events) == sorted([m.SUCCEEDED, m.SKIPPED])
    superseded = next(e for e in events if e.id == waiting.id)
    assert "superseded" in superseded.result["skipped"]
    assert len(_orders_for(pipeline, order_id)) == 1


def test_a_payment_error_order_is_skipped_and_never_reaches_m3(pipeline: Pipeline):
    [order_id] = pipeline.place(state="PS_OS_ERROR")
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SKIPPED and "PS_OS_ERROR" in event.result["skipped"]
    assert _orders_for(pipeline, order_id) == []


def test_asynchronous_confirm_with_a_lost_answer_never_doubles_an_order(pipeline: Pipeline):
    _infor(pipeline, "config", {"async_confirm_seconds": 1})
    pipeline.infor_faults(drop_after="OIS100MI/Confirm", drop_after_count=1)
    try:
        [order_id] = pipeline.place()
        [event] = pipeline.wait_final(order_id, timeout=120)
    finally:
        _infor(pipeline, "config", {"async_confirm_seconds": 0})
        pipeline.infor_faults()
    assert event.status == m.SUCCEEDED, event.last_error
    assert len(_orders_for(pipeline, order_id)) == 1
    assert len(_batch_orders_for(pipeline, order_id)) == 1
    cunos = [c["CUNO"] for c in pipeline.infor_customers()]
    assert len(cunos) == len(set(cunos))


def test_status_25_dead_letters_with_m3s_messages_and_the_batch_order(pipeline: Pipeline):
    _infor(pipeline, "batch_orders/stop_next", {"status": "25", "count": 1})
    [order_id] = pipeline.place()
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.DEAD
    [letter] = pipeline.store.list_dead_letters()
    temporary = letter.details["temporary_orno"]
    assert letter.details["m3_messages"] and temporary in letter.message and temporary in letter.resolution
    assert _orders_for(pipeline, order_id) == []


def test_status_30_waits_held_by_the_erp_then_syncs_once_released(pipeline: Pipeline):
    _infor(pipeline, "batch_orders/stop_next", {"status": "30", "count": 1})
    [order_id] = pipeline.place()
    [held] = pipeline.wait_final(order_id)
    assert held.status == m.HELD_BY_ERP, held.last_error
    temporary = held.last_error["details"]["temporary_orno"]
    assert resume_waiting(pipeline.rt, pipeline.enqueue(), older_than_seconds=0) == [held.id]
    [still] = pipeline.wait_final(order_id)
    assert still.status == m.HELD_BY_ERP  # re-checked: still held, nothing new entered
    _infor(pipeline, f"batch_orders/{temporary}/release")  # the credit controller releases it in OIS275
    resume_waiting(pipeline.rt, pipeline.enqueue(), older_than_seconds=0)
    wait_until(lambda: pipeline.store.get_event(held.id).status == m.SUCCEEDED)
    assert len(_orders_for(pipeline, order_id)) == 1 and len(_batch_orders_for(pipeline, order_id)) == 1


def test_a_cancellation_before_picking_cancels_the_m3_order(pipeline: Pipeline):
    [order_id] = pipeline.place()
    [created] = pipeline.wait_final(order_id)
    assert created.status == m.SUCCEEDED, created.last_error
    _set_state(pipeline, order_id, "PS_OS_CANCELED")
    events = pipeline.wait_final(order_id, count=2)
    [cancel] = [e for e in events if e.id != created.id]
    assert cancel.status == m.SUCCEEDED and cancel.result["cancelled"], cancel.last_error
    [order] = _orders_for(pipeline, order_id)
    assert order["lines"] == [] or all(str(line.get("ORST")) >= "90" for line in order["lines"])


def test_a_cancellation_after_picking_started_is_held_for_an_operator(pipeline: Pipeline):
    [order_id] = pipeline.place()
    [created] = pipeline.wait_final(order_id)
    orno = created.result["orno"]
    for step in ("allocate", "pick"):
        requests.post(f"{pipeline.infor.url}/_sandbox/orders/{orno}/advance", json={"to": step},
                      timeout=10).raise_for_status()
    _set_state(pipeline, order_id, "PS_OS_CANCELED")
    events = pipeline.wait_final(order_id, count=2)
    [held] = [e for e in events if e.id != created.id]
    assert held.status == m.HELD and orno in held.last_error["message"]
    [order] = _orders_for(pipeline, order_id)
    assert order["lines"] and all(str(line.get("ORST")) < "90" for line in order["lines"])


def test_an_australian_state_and_a_60_character_email_never_reach_m3_over_long(pipeline: Pipeline):
    [order_id] = pipeline.place(customer_id=9)  # Sydney NSW, a 69-character e-mail
    [event] = pipeline.wait_final(order_id)
    if event.status == m.SUCCEEDED:
        customer = next(c for c in pipeline.infor_customers() if c["CUNO"] == event.result["cuno"])
        assert len(customer.get("MAIL", "")) <= 50 and len(customer.get("ECAR", "")) <= 2
    else:  # refused by validation, naming field and rule, before anything was written
        assert event.status == m.DEAD
        [letter] = pipeline.store.list_dead_letters()
        assert letter.step == "validate" and "ECAR" in str(letter.details)
        assert _batch_orders_for(pipeline, order_id) == []
        assert all(c.get("CUNO") != "PS0000009" for c in pipeline.infor_customers())


def test_a_confirm_lost_before_m3_ran_it_is_sent_again_not_a_second_order(pipeline: Pipeline):
    """The chaos run's case: the gateway lost a Confirm before M3 ran it, so the batch order stays entered (10)."""
    from integration.connectors.infor.orders import create_batch_order
    from integration.flows.base import run_step
    from integration.flows.customers import ensure_customer
    from integration.flows.registry import FLOWS
    from integration.store.repository import NewEvent

    rt, flow = pipeline.rt, FLOWS["order"]
    [order_id] = pipeline.place(send_webhook=False)
    event_id, _ = rt.store.add_event(NewEvent("default", "test", "order", str(order_id), "order.created",
                                              f"test:{order_id}", {"id_order": order_id}))
    for step in ("extract", "transform", "validate"):
        assert run_step(rt, flow, step, event_id).proceed
    validated = _load_input(rt, event_id)
    ensure_customer(rt, "default", validated["customer"])  # as load does first
    calls = validated["calls"]
    orders = rt.binder("default", "order")
    assert orders.claim(str(order_id), event_id, {})

    class ConfirmLost(Exception):
        pass

    def lost(_temporary: str) -> None:
        raise ConfirmLost  # the Confirm left but never reached M3

    with pytest.raises(ConfirmLost):
        create_batch_order(rt.m3("default"), calls,
                           on_temporary=lambda t: orders.update(str(order_id), temporary_orno=t),
                           on_confirm=lambda t: (orders.update(str(order_id), confirm_sent=True,
                                                               confirmed_at="2000-01-01T00:00:00+00:00"), lost(t)))
    [entered] = _batch_orders_for(pipeline, order_id)
    assert str(entered.get("STAT")) == "10"
    outcome = run_step(rt, flow, "load", event_id)
    assert outcome.status == m.SUCCEEDED, rt.store.get_event(event_id).last_error
    assert len(_orders_for(pipeline, order_id)) == 1 and len(_batch_orders_for(pipeline, order_id)) == 1


def _load_input(rt: Any, event_id: int) -> dict[str, Any]:
    """The validate step's output: the load step's input, as the store keeps it."""
    started = rt.store.start_step(event_id, "load", "validate")
    assert started is not None
    view, previous = started
    rt.store.fail_step(event_id, "load", {"message": "test set-up"}, retrying=True, attempt_id=view.attempt_id)
    return dict(previous or {})
