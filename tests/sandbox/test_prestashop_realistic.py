"""The PrestaShop sandbox as real shops are: checkouts in every state, Australian and Mexican states, long
e-mail addresses, a shop with display_errors on, shop groups and core's multistore context."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from integration.connectors.prestashop.client import PrestaShopClient
from integration.connectors.prestashop.errors import PrestaShopAuthError, PrestaShopNotFound, PrestaShopServerError
from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.prestashop.state import PAYMENT_MODULES
from psinfor_devkit.sandbox.server import SandboxServer

KEY = "REALISTICKEY00000000000000000000"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY)
    yield server
    server.stop()


def control(sandbox: SandboxServer, path: str, body: dict) -> dict:
    response = requests.post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=30)
    response.raise_for_status()
    return dict(response.json())


def client(sandbox: SandboxServer, **kwargs: object) -> PrestaShopClient:
    return PrestaShopClient(sandbox.url + "/api", KEY, max_retries=0, **kwargs)  # type: ignore[arg-type]


def states_by_id(ps: PrestaShopClient) -> dict[int, str]:
    keys = {row["value"]: row["name"] for row in ps.list("configurations", filters={"name": "[PS_OS_]%"},
                                                         display=["id", "name", "value"])}
    return {int(v): k for v, k in keys.items()}


def test_the_checkout_mix_has_every_state_a_shop_sees(sandbox: SandboxServer) -> None:
    ids = control(sandbox, "orders", {"count": 120, "state": "mix", "send_webhook": False})["orders"]
    ps = client(sandbox)
    names = states_by_id(ps)
    rows = list(ps.list("orders", display=["id", "current_state", "valid", "id_customer", "total_paid_real"],
                        filters={"id": f"[{ids[0]},{ids[-1]}]"}))
    seen = Counter(names[int(r["current_state"])] for r in rows)
    assert {"PS_OS_PAYMENT", "PS_OS_BANKWIRE", "PS_OS_CHEQUE", "PS_OS_ERROR", "PS_OS_CANCELED"} <= set(seen)
    assert seen["PS_OS_PAYMENT"] < len(rows)  # not everything is paid
    for row in rows:
        paid = names[int(row["current_state"])] == "PS_OS_PAYMENT"
        assert row["valid"] is paid and (row["total_paid_real"] > 0) is paid
    cancelled = next(r for r in rows if names[int(r["current_state"])] == "PS_OS_CANCELED")
    history = [names[h["id_order_state"]] for h in ps.list("order_histories",
                                                           filters={"id_order": cancelled["id"]}, sort="id_ASC")]
    assert history == ["PS_OS_BANKWIRE", "PS_OS_CANCELED"]  # cancelled later, never paid
    failed = next(r for r in rows if names[int(r["current_state"])] == "PS_OS_ERROR")
    order = ps.get("orders", failed["id"])
    assert order["module"] in {module for module, _name, _brand in PAYMENT_MODULES}  # a card payment that failed
    assert not list(ps.list("order_payments", filters={"order_reference": order["reference"]}))
    customers = {int(r["id_customer"]) for r in rows}
    assert customers & {c.id for c in catalogue.MORE_CUSTOMERS}


def test_orders_placed_without_a_state_stay_paid_by_the_first_customers(sandbox: SandboxServer) -> None:
    ids = control(sandbox, "orders", {"count": 60, "send_webhook": False})["orders"]
    ps = client(sandbox)
    names = states_by_id(ps)
    rows = list(ps.list("orders", display=["id", "current_state", "id_customer"],
                        filters={"id": f"[{ids[0]},{ids[-1]}]"}))
    assert {names[int(r["current_state"])] for r in rows} == {"PS_OS_PAYMENT"}
    assert max(int(r["id_customer"]) for r in rows) <= len(catalogue.CUSTOMERS)


def test_seeded_checkouts_are_the_realistic_mix() -> None:
    server = start_prestashop_sandbox(port=0, key=KEY, orders=40)
    try:
        ps = client(server)
        names = states_by_id(ps)
        seen = {names[int(r["current_state"])] for r in ps.list("orders", display=["id", "current_state"])}
        assert "PS_OS_PAYMENT" in seen and len(seen) > 1
    finally:
        server.stop()


def test_australian_and_mexican_states_and_long_e_mails(sandbox: SandboxServer) -> None:
    ps = client(sandbox)
    countries = {r["iso_code"]: r["id"] for r in ps.list("countries", display=["id", "iso_code"])}
    states = list(ps.list("states", display=["id", "id_country", "iso_code"]))
    assert {s["iso_code"] for s in states if s["id_country"] == countries["AU"]} >= {"NSW", "VIC"}
    assert {s["iso_code"] for s in states if s["id_country"] == countries["MX"]} >= {"AGU"}
    emails = [c["email"] for c in ps.list("customers", display=["id", "email"])]
    assert max(len(e) for e in emails) > 60
    sydney = ps.get("addresses", 10)
    assert ps.get("states", sydney["id_state"])["iso_code"] == "NSW"


def test_display_errors_prints_warnings_before_every_answer(sandbox: SandboxServer) -> None:
    control(sandbox, "config", {"display_errors": True})
    raw = requests.get(f"{sandbox.url}/api/orders/1", auth=(KEY, ""), timeout=5)
    assert raw.content.startswith(b"\nWarning: Undefined array key")
    assert client(sandbox).get("customers", 1)["id"] == 1  # the client strips them and goes on
    missing = requests.get(f"{sandbox.url}/api/orders/999999", auth=(KEY, ""), timeout=5)
    assert missing.status_code == 404 and missing.content.startswith(b"\nWarning")
    with pytest.raises(PrestaShopNotFound):
        client(sandbox).get("orders", 999999)


def context_of(sandbox: SandboxServer, **params: str) -> tuple[int, dict]:
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", json={}, timeout=5)
    response = requests.get(f"{sandbox.url}/api/shops", params=params, auth=(KEY, ""), timeout=5)
    return response.status_code, requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["shop_contexts"]


def test_the_shop_context_is_read_as_core_reads_it(sandbox: SandboxServer) -> None:
    assert context_of(sandbox) == (200, {"shop:1": 1})
    assert context_of(sandbox, id_group_shop="2", id_shop="1") == (200, {"group:2": 1})  # the group wins
    assert context_of(sandbox, id_group_shop="2", id_shop="nope")[0] == 200  # id_shop is not even looked at
    assert context_of(sandbox, id_shop_group="2") == (200, {"shop:1": 1})  # not a parameter core reads
    assert context_of(sandbox, id_shop="all") == (200, {"all": 1})
    assert context_of(sandbox, id_shop="3") == (200, {"shop:3": 1})
    assert context_of(sandbox, id_group_shop="3")[0] == 500  # a group without shops
    assert context_of(sandbox, id_shop="nope")[0] == 404
    assert context_of(sandbox, id_shop="99")[0] == 403  # no such shop: the key is not associated with it
    groups = list(client(sandbox).list("shop_groups", display=["id", "name"]))
    assert [g["id"] for g in groups] == [1, 2, 3]


def test_a_key_limited_to_some_shops(sandbox: SandboxServer) -> None:
    limited = "OUTLETKEY0000000000000000000000X"
    control(sandbox, "keys", {"key": limited, "shops": [2, 3]})
    outlets = PrestaShopClient(sandbox.url + "/api", limited, max_retries=0, id_group_shop=2)
    assert outlets.get("shops", 2)["name"] == "psinfor outlet Lyon"
    with pytest.raises(PrestaShopAuthError) as refused:
        PrestaShopClient(sandbox.url + "/api", limited, max_retries=0).get("shops", 1)
    assert refused.value.code == 132
    with pytest.raises(PrestaShopServerError):
        PrestaShopClient(sandbox.url + "/api", limited, max_retries=0, id_group_shop=3).get("shops", 2)


def test_the_client_sends_the_context_the_shop_will_use(sandbox: SandboxServer) -> None:
    ps = client(sandbox, id_shop=1, id_group_shop=2)
    assert ps.id_shop is None and ps.id_group_shop == 2
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", json={}, timeout=5)
    ps.get("shops", 2)
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["shop_contexts"] == {"group:2": 1}
