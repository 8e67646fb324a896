"""Stock, Infor → shop, end to end: both sandboxes over HTTP, a real Redis and an embedded worker.

Each test builds a small generated catalogue in both sandboxes (the same generator as the 100,000-SKU bench),
aligns them once with the reconcile (which also binds the items by reference), then changes M3's balances
and lets the stock poller and the worker carry the changes to the shop. Shop writes are counted by the
PrestaShop sandbox, per resource and method.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integration.flows import inventory
from integration.flows.registry import FLOWS
from integration.store import models as m
from tests.integration.conftest import PS_KEY, Systems, wait_until

CONNECTION = "default"


class Stock:
    """The two sandboxes and our store, seen from the stock flow."""

    def __init__(self, systems: Systems):
        self.ps, self.infor, self.rt = systems.ps, systems.infor, systems.rt
        self.store = self.rt.store

    # sandboxes
    def generate(self, skus: int, seed: int = 1) -> None:
        body = {"skus": skus, "warehouses": ["100", "200"], "seed": seed}
        requests.post(f"{self.infor.url}/_sandbox/catalogue/generate", json=body, timeout=60).raise_for_status()
        requests.post(f"{self.ps.url}/_sandbox/catalogue/generate", json={**body, "shop_warehouses": ["100"]},
                      timeout=60).raise_for_status()

    def set_m3(self, itno: str, qty: int, whlo: str = "100") -> None:
        requests.post(f"{self.infor.url}/_sandbox/stock", json={"itno": itno, "whlo": whlo, "qty": qty},
                      timeout=10).raise_for_status()

    def shop(self, row_key: str) -> int:
        product, _, attribute = row_key.partition(":")
        rows = requests.get(f"{self.ps.url}/api/stock_availables", auth=(PS_KEY, ""), timeout=10, params={
            "filter[id_product]": f"[{product}]", "display": "full", "output_format": "JSON"}).json()
        return {r["id_product_attribute"]: int(r["quantity"]) for r in rows["stock_availables"]}[attribute]

    def writes(self) -> dict[str, int]:
        return dict(requests.get(f"{self.ps.url}/_sandbox/catalogue/writes", timeout=10).json())

    def reset_writes(self) -> None:
        requests.post(f"{self.ps.url}/_sandbox/catalogue/writes/reset", timeout=10).raise_for_status()
        requests.post(f"{self.ps.url}/_sandbox/stats/reset", json={}, timeout=10).raise_for_status()

    def patch_requests(self) -> int:
        routes = requests.get(f"{self.ps.url}/_sandbox/stats", timeout=10).json()["by_route"]
        return int(routes.get("PATCH /api/stock_availables/{id}", 0))

    def ps_faults(self, **faults: Any) -> None:
        requests.post(f"{self.ps.url}/_sandbox/faults", json=faults, timeout=10).raise_for_status()

    # our side
    def align(self) -> inventory.ReconcileReport:
        report = inventory.reconcile(self.rt, CONNECTION, apply=inventory.inline_apply(self.rt, CONNECTION))
        inventory.poll_stock(self.rt, CONNECTION, self.enqueue)  # the first poll sets the watermark
        return report

    @property
    def enqueue(self) -> Any:
        from tasks.dispatch import enqueue

        return enqueue

    def poll(self) -> dict[str, Any]:
        return inventory.poll_stock(self.rt, CONNECTION, self.enqueue)

    def row(self, itno: str) -> str:
        row = self.rt.binder(CONNECTION, inventory.ITEM).to_shop(itno)
        assert row is not None, itno
        return row

    def events(self) -> list[m.SyncEvent]:
        """The stock flow's events (the shop's own stock.changed webhooks wait as pending_flow: not ours)."""
        return [e for e in self.store.recent_events(limit=1000)
                if e.entity == inventory.ENTITY and e.source_system == "poller"]

    def wait_final(self, count: int, timeout: float = 90) -> list[m.SyncEvent]:
        def final() -> list[m.SyncEvent] | None:
            events = self.events()
            return events if len(events) >= count and all(e.status in m.FINAL_STATUSES for e in events) else None

        return list(wait_until(final, timeout=timeout))

    def rewind_watermark(self, value: str) -> None:
        with self.store.session() as s:
            s.get(m.Watermark, (CONNECTION, inventory.WATERMARK)).value = value


@pytest.fixture
def stock(systems: Systems, worker: Any) -> Stock:
    return Stock(systems)


def test_a_quantity_is_written_once_when_it_changes_and_never_when_it_does_not(stock: Stock) -> None:
    stock.generate(40)
    assert stock.align().differences == 0
    since = stock.store.get_watermark(CONNECTION, inventory.WATERMARK)
    assert since is not None
    changed, same, elsewhere = "G000001-S", "G000001-M", "G000002-S"
    before = stock.shop(stock.row(changed))
    stock.set_m3(changed, before + 5)
    stock.set_m3(same, stock.shop(stock.row(same)))  # a new LMTS, the same quantity
    stock.set_m3(elsewhere, 999, whlo="200")  # a warehouse the mapping does not sum
    stock.reset_writes()

    summary = stock.poll()
    assert summary["items"] == 2 and summary["enqueued"] == 1  # the other warehouse's change never travels
    [event] = stock.wait_final(1)
    assert event.status == m.SUCCEEDED, event.last_error
    assert stock.writes() == {"PATCH stock_availables": 1}
    assert stock.shop(stock.row(changed)) == before + 5
    assert event.result["counts"] == {"written": 1} and event.result["unchanged_before"] == 1

    # The same delta read again (a poll from the same position): the same window, not enqueued twice.
    stock.rewind_watermark(since)
    assert stock.poll()["enqueued"] == 0
    # An overlapping poll (from just before): a new window of the same items, which writes nothing.
    stock.rewind_watermark(str(int(since) - 1))
    assert stock.poll()["enqueued"] == 1
    events = stock.wait_final(2)
    assert sorted(e.status for e in events) == [m.SKIPPED, m.SUCCEEDED]
    assert stock.writes() == {"PATCH stock_availables": 1}


def test_quantities_never_go_negative_and_combinations_get_their_own_rows(stock: Stock) -> None:
    stock.generate(20)
    stock.align()
    variant, simple = "G000002-M", "G000005"  # G000005: every fifth generated product is a simple one
    variant_row, simple_row = stock.row(variant), stock.row(simple)
    assert variant_row.endswith(":0") is False and simple_row.endswith(":0")
    stock.set_m3(variant, -7)  # M3 may go below zero (AV01 = on-hand - allocated)
    stock.set_m3(simple, stock.shop(simple_row) + 3)
    stock.reset_writes()
    stock.poll()
    [event] = stock.wait_final(1)
    assert event.status == m.SUCCEEDED, event.last_error
    assert stock.shop(variant_row) == 0
    written = {r["row_key"] for r in event.result["rows"]["written"]}
    assert written <= {variant_row, simple_row} and simple_row in written
    product = variant_row.split(":")[0]
    # The product row of a product with combinations is PrestaShop's sum of its variants: never written.
    variant_rows = requests.get(f"{stock.ps.url}/api/stock_availables", auth=(PS_KEY, ""), timeout=10, params={
        "filter[id_product]": f"[{product}]", "display": "full", "output_format": "JSON"}).json()["stock_availables"]
    total = sum(int(r["quantity"]) for r in variant_rows if r["id_product_attribute"] != "0")
    assert stock.shop(f"{product}:0") == total
    assert stock.writes() == {"PATCH stock_availables": len(written)}


def test_an_unknown_item_is_reported_once_and_the_window_goes_on(stock: Stock) -> None:
    stock.generate(20)
    stock.align()
    requests.post(f"{stock.infor.url}/_sandbox/items", json={"itno": "ZZ-NOT-IN-SHOP", "ITDS": "Only in M3"},
                  timeout=10).raise_for_status()
    known = "G000003-L"
    for round_ in (1, 2):
        stock.set_m3("ZZ-NOT-IN-SHOP", 5 + round_)
        stock.set_m3(known, 50 + round_)
        stock.poll()
        events = stock.wait_final(round_)
        latest = max(events, key=lambda e: e.id)
        assert latest.status == m.SUCCEEDED, latest.last_error
        assert latest.result["unknown"] == ["ZZ-NOT-IN-SHOP"] and latest.result["written"] == 1
        assert stock.shop(stock.row(known)) == 50 + round_
        [unknown] = stock.store.unknown_items(CONNECTION)
        assert (unknown.item_number, unknown.times_seen) == ("ZZ-NOT-IN-SHOP", round_)
        with stock.store.session() as s:
            extract = s.query(m.SyncStep).filter_by(event_id=latest.id, step="extract").one()
            assert extract.output["unknown"] == [{"item_number": "ZZ-NOT-IN-SHOP", "first_report": round_ == 1}]


def test_a_429_on_one_row_retries_that_row_only(stock: Stock) -> None:
    stock.generate(20)
    stock.align()
    items = ["G000001-S", "G000001-M", "G000002-L", "G000003-S", "G000004-M"]
    expected = {itno: stock.shop(stock.row(itno)) + 2 for itno in items}
    for itno, qty in expected.items():
        stock.set_m3(itno, qty)
    client = stock.rt.prestashop(CONNECTION)
    client.schema("stock_availables")  # the write template, read once per process: not what is throttled here
    client.read_only_fields("stock_availables")
    stock.reset_writes()
    stock.ps_faults(fail_next=1, error_status=429)  # the shop throttles the first write of the window
    stock.poll()
    [event] = stock.wait_final(1)
    assert event.status == m.SUCCEEDED, event.last_error
    assert stock.writes() == {"PATCH stock_availables": len(items)}
    assert stock.patch_requests() == len(items) + 1  # the throttled row was sent again, nothing else
    loads = [a for a in stock.store.attempts_of(event.id) if a["step"] == "load"]
    assert [a["outcome"] for a in loads] == ["retrying", "done"]
    assert len(loads[0]["error"]["details"]["pending"]) == 1
    assert {itno: stock.shop(stock.row(itno)) for itno in items} == expected


def test_the_reconcile_corrects_exactly_the_deliberate_differences(stock: Stock) -> None:
    stock.generate(200)
    stock.align()
    perturbed = requests.post(f"{stock.ps.url}/_sandbox/catalogue/perturb", json={"count": 50, "seed": 11},
                              timeout=30).json()["rows"]
    assert len(perturbed) == 50
    dry = inventory.reconcile(stock.rt, CONNECTION, dry_run=True)
    assert (dry.differences, dry.written) == (50, 0)
    from click.testing import CliRunner

    from integration.cli import main

    printed = CliRunner().invoke(main, ["stock", "reconcile", "--dry-run"])
    assert printed.exit_code == 0, printed.output
    assert "differences found        : 50" in printed.output and "would write" in printed.output
    assert stock.writes() == {}
    stock.reset_writes()
    [poller] = [p for p in FLOWS[inventory.ENTITY].pollers if p.name == "reconcile"]
    report = poller.run(stock.rt, CONNECTION, stock.enqueue, 86400.0)  # what the nightly beat entry runs
    assert report["differences"] == 50 and report["written"] == 50
    assert report["unknown_in_infor"] == 1  # the seed catalogue's LEGACY-LAMP has no M3 item
    events = stock.wait_final(1)
    assert all(e.status == m.SUCCEEDED for e in events), [(e.id, e.status, e.last_error) for e in events]
    assert stock.writes() == {"PATCH stock_availables": 50}
    for row in perturbed:
        key = f"{row['id_product']}:{row['id_product_attribute']}"
        assert stock.shop(key) == row["old"]
    assert inventory.reconcile(stock.rt, CONNECTION, dry_run=True).differences == 0
