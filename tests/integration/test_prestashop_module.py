"""The PrestaShop module end to end, with its own delivery code: php-cli runs the module (on PrestaShop
stand-ins, with its outbox in SQLite and its real cURL transport) against our receiver over HTTP; the events
reach the inbox, and an order placed in the PrestaShop sandbox flows to the Infor sandbox."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from integration.store import models as m
from tests.integration.conftest import WEBHOOK_SECRET, Systems, wait_until
from tests.integration.test_order_flow import Pipeline
from tests.php.phptools import PHP_TESTS, run_php

SHOP = PHP_TESTS / "bin" / "shop.php"
pytestmark = pytest.mark.integration


class Shop:
    """A PrestaShop with the module installed, one php-cli process per request; the outbox persists between."""

    def __init__(self, db: Path, url: str):
        self.db, self.url = db, url

    def request(self, *steps: dict[str, Any], url: str | None = None) -> dict[str, Any]:
        settings = {"url": url or self.url, "secret": WEBHOOK_SECRET, "connection": "default"}
        return dict(run_php(SHOP, {"db": str(self.db), "settings": settings, "steps": list(steps)}))


def validate_order(order_id: int, shop_id: int = 1) -> dict[str, Any]:
    return {"hook": "actionValidateOrder", "params": {"order": {"class": "Order", "id": order_id, "id_shop": shop_id}}}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pipeline(systems: Systems, worker: Any) -> Pipeline:
    return Pipeline(systems.ps, systems.infor, systems.receiver, systems.rt)


@pytest.fixture
def shop(systems: Systems, tmp_path: Path) -> Shop:
    return Shop(tmp_path / "outbox.sqlite", systems.receiver.url)


def test_a_checkout_sends_order_created_after_the_response_and_the_order_reaches_infor(pipeline: Pipeline,
                                                                                       shop: Shop):
    [order_id] = pipeline.place(send_webhook=False)  # the sandbox stays silent: the module is the only sender
    customer = {"hook": "actionCustomerAccountAdd", "params": {"newCustomer": {"class": "Customer", "id": 3,
                                                                              "id_shop": 1}}}
    out = shop.request(customer, validate_order(order_id))
    assert [(r["event"], r["status"], r["attempts"]) for r in out["rows"]] == [
        ("customer.created", "delivered", 1), ("order.created", "delivered", 1)]

    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED and event.result, event.last_error
    assert event.source_system == "prestashop"
    assert event.dedupe_key == f"webhook:{out['rows'][1]['webhook_id']}"
    [infor_order] = [o for o in pipeline.infor_orders() if o.get("ORNO") == event.result["orno"]]
    assert infor_order["CUOR"].endswith(f"-{order_id}")
    inbox = {(e.event_type, e.source_id) for e in pipeline.store.recent_events(limit=100)}
    assert ("customer.created", "3") in inbox


def test_a_receiver_that_was_down_gets_the_same_event_later_and_the_order_lands_once(pipeline: Pipeline,
                                                                                      shop: Shop):
    [order_id] = pipeline.place(send_webhook=False)
    down = shop.request(validate_order(order_id), url=f"http://127.0.0.1:{closed_port()}")
    [row] = down["rows"]
    assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 0)  # checkout went on
    assert pipeline.events_for(order_id) == []

    back = shop.request({"send_now": True})  # the back office's "send pending now" (the cron waits for the backoff)
    assert back["results"][0]["send_now"]["delivered"] == 1
    [row] = back["rows"]
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 2, 202)

    [event] = pipeline.wait_final(order_id)
    assert event.status == m.SUCCEEDED and event.result, event.last_error
    assert event.dedupe_key == f"webhook:{row['webhook_id']}"  # the retry kept its Webhook-Id
    assert [o["CUOR"] for o in pipeline.infor_orders()].count(event.result["cuor"]) == 1
    again = shop.request({"cron": True})  # nothing left to send
    assert again["results"][0]["cron"]["body"]["pending"] == 0
    assert len(wait_until(lambda: pipeline.events_for(order_id))) == 1
