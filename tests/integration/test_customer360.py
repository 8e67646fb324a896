"""Customer 360: one customer across the shop and M3, with orders, deliveries, invoices, payments and history,
as the JSON the console reads and as ``psinfor customer show`` prints it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner

from integration.cli import main
from integration.flows.invoices import poll_invoices
from tests.integration.test_invoice_flow import ONE_MUG, Books


@pytest.fixture
def books(systems, worker) -> Books:
    return Books(systems)


def test_one_customer_side_by_side_with_orders_invoices_payments_and_history(books: Books):
    customer_id, _ = books.register(firstname="Rose", lastname="Lambert", email="rose.lambert@example.fr",
                                    address={"address1": "5 cours Mirabeau", "postcode": "13100",
                                             "city": "Aix-en-Provence"})
    books.settle()
    [order_id] = books.place(customer_id=customer_id, lines=ONE_MUG)
    books.settle()
    orno = books.store.get_binding("default", "order", str(order_id))
    for step in ("allocate", "pick"):
        requests.post(f"{books.infor.url}/_sandbox/orders/{orno}/advance", json={"to": step}, timeout=10)
    requests.post(f"{books.infor.url}/_sandbox/orders/{orno}/advance",
                  json={"to": "deliver", "tracking_number": "1Z999AA10000000001"}, timeout=10).raise_for_status()
    invoice = books.invoice(orno)
    books.pay(invoice["IVNO"])
    poll_invoices(books.rt, "default", books.enqueue())
    books.settle()
    cuno = books.store.get_binding("default", "customer", str(customer_id))
    books.m3_user_changes(cuno, fields={"PONO": "13090"})  # M3 has another postcode on the head: marked

    shown = CliRunner().invoke(main, ["customer", "show", "rose.lambert@example.fr", "--json"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)  # logs go to stderr
    assert view["customer"]["ps_id"] == customer_id and view["customer"]["cuno"] == cuno
    assert view["customer"]["how_bound"] == "created" and view["customer"]["credit_stop"] is False
    fields = {f["field"]: f for f in view["fields"]}
    assert fields["postcode"] == {"field": "postcode", "m3_field": "PONO", "shop": "13100", "m3": "13090",
                                  "owner": "infor", "differs": True}
    assert fields["email"]["differs"] is False and fields["email"]["owner"] == "prestashop"
    assert view["differences"] == ["postcode"]
    [order] = view["orders"]
    assert order["id"] == order_id and order["orno"] == orno and order["m3_status"] == "77/77"
    assert [d["tracking_number"] for d in order["deliveries"]] == ["1Z999AA10000000001"]
    [inv] = order["invoices"]
    assert inv["key"] == f"{invoice['YEA4']}-{invoice['IVNO']}" and inv["status"] == "paid"
    assert Decimal(inv["amount"]) == Decimal(invoice["amount"]) and Decimal(inv["open"]) == 0
    assert Decimal(order["payments"][0]["amount"]) == Decimal(invoice["amount"])
    assert Decimal(view["open_amount"]) == 0
    entities = {e["entity"] for e in view["events"]}
    assert {"customer", "address", "order", "invoice"} <= entities
    assert "passwd" not in view["shop"]["customer"] and "secure_key" not in view["shop"]["customer"]

    text = CliRunner().invoke(main, ["customer", "show", str(customer_id)])
    assert text.exit_code == 0, text.output
    assert f"M3 {cuno} (created)" in text.output and "* postcode" in text.output
    assert "tracking 1Z999AA10000000001" in text.output and "(paid)" in text.output
    missing = CliRunner().invoke(main, ["customer", "show", "nobody@example.org"])
    assert missing.exit_code != 0 and "no shop customer with the e-mail nobody@example.org" in missing.output
