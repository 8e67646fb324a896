"""Invoices and payments, Infor → shop, end to end: orders go to the Infor sandbox through the order flow, M3
invoices them and takes payments (its control API), the invoice and payment pollers run, and the embedded
worker writes to the PrestaShop sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import delete

from integration.cli import main
from integration.flows.invoices import poll_invoices, poll_payments, run_reconciliation
from integration.store import models as m
from integration.store.repository import NewEvent
from tests.integration.test_customer_flow import Shop

ONE_MUG = [{"reference": "MUG-CERAMIC-350", "quantity": 1}]


class Books(Shop):
    def order_in_m3(self, **body: Any) -> tuple[int, str]:
        [order_id] = self.place(lines=ONE_MUG, **body)
        self.settle()
        orno = self.store.get_binding("default", "order", str(order_id))
        assert orno, [e.last_error for e in self.events("order", order_id)]
        return order_id, orno

    def invoice(self, orno: str) -> dict[str, Any]:
        response = requests.post(f"{self.infor.url}/_sandbox/orders/{orno}/advance", json={"to": "invoice"},
                                 timeout=10)
        response.raise_for_status()
        [invoice] = response.json()["invoices"]
        return dict(invoice)

    def pay(self, ivno: str, amount: Decimal | None = None) -> dict[str, Any]:
        body = {} if amount is None else {"amount": str(amount)}
        response = requests.post(f"{self.infor.url}/_sandbox/invoices/{ivno}/pay", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def messages(self, order_id: int) -> list[dict[str, Any]]:
        return list(self.client.list("messages", filters={"id_order": order_id}))

    def histories(self, order_id: int) -> list[dict[str, Any]]:
        return list(self.client.list("order_histories", filters={"id_order": order_id}))

    def state(self, order_id: int) -> str | None:
        return self.client.order_states().key_for(int(self.client.get("orders", order_id)["current_state"]))


@pytest.fixture
def books(systems, worker) -> Books:
    return Books(systems)


def _key(invoice: dict[str, Any]) -> str:
    return f"{invoice['YEA4']}-{invoice['IVNO']}"


def test_an_invoice_is_written_to_the_shop_once_also_when_read_twice(books: Books):
    order_id, orno = books.order_in_m3()
    invoice = books.invoice(orno)
    assert poll_invoices(books.rt, "default", books.enqueue())["enqueued"] == 1
    books.settle()
    [event] = books.events("invoice", _key(invoice))
    assert event.status == m.SUCCEEDED, event.last_error
    [message] = books.messages(order_id)
    assert f"M3 invoice {invoice['IVNO']} of {date.today().isoformat()}" in message["message"]
    assert str(message["private"]) in ("1", "True")  # for the merchant only
    histories = len(books.histories(order_id))
    # read again: a second delivery of the same invoice (an operator's or a feed read twice), and a payment check
    books.store.add_event(NewEvent("default", "operator", "invoice", _key(invoice), "invoice.resync",
                                   "again-1", {}), status=m.QUEUED)
    [again] = [e for e in books.events("invoice", _key(invoice)) if e.dedupe_key == "again-1"]
    books.enqueue()(again.id, "invoice", None)
    poll_payments(books.rt, "default", books.enqueue())
    assert poll_invoices(books.rt, "default", books.enqueue())["enqueued"] == 0  # the feed moved on
    books.settle()
    assert len(books.messages(order_id)) == 1
    assert len(books.histories(order_id)) == histories  # the order was paid already: no state posted
    assert {e.status for e in books.events("invoice", _key(invoice))} <= {m.SUCCEEDED, m.SKIPPED}


def test_fully_paid_in_m3_the_shop_shows_it_paid_once(books: Books):
    # Cash on delivery: released to M3 unpaid (a bank wire would wait for its payment before reaching M3).
    order_id, orno = books.order_in_m3(state="PS_OS_COD_VALIDATION")
    assert books.state(order_id) == "PS_OS_COD_VALIDATION"
    invoice = books.invoice(orno)
    poll_invoices(books.rt, "default", books.enqueue())
    books.settle()
    assert books.state(order_id) == "PS_OS_COD_VALIDATION"  # invoiced, not paid: the shop keeps waiting
    [first] = books.events("invoice", _key(invoice))
    assert first.result["orders"][0]["payment"] == "open"
    assert books.pay(invoice["IVNO"])["status"] == "paid"
    assert poll_payments(books.rt, "default", books.enqueue())["enqueued"] == 1
    books.settle()
    assert books.state(order_id) == "PS_OS_PAYMENT"
    reference = books.client.get("orders", order_id)["reference"]
    payments = list(books.client.list("order_payments", filters={"order_reference": f"[{reference}]"}))
    assert sum(Decimal(str(p["amount"])) for p in payments) == Decimal(invoice["amount"])
    histories = len(books.histories(order_id))
    assert poll_payments(books.rt, "default", books.enqueue())["enqueued"] == 0  # settled: no more checks
    books.store.add_event(NewEvent("default", "operator", "invoice", _key(invoice), "invoice.resync", "again-2",
                                   {}), status=m.QUEUED)
    [again] = [e for e in books.events("invoice", _key(invoice)) if e.dedupe_key == "again-2"]
    books.enqueue()(again.id, "invoice", None)
    books.settle()
    assert len(books.histories(order_id)) == histories and len(books.messages(order_id)) == 1


def test_partial_and_mismatched_payments_are_reported(books: Books):
    order_id, orno = books.order_in_m3()  # paid by card in the shop
    invoice = books.invoice(orno)
    books.pay(invoice["IVNO"], Decimal(invoice["amount"]) - Decimal("10.00"))
    poll_invoices(books.rt, "default", books.enqueue())
    books.settle()
    [event] = books.events("invoice", _key(invoice))
    [result] = event.result["orders"]
    assert result["payment"] == "partial"
    assert Decimal(result["mismatch"]["difference"]) == Decimal("-10.00")
    assert books.store.open_bindings("default", "invoice")  # still followed: more may come
    report = CliRunner().invoke(main, ["reconcile", "orders", "--since", date.today().isoformat(), "--json"])
    assert report.exit_code == 0, report.output
    [line] = [o for o in json.loads(report.stdout)["orders"] if o["ps_order_id"] == order_id]  # logs: stderr
    assert line["status"] == "difference" and line["orno"] == orno
    assert [(d["check"], d["difference"], d["cause"]) for d in line["differences"]] == [
        ("payment", "-10.00", "partial payment")]
    text = CliRunner().invoke(main, ["reconcile", "orders", "--since", date.today().isoformat()])
    assert "payment: M3 paid - shop paid = -10.00 EUR (likely cause: partial payment)" in text.output
    as_csv = CliRunner().invoke(main, ["reconcile", "orders", "--since", date.today().isoformat(), "--csv"])
    assert as_csv.stdout.splitlines()[0].startswith("ps_order_id,reference,orno")  # logs: stderr
    bad = CliRunner().invoke(main, ["reconcile", "orders", "--since", "last week"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    # the nightly run keeps its report
    assert run_reconciliation(books.rt, "default")["difference"] >= 1
    [(_, kept)] = books.store.reconciliation_runs("default")
    assert [k["status"] for k in kept if k["ps_order_id"] == order_id] == ["difference"]


def test_an_invoice_for_an_unknown_order_is_a_clear_error_and_nothing_is_lost(books: Books):
    order_id, orno = books.order_in_m3()
    invoice = books.invoice(orno)
    with books.store.session() as s:  # the shop order's binding is lost
        s.execute(delete(m.Binding).where(m.Binding.entity == "order", m.Binding.ps_id == str(order_id)))
    assert poll_invoices(books.rt, "default", books.enqueue()) == {"enqueued": 0, "other_channels": 1}
    event_id, _ = books.store.add_event(NewEvent("default", "operator", "invoice", _key(invoice), "invoice.resync",
                                                 "unknown-order", {"invoice": _key(invoice)}), status=m.QUEUED)
    books.enqueue()(event_id, "invoice", None)
    books.settle()
    [letter] = books.store.list_dead_letters()
    assert letter.event_id == event_id and letter.step == "extract"
    assert f"M3 invoice {_key(invoice)} is for M3 order {orno}, which no shop order is bound to" in letter.message
    assert "resync order" in letter.resolution and letter.payload == {"invoice": _key(invoice)}
    assert books.messages(order_id) == []
    # bound again, the dead letter replays and the invoice lands
    books.store.save_binding("default", "order", str(order_id), orno)
    replay = CliRunner().invoke(main, ["dlq", "replay", str(letter.id)])
    assert replay.exit_code == 0, replay.output
    books.settle()
    assert books.store.get_event(event_id).status == m.SUCCEEDED
    assert len(books.messages(order_id)) == 1
