"""The item master, Infor → shop, end to end: items created and changed in the Infor sandbox reach the PrestaShop
sandbox through the item poller and an embedded worker (real Redis, both sandboxes over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integration.flows import items as item_flow
from integration.store import models as m
from tests.integration.conftest import PS_KEY, Systems, wait_until

CONNECTION = "default"


class Items:
    def __init__(self, systems: Systems):
        self.ps, self.infor, self.rt = systems.ps, systems.infor, systems.rt
        self.store = self.rt.store

    @property
    def enqueue(self) -> Any:
        from tasks.dispatch import enqueue

        return enqueue

    def m3_item(self, itno: str, **fields: Any) -> None:
        requests.post(f"{self.infor.url}/_sandbox/items", json={"itno": itno, **fields}, timeout=10).raise_for_status()

    def m3_stock(self, itno: str, qty: int) -> None:
        requests.post(f"{self.infor.url}/_sandbox/stock", json={"itno": itno, "whlo": "100", "qty": qty},
                      timeout=10).raise_for_status()

    def api(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.ps.url}/api/{path}", auth=(PS_KEY, ""), timeout=10,
                                params={"output_format": "JSON", **params})
        response.raise_for_status()
        return response.json()

    def sync(self, expected_events: int = 1) -> list[m.SyncEvent]:
        """One poll of the item feed, and wait until its windows are final."""
        before = {e.id for e in self.events()}
        assert item_flow.poll_items(self.rt, CONNECTION, self.enqueue)["enqueued"] == expected_events

        def done() -> list[m.SyncEvent] | None:
            new = [e for e in self.events() if e.id not in before]
            return new if len(new) >= expected_events and all(e.status in m.FINAL_STATUSES for e in new) else None

        return list(wait_until(done, timeout=90))

    def events(self) -> list[m.SyncEvent]:
        return [e for e in self.store.recent_events(limit=500)
                if e.entity == item_flow.ENTITY and e.source_system == "poller"]


@pytest.fixture
def items(systems: Systems, worker: Any) -> Items:
    helper = Items(systems)
    item_flow.poll_items(helper.rt, CONNECTION, helper.enqueue)  # the first poll sets the watermark
    return helper


def test_a_new_style_becomes_a_product_with_two_combinations_bound_both_ways(items: Items) -> None:
    for itno, code, colour, qty in (("RJ-RED-M", "RED", "Red", 12), ("RJ-YLW-M", "YLW", "Yellow", 7)):
        items.m3_item(itno, ITDS=f"Rain jacket {colour} M", FUDS="Waterproof rain jacket", HDPR="RJ", FTIZ="COLOR",
                      OPTZ=code, TZ15=colour, FTIX="SIZE", OPTX="M", TX15="M", GRWE="0.450", CFI2="4006381333931",
                      price="59.00", **{"ITDS@FR": f"Veste de pluie {colour} M"})
        items.m3_stock(itno, qty)
    [event] = items.sync()
    assert event.status == m.SUCCEEDED, event.last_error
    [product] = items.api("products", **{"filter[reference]": "[RJ]", "display": "full"})["products"]
    assert {n["id"]: n["value"] for n in product["name"]} == {"1": "Rain jacket", "2": "Veste de pluie"}
    assert product["active"] == "1" and product["price"] == "59.000000"
    combinations = items.api("combinations", **{"filter[id_product]": f"[{product['id']}]",
                                                 "display": "full"})["combinations"]
    assert sorted(c["reference"] for c in combinations) == ["RJ-RED-M", "RJ-YLW-M"]
    values = {str(v["id"]): v for v in items.api("product_option_values", display="full")["product_option_values"]}
    labels = {c["reference"]: sorted(values[str(o["id"])]["name"][0]["value"]
                                     for o in c["associations"]["product_option_values"]) for c in combinations}
    assert labels == {"RJ-RED-M": ["M", "Red"], "RJ-YLW-M": ["M", "Yellow"]}
    # Bindings both ways: product ⇄ style, stock row ⇄ item.
    pid = str(product["id"])
    assert items.rt.binder(CONNECTION, "product").to_shop("RJ") == pid
    assert items.rt.binder(CONNECTION, "product").get(pid) == "RJ"
    rows = items.rt.binder(CONNECTION, "item").to_shop_many(["RJ-RED-M", "RJ-YLW-M"])
    by_reference = {c["reference"]: str(c["id"]) for c in combinations}
    assert rows == {itno: f"{pid}:{cid}" for itno, cid in by_reference.items()}
    assert items.rt.binder(CONNECTION, "item").get(rows["RJ-RED-M"]) == "RJ-RED-M"
    # New rows carry M3's stock at once.
    stock = items.api("stock_availables", **{"filter[id_product]": f"[{pid}]", "display": "full"})["stock_availables"]
    quantities = {str(s["id_product_attribute"]): int(s["quantity"]) for s in stock}
    assert quantities == {by_reference["RJ-RED-M"]: 12, by_reference["RJ-YLW-M"]: 7, "0": 19}


def test_a_shop_owned_field_survives_the_next_item_sync(items: Items) -> None:
    requests.post(f"{items.ps.url}/_sandbox/products/3", json={"fields": {
        "description": "<p>Our favourite mug, written by the shop.</p>"}}, timeout=10).raise_for_status()
    items.m3_item("MUG-CERAMIC-350", ITDS="Ceramic mug 350 ml, white", FUDS="M3's own description text",
                  price="9.90")
    [event] = items.sync()
    assert event.status == m.SUCCEEDED, event.last_error
    mug = items.api("products/3")["product"]
    assert mug["name"][0]["value"] == "Ceramic mug 350 ml, white" and mug["price"] == "9.900000"
    assert mug["description"][0]["value"] == "<p>Our favourite mug, written by the shop.</p>"
    # The next change of the item writes only what changed, and still not the shop's text.
    items.m3_item("MUG-CERAMIC-350", ITDS="Ceramic mug 350 ml", FUDS="Another M3 text")
    [event] = items.sync()
    assert event.result["products"][0]["updated"] == ["product 3: name"]
    mug = items.api("products/3")["product"]
    assert mug["name"][0]["value"] == "Ceramic mug 350 ml"
    assert mug["description"][0]["value"] == "<p>Our favourite mug, written by the shop.</p>"


def test_a_retired_item_deactivates_its_product_and_nothing_is_deleted(items: Items) -> None:
    items.m3_item("LAMP-NEW-1", ITDS="Reading lamp", price="29.00")
    items.sync()
    [product] = items.api("products", **{"filter[reference]": "[LAMP-NEW-1]", "display": "full"})["products"]
    assert product["active"] == "1"
    items.m3_item("LAMP-NEW-1", STAT="90")  # retired in M3
    [event] = items.sync()
    assert event.status == m.SUCCEEDED, event.last_error
    retired = items.api(f"products/{product['id']}")["product"]
    assert retired["active"] == "0" and retired["reference"] == "LAMP-NEW-1"
    writes = requests.get(f"{items.ps.url}/_sandbox/catalogue/writes", timeout=10).json()
    assert not any(k.startswith("DELETE") for k in writes)
