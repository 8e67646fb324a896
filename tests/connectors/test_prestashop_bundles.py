"""Order bundles from saved files and from a live shop (the sandbox), and the client built from settings."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import requests

from integration.config import PrestaShopSettings, Secret
from integration.connectors.prestashop.bundles import BUNDLE_KEYS, fetch_order_bundle, read_order_bundle
from integration.connectors.prestashop.client import PrestaShopClient
from integration.jsonutil import to_jsonable
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prestashop"
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"


def test_read_order_bundle_from_saved_files(tmp_path: Path) -> None:
    layout = {
        "orders/5.xml": "oca_ps1.6.1.23_order_5_get.xml",
        "customers/1.xml": "oca_ps1.6.1.6_customer_1_get.xml",
        "currencies/1.xml": "oca_ps1.6.1.23_currency_1_get.xml",
        "countries/8.xml": "oca_ps1.6.1.23_country_8_get.xml",
    }
    for target, source in layout.items():
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / source, tmp_path / target)
    address = (FIXTURES / "oca_ps1.6.1.6_address_1_get.xml").read_text().replace("[1]]></id>", "[4]]></id>", 1)
    (tmp_path / "addresses").mkdir()
    (tmp_path / "addresses" / "4.xml").write_text(address)
    bundle = read_order_bundle(tmp_path / "orders" / "5.xml")
    assert tuple(bundle) == BUNDLE_KEYS
    assert bundle["order"]["total_paid"] == Decimal("71.510000")
    assert bundle["address_delivery"] is bundle["address_invoice"] and bundle["address_delivery"]["id"] == 4
    assert bundle["country_delivery"]["iso_code"] == "FR" and bundle["currency"]["iso_code"] == "EUR"
    assert bundle["state_delivery"] is None and bundle["carrier"] is None  # no carriers/2.xml saved
    assert to_jsonable(bundle)["order"]["total_paid"] == "71.510000"


def test_fetch_order_bundle_from_the_sandbox_with_settings_and_shared_limits(redis_client) -> None:
    server = start_prestashop_sandbox(port=0, key=KEY, orders=2)
    try:
        settings = PrestaShopSettings(url=server.url + "/api", key=Secret(KEY), rate_per_second=50, burst=10)
        client = PrestaShopClient.from_settings(settings, redis=redis_client, name="test")
        assert client.ping() == "8.1.5"
        requests.post(f"{server.url}/_sandbox/stats/reset", timeout=5)
        bundle = fetch_order_bundle(client, 2)
        assert bundle["order"]["id"] == 2 and bundle["customer"]["id"] == bundle["order"]["id_customer"]
        stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()
        assert stats["requests"] <= 8  # shared objects are read once
        assert redis_client.exists("psinfor:resilience:bucket:prestashop:test")
        # An unchanged body comes back as 304 when its Content-Sha1 is sent back.
        first = requests.get(f"{server.url}/api/orders/2", auth=(KEY, ""), timeout=5)
        again = requests.get(f"{server.url}/api/orders/2", auth=(KEY, ""), timeout=5,
                             headers={"Local-Content-Sha1": first.headers["Content-Sha1"]})
        assert again.status_code == 304 and again.content == b""
    finally:
        server.stop()
