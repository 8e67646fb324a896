"""Checkout orders, write rules, side effects and webhooks of the PrestaShop sandbox, through our client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from integration.connectors.prestashop import webhooks
from integration.connectors.prestashop.bundles import fetch_order_bundle
from integration.connectors.prestashop.client import PrestaShopClient
from integration.connectors.prestashop.errors import PrestaShopBadRequest, PrestaShopPermanentError
from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.server import SandboxServer
from tests.sandbox.prestashop_helpers import KEY, webhook_receiver

SECRET = "whsec_test_secret"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY)
    yield server
    server.stop()


@pytest.fixture
def client(sandbox: SandboxServer) -> PrestaShopClient:
    return PrestaShopClient(sandbox.url + "/api", KEY, timeout=10, max_retries=0)


def place(sandbox: SandboxServer, **body: object) -> list[int]:
    response = requests.post(f"{sandbox.url}/_sandbox/orders", json={"send_webhook": False, **body}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["orders"]


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_checkout_order_is_consistent_to_the_cent(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    legacy = next(p for p in catalogue.PRODUCTS if not p.in_erp)
    tshirt = catalogue.PRODUCTS[0]
    lines = [{"product_id": tshirt.id, "combination_id": tshirt.combinations[3].id, "quantity": 2},
             {"product_id": legacy.id, "combination_id": 0, "quantity": 1}]
    (order_id,) = place(sandbox, customer_id=1, lines=lines)
    states = client.order_states()
    bundle = fetch_order_bundle(client, order_id)
    order = bundle["order"]
    assert order["current_state"] == states.payment and order["valid"] is True
    assert order["date_add"].tzinfo is not None and order["date_add"].utcoffset() is not None
    rows = order["associations"]["order_rows"]
    assert [r["product_reference"] for r in rows] == [tshirt.combinations[3].reference, legacy.reference]
    assert rows[0]["product_attribute_id"] == tshirt.combinations[3].id
    for row in rows:
        assert row["unit_price_tax_incl"] == cents(row["unit_price_tax_excl"] * (1 + catalogue.TAX_RATE))
    products_excl = sum(r["unit_price_tax_excl"] * r["product_quantity"] for r in rows)
    products_incl = sum(r["unit_price_tax_incl"] * r["product_quantity"] for r in rows)
    assert order["total_products"] == products_excl and order["total_products_wt"] == products_incl
    assert order["total_shipping_tax_incl"] == cents(order["total_shipping_tax_excl"] * (1 + catalogue.TAX_RATE))
    assert order["total_paid_tax_incl"] == products_incl + order["total_shipping_tax_incl"]
    assert order["total_paid_tax_excl"] == products_excl + order["total_shipping_tax_excl"]
    assert order["total_paid"] == order["total_paid_real"] == order["total_paid_tax_incl"]
    assert bundle["customer"]["id"] == 1 and bundle["address_delivery"]["id_customer"] == 1
    assert bundle["country_delivery"]["iso_code"] == "FR" and bundle["state_delivery"] is None
    assert bundle["currency"]["iso_code"] == "EUR" and bundle["carrier"]["name"]
    payments = list(client.list("order_payments", filters={"order_reference": f"[{order['reference']}]"}))
    assert payments[0]["amount"] == order["total_paid"]


def test_foreign_currency_and_states(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    (order_id,) = place(sandbox, customer_id=4)  # Emily, US, California
    bundle = fetch_order_bundle(client, order_id)
    assert bundle["currency"]["iso_code"] == "USD"
    assert bundle["order"]["conversion_rate"] == bundle["currency"]["conversion_rate"] == Decimal("1.085000")
    assert bundle["state_delivery"]["iso_code"] == "CA"


def test_lines_by_reference_and_new_customers(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    variant = catalogue.PRODUCTS[1].combinations[0]
    (order_id,) = place(sandbox, new_customer=True, customer={"email": "new.buyer@example.org"},
                        lines=[{"reference": variant.reference, "quantity": 2}])
    bundle = fetch_order_bundle(client, order_id)
    assert bundle["customer"]["email"] == "new.buyer@example.org" and bundle["customer"]["id"] > 8
    row = bundle["order"]["associations"]["order_rows"][0]
    assert row["product_reference"] == variant.reference and row["product_quantity"] == 2


def test_unpaid_bank_wire_order_then_paid(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    (order_id,) = place(sandbox, state="PS_OS_BANKWIRE")
    states = client.order_states()
    order = client.get("orders", order_id)
    assert order["current_state"] == states.id("bankwire") and order["valid"] is False
    assert order["invoice_number"] == 0 and order["invoice_date"] is None and order["total_paid_real"] == 0
    assert order["module"] == "ps_wirepayment" and order["payment"] == "Bank transfer"
    assert list(client.list("order_payments", filters={"order_reference": f"[{order['reference']}]"})) == []
    client.add_order_history(order_id, states.payment)
    paid = client.get("orders", order_id)
    assert paid["valid"] is True and paid["invoice_number"] > 0 and paid["total_paid_real"] == paid["total_paid"]
    payments = list(client.list("order_payments", filters={"order_reference": f"[{order['reference']}]"}))
    assert [p["amount"] for p in payments] == [paid["total_paid"]]


def test_explicit_lines_are_validated(sandbox: SandboxServer) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/orders",
                             json={"lines": [{"product_id": 1, "quantity": 1}]}, timeout=5)
    assert response.status_code == 400 and "combination" in response.json()["error"]


def test_order_history_moves_the_order_and_the_guard_stops_a_repeat(sandbox: SandboxServer,
                                                                   client: PrestaShopClient) -> None:
    (order_id,) = place(sandbox)
    states = client.order_states()
    before = client.get("orders", order_id)
    assert client.add_order_history(order_id, states.shipping, send_email=True) is True
    after = client.get("orders", order_id)
    assert after["current_state"] == states.shipping and after["date_upd"] >= before["date_upd"]
    assert after["delivery_number"] > 0
    assert client.add_order_history(order_id, states.shipping) is False
    histories = list(client.list("order_histories", filters={"id_order": order_id}))
    assert [h["id_order_state"] for h in histories] == [states.payment, states.shipping]
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["emails"] == 1


def test_cancel_restocks_and_variant_stock_sums(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    cap = next(p for p in catalogue.PRODUCTS if p.reference.startswith("CAP"))
    combo = cap.combinations[0]

    def stock(attribute: int) -> int:
        rows = client.list("stock_availables", filters={"id_product": cap.id, "id_product_attribute": attribute})
        return next(iter(rows))["quantity"]

    start = stock(combo.id)
    (order_id,) = place(sandbox, lines=[{"product_id": cap.id, "combination_id": combo.id, "quantity": 2}])
    assert stock(combo.id) == start - 2
    assert stock(0) == sum(stock(c.id) for c in cap.combinations)
    client.add_order_history(order_id, client.order_states().canceled)
    assert stock(combo.id) == start
    client.set_stock(cap.id, combo.id, 5)
    assert stock(0) == 5 + sum(stock(c.id) for c in cap.combinations[1:])
    with pytest.raises(PrestaShopPermanentError, match="sum of its variants"):
        client.set_stock(cap.id, 0, 100)


def test_write_rules(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    created = client.create("customers", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.org",
                                          "passwd": "$2y$10$abcdefghijklmnopqrstuv", "active": True})
    assert created["id"] > 8 and created["active"] is True and created["date_add"] is not None
    patched = client.patch("customers", created["id"], {"company": "Analytical Engines"})
    assert patched["company"] == "Analytical Engines" and patched["email"] == "ada@example.org"
    with pytest.raises(PrestaShopBadRequest) as missing:
        client.create("addresses", {"id_country": 8, "alias": "x", "lastname": "L", "firstname": "F"})
    assert missing.value.code == 41
    with pytest.raises(PrestaShopBadRequest) as invalid:
        client.patch("addresses", 1, {"postcode": "<script>"})
    assert invalid.value.code == 85
    http = requests.Session()
    http.auth = (KEY, "")
    with_id = http.post(f"{sandbox.url}/api/customers", data=b"<prestashop><customer><id>3</id></customer>"
                                                             b"</prestashop>")
    assert with_id.status_code == 400 and b"91" in with_id.content
    without_id = http.put(f"{sandbox.url}/api/customers/3", data=b"<prestashop><customer><email>x@y.z</email>"
                                                                 b"</customer></prestashop>")
    assert without_id.status_code == 400 and b"90" in without_id.content
    read_only = http.patch(f"{sandbox.url}/api/products/3", data=b"<prestashop><product><id>3</id><quantity>5"
                                                                 b"</quantity></product></prestashop>")
    assert read_only.status_code == 400 and b"93" in read_only.content
    broken = http.post(f"{sandbox.url}/api/customers", data=b"body=%3Cprestashop")
    assert broken.status_code == 500 and b"127" in broken.content
    # PUT replaces the whole object: what is missing is emptied (the real #33783 trap).
    current = client.get("addresses", 2)
    replaced = client.update("addresses", 2, {k: v for k, v in current.items() if k != "address2"})
    assert replaced["address2"] == ""
    company = client.get("addresses", 2)["company"]
    put = http.put(f"{sandbox.url}/api/addresses/2", data=(
        "<prestashop><address><id>2</id><id_country>1</id_country><alias>Office</alias><lastname>Müller</lastname>"
        "<firstname>Jonas</firstname><address1>Königsallee 27</address1><city>Düsseldorf</city></address>"
        "</prestashop>").encode())
    assert put.status_code == 200 and company and client.get("addresses", 2)["company"] == ""


def test_patch_falls_back_to_put_on_17(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    (order_id,) = place(sandbox)
    requests.post(f"{sandbox.url}/_sandbox/config", json={"version": "1.7.8.11"}, timeout=5)
    carrier = client.set_tracking_number(order_id, "6A12345678901")
    assert carrier["tracking_number"] == "6A12345678901"
    assert client.get("orders", order_id)["shipping_number"] == "6A12345678901"  # the getter follows
    routes = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["by_route"]
    assert routes.get("PUT /api/order_carriers/{id}") == 1
    assert routes.get("PATCH /api/order_carriers/{id}", 0) == 0  # version known from PSWS-Version: no PATCH


def test_webhooks_are_signed_ids_only_and_retried(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    with webhook_receiver(fail_first=1) as receiver:
        requests.post(f"{sandbox.url}/_sandbox/webhooks", json={"url": receiver.url, "secret": SECRET},
                      timeout=5).raise_for_status()
        order_ids = requests.post(f"{sandbox.url}/_sandbox/orders", json={"count": 2}, timeout=5).json()["orders"]
        requests.post(f"{sandbox.url}/_sandbox/orders/{order_ids[0]}/state", json={"state": "shipping"}, timeout=5)
        customer = requests.post(f"{sandbox.url}/_sandbox/customers", json={"firstname": "Zoé"}, timeout=5).json()
        requests.post(f"{sandbox.url}/_sandbox/customers", json={"id": 1, "fields": {"company": "ACME"}}, timeout=5)
        requests.post(f"{sandbox.url}/_sandbox/stock", json={"product_id": 3, "quantity": 9}, timeout=5)
        requests.post(f"{sandbox.url}/_sandbox/products/3", json={"fields": {"price": "9.900000"}}, timeout=5)
        drained = requests.post(f"{sandbox.url}/_sandbox/webhooks/drain", json={"timeout": 20}, timeout=30).json()
        assert drained["drained"] is True and drained["failed"] == 0 and drained["retries"] == 1
        delivered = {}
        for call in receiver.calls:
            webhooks.verify(SECRET, call.headers.get(webhooks.HEADER_ID), call.headers.get(webhooks.HEADER_TIMESTAMP),
                            call.headers.get(webhooks.HEADER_SIGNATURE), call.body)
            delivered.setdefault(call.headers[webhooks.HEADER_ID], []).append(json.loads(call.body))
    bodies = [attempts[-1] for attempts in delivered.values()]
    assert len(receiver.calls) == len(bodies) + 1  # one retry, same Webhook-Id
    events = sorted((b["event"], b[webhooks.EVENTS[b["event"]]]) for b in bodies)
    assert events == sorted([("order.created", order_ids[0]), ("order.created", order_ids[1]),
                             ("order.status_changed", order_ids[0]), ("customer.created", customer["id_customer"]),
                             ("address.created", customer["id_address"]), ("customer.updated", 1),
                             ("stock.changed", 3), ("product.updated", 3)])
    for body in bodies:
        assert set(body) == {"event", "shop_id", webhooks.EVENTS[body["event"]], "occurred_at"}
        assert body["shop_id"] == 1


def test_orders_changed_since_for_a_poller(sandbox: SandboxServer, client: PrestaShopClient) -> None:
    place(sandbox, count=5)
    first = client.get("orders", 1)
    changed = list(client.list("orders", display=["id", "date_upd"], filters={"date_upd": (
        first["date_upd"], first["date_upd"].replace(year=first["date_upd"].year + 1))},
        sort="date_upd_ASC", page_size=2))
    assert [o["id"] for o in changed] == [1, 2, 3, 4, 5]
