"""Golden tests: real webservice payloads (and a seeded multi-currency order) through the default mappings.

The expected output is committed under tests/fixtures/mapping/golden/; any change in what an order becomes
shows up as a diff to review. ``PSINFOR_UPDATE_GOLDEN=1`` rewrites the files.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from integration.cli import main
from integration.jsonutil import to_jsonable
from integration.mapping.engine import MappingEngine
from integration.mapping.preview import preview_order, read_bundle_from_file, render_text

from .test_mapping_support import MAPPINGS_DIR, erp_items, make_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mapping"
ORDER_5 = FIXTURES / "ps" / "orders" / "5.xml"


@pytest.fixture(scope="module")
def engine() -> MappingEngine:
    return MappingEngine.load(MAPPINGS_DIR)


def _golden(name: str, actual: Any) -> None:
    path = FIXTURES / "golden" / name
    text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("PSINFOR_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"{name} differs from the golden file"


def test_real_prestashop_order_from_saved_xml(engine):
    bundle = read_bundle_from_file(ORDER_5)
    result = preview_order(engine, bundle)
    _golden("order_5_from_xml.json", result)
    assert result["validation"] == []
    head = result["infor"][0]["record"]
    assert head["CUOR"] == "KHWLILZLL-5" and head["ORDT"] == "20190130" and head["CUCD"] == "EUR"
    # Every call the load would make, the missing customer's creation and Confirm included.
    steps = [f"{c['program']}/{c['transaction']}" for c in result["load"]]
    assert steps == ["CRS610MI/GetBasicData", "CRS610MI/Add", "OIS100MI/LstHead", "OIS100MI/LstBatchHead",
                     "OIS100MI/AddBatchHead", "OIS100MI/AddBatchAddress", *["OIS100MI/AddBatchLine"] * 3,
                     "OIS100MI/AddBatchHeadChg", "OIS100MI/Confirm", "OIS275MI/GetTmpOrderStat",
                     "OIS100MI/LstErrMsgOrder"]
    assert result["load"][10]["record"] == {"ORNO": "<temporary ORNO>"}
    text = render_text(result)
    assert "CRS610MI/Add" in text and "OIS100MI/Confirm: ORNO=<temporary ORNO>" in text
    lines = [c["record"] for c in result["infor"] if c["transaction"] == "AddBatchLine"]
    assert [line["SAPR"] for line in lines] == ["16.51", "27.00", "26.00"]
    assert result["infor"][-1] == {"program": "OIS100MI", "transaction": "AddBatchHeadChg",
                                   "record": {"CRID": "FRT", "CRAM": "2.00", "CUCD": "EUR"}}
    # 16.51 + 27 + 26 + 2.00 shipping = 71.51, as the order says.
    checks = {c["name"]: c for c in result["canonical"]["reconciliation"]}
    assert checks["paid_tax_incl"]["expected"] == "71.51" and checks["paid_tax_incl"]["difference"] == "0.00"


def test_the_json_form_of_the_real_bundle_maps_identically(engine):
    bundle = read_bundle_from_file(ORDER_5)
    assert preview_order(engine, to_jsonable(bundle)) == preview_order(engine, bundle)


def test_seeded_dollar_order_with_a_business_customer(engine):
    bundle = make_bundle(7, [(7, 0, 1), (3, 0, 5), (5, 0, 3)], currency_id=2, discount_tax_excl=Decimal("4.00"),
                         delivery_address_index=1)
    result = preview_order(engine, to_jsonable(bundle), known_item=erp_items().__contains__)
    _golden("seeded_order_usd_b2b.json", result)
    assert result["validation"] == []
    assert result["canonical"]["enrichment"]["cost_centre"] == "B2B"


def test_an_item_number_longer_than_m3_takes_is_refused_before_m3_would(engine):
    bundle = make_bundle(1, [(2, 7, 1)])
    bundle["order"]["associations"]["order_rows"][0]["product_reference"] = "HOODIE-ZIP-NAVY-XL"  # 18 > 15
    result = preview_order(engine, bundle)
    assert [(f["field"], f["rule"]) for f in result["validation"]] == [("ITNO", "max_length")]


def test_with_the_item_master_at_hand_a_shop_only_product_is_a_mapping_error(engine):
    bundle = make_bundle(1, [(3, 0, 1), (10, 0, 1)])
    result = preview_order(engine, bundle, known_item=erp_items().__contains__)
    assert [f["rule"] for f in result["validation"]] == ["mapping"]
    assert "LEGACY-LAMP" in result["validation"][0]["message"]


def test_preview_cli_prints_the_contracted_json(tmp_path):
    result = CliRunner().invoke(main, ["map", "preview", "order", str(ORDER_5), "--json",
                                       "--mappings", str(MAPPINGS_DIR)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"canonical", "infor", "validation"} <= set(data)
    assert all(set(c) == {"program", "transaction", "record"} for c in data["infor"])
    assert data["canonical"]["customer_order_number"] == "KHWLILZLL-5"


def test_preview_cli_text_and_usage_errors():
    runner = CliRunner()
    text = runner.invoke(main, ["map", "preview", "order", str(ORDER_5), "--mappings", str(MAPPINGS_DIR)])
    assert text.exit_code == 0 and "Validation: OK" in text.output and "OIS100MI/AddBatchLine" in text.output
    neither = runner.invoke(main, ["map", "preview", "order"])
    assert neither.exit_code == 2 and "either FILE or --ps-order" in neither.output


def test_map_check_reports_a_bad_file(tmp_path):
    import shutil

    shutil.copytree(MAPPINGS_DIR, tmp_path / "m")
    (tmp_path / "m" / "variants.yaml").write_text("order: [sku]\n")
    result = CliRunner().invoke(main, ["map", "check", "--mappings", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "variants.yaml: order.0" in result.output


def test_preview_shows_a_mapping_error_as_a_result(engine):
    bundle = read_bundle_from_file(ORDER_5)
    bundle["currency"] = dict(bundle["currency"], iso_code="ZZZ")
    result = preview_order(engine, bundle)
    assert result["canonical"] is None and result["validation"][0]["rule"] == "mapping"
    assert "ZZZ" in result["validation"][0]["message"]


def test_preview_reads_an_order_from_the_configured_shop(monkeypatch):
    """--ps-order against the PrestaShop sandbox (in-process HTTP): reads only, shows the order."""
    sandbox = pytest.importorskip("psinfor_devkit.sandbox.prestashop")
    import requests

    key = "PREVIEWKEY" + "0" * 22
    server = sandbox.start_prestashop_sandbox(port=0, key=key)
    try:
        root = server.url.rstrip("/")
        created = requests.post(f"{root}/_sandbox/orders", timeout=10, json={
            "count": 1, "customer_id": 2, "send_webhook": False,
            "lines": [{"product_id": 3, "combination_id": 0, "quantity": 2}]})
        (order_id,) = created.json()["orders"]
        monkeypatch.delenv("PSINFOR_CONFIG", raising=False)
        monkeypatch.setenv("PS_URL", f"{root}/api")
        monkeypatch.setenv("PS_KEY", key)
        result = CliRunner().invoke(main, ["map", "preview", "order", "--ps-order", str(order_id), "--json",
                                           "--mappings", str(MAPPINGS_DIR)])
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["canonical"]["ps_order_id"] == order_id
    assert data["canonical"]["customer"]["ps_customer_id"] == 2
    lines = [c["record"] for c in data["infor"] if c["transaction"] == "AddBatchLine"]
    assert lines == [{"ITNO": "MUG-CERAMIC-350", "ORQT": "2", "WHLO": "100", "SAPR": "9.50"}]
    assert data["validation"] == []
