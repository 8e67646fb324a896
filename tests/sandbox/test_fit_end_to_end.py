"""Over HTTP, both sandboxes: an Australian state and a 60-character e-mail never reach M3 over-long. The order
is read from the shop, mapped with the default mappings, then either refused by validation naming field and
rule, or sent with fitted values; and the Infor sandbox itself refuses an over-long value, from the swagger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from integration.connectors.infor import customers, orders
from integration.connectors.infor.errors import InputFieldTooLong
from integration.connectors.infor.ionapi import IonApiCredentials
from integration.connectors.infor.m3 import M3Client
from integration.connectors.prestashop.bundles import fetch_order_bundle
from integration.connectors.prestashop.client import PrestaShopClient
from integration.mapping.engine import MappingEngine
from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.infor import InforSandboxServer, start_infor_sandbox
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.server import SandboxServer
from tests.unit.test_mapping_support import MAPPINGS_DIR

KEY = "FITTINGKEY0000000000000000000000"


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY)
    yield server
    server.stop()


@pytest.fixture
def infor() -> Iterator[InforSandboxServer]:
    server = start_infor_sandbox()
    yield server
    server.stop()


def m3_client(infor: InforSandboxServer, **kwargs: Any) -> M3Client:
    return M3Client(IonApiCredentials.from_dict(infor.ionapi()), cono=catalogue.INFOR_COMPANY,
                    divi=catalogue.INFOR_DIVISION, retry_backoff=0.0, **kwargs)


def place(shop: SandboxServer, customer_id: int) -> int:
    response = requests.post(f"{shop.url}/_sandbox/orders", json={
        "customer_id": customer_id, "lines": [{"reference": "MUG-CERAMIC-350", "quantity": 1}],
        "send_webhook": False}, timeout=10)
    response.raise_for_status()
    return int(response.json()["orders"][0])


def mapped(shop: SandboxServer, order_id: int) -> tuple[MappingEngine, Any, str, list, list, list]:
    engine = MappingEngine.load(MAPPINGS_DIR)
    bundle = fetch_order_bundle(PrestaShopClient(shop.url + "/api", KEY, max_retries=0), order_id)
    known = {itno for itno, _, _, _ in catalogue.erp_items()}.__contains__
    order = engine.ps_order_to_canonical(bundle, known_item=known)
    cuno = engine.cuno_for(order.customer.ps_customer_id)
    calls = engine.order_to_infor(order, cuno=cuno)
    customer_calls = engine.customer_to_infor(order.customer, cuno=cuno)
    failures = [*engine.validate_order(order, calls, known_item=known, cuno=cuno),
                *engine.validate_customer(order.customer, customer_calls, cuno=cuno)]
    return engine, order, cuno, calls, customer_calls, failures


def test_an_australian_state_and_a_long_e_mail_are_refused_by_validation(shop: SandboxServer,
                                                                          infor: InforSandboxServer) -> None:
    _engine, order, _cuno, _calls, customer_calls, failures = mapped(shop, place(shop, 9))
    assert order.delivery_address.country == "AU" and order.delivery_address.state == "NSW"
    assert len(order.customer.email) > 60
    assert failures and {(f.field, f.rule) for f in failures} == {("ECAR", "max_length")}
    assert "MAIL" not in customer_calls[0]["record"]  # the e-mail alone would not stop it: it is left out
    # Validation refused it, so the load never runs: M3 holds nothing of it.
    assert requests.get(f"{infor.url}/_sandbox/orders", timeout=5).json()["batch_orders"] == []
    # Had it been sent as it is, M3 (the sandbox, with the swagger's lengths) would refuse it too.
    with pytest.raises(InputFieldTooLong) as refused:
        m3_client(infor, check_lengths=False).execute("CRS610MI", "Add", {**customer_calls[0]["record"],
                                                                          "ECAR": "NSW"})
    assert refused.value.field == "ECAR"
    with pytest.raises(InputFieldTooLong):
        m3_client(infor, check_lengths=False).execute("CRS610MI", "Add", {**customer_calls[0]["record"],
                                                                          "MAIL": order.customer.email})


def test_a_mexican_state_and_a_long_e_mail_are_sent_fitted(shop: SandboxServer, infor: InforSandboxServer) -> None:
    _engine, _order, _cuno, calls, customer_calls, failures = mapped(shop, place(shop, 10))
    assert failures == []
    m3 = m3_client(infor)
    customers.add_customer(m3, customer_calls)
    result = orders.create_batch_order(m3, calls)
    assert result.created
    [sent] = [o for o in requests.get(f"{infor.url}/_sandbox/orders", timeout=5).json()["orders"]]
    assert sent["addresses"][0]["ECAR"] == "AG" and sent["addresses"][0]["CSCD"] == "MX"
    _engine2, _order2, cuno, _calls2, customer_calls, failures = mapped(shop, place(shop, 11))
    assert failures == [] and "MAIL" not in customer_calls[0]["record"]
    customers.add_customer(m3, customer_calls)
    [created] = [c for c in requests.get(f"{infor.url}/_sandbox/customers", timeout=5).json()["customers"]
                 if c["CUNO"] == cuno]
    assert "MAIL" not in created
