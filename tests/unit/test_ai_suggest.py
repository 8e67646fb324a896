"""Mapping suggestions: ranking, the JSON document, no leakage of the target's own mapping, the item direction."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.ai import provenance
from integration.ai import suggest as sg
from integration.connectors.prestashop.bundles import read_order_bundle
from integration.mapping.cli import map_group
from integration.mapping.loader import load_mappings

ROOT = Path(__file__).resolve().parents[2]
ORDER_XML = ROOT / "tests" / "fixtures" / "mapping" / "ps" / "orders" / "5.xml"


@pytest.fixture(scope="module")
def config():
    return load_mappings(ROOT / "mappings")


@pytest.fixture(scope="module")
def bundle():
    return read_order_bundle(ORDER_XML)


def _top(result, field, n=3):
    entry = next(s for s in result["suggestions"] if s["field"] == field)
    return [c["source"] for c in entry["candidates"][:n]]


def test_document_shape_and_ranking(config, bundle):
    result = sg.suggest("OIS100MI", "AddBatchHead", config=config, bundle=bundle)
    assert result["target"] == "OIS100MI/AddBatchHead"
    cuno = next(s for s in result["suggestions"] if s["field"] == "CUNO")
    assert cuno["required"] is True
    first = cuno["candidates"][0]
    assert set(first) == {"source", "score", "transform", "why"}
    assert first["source"] == "customer.id" and first["transform"] == "format(PS{id:07d})"
    scores = [c["score"] for c in cuno["candidates"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert "order.reference" in _top(result, "OREF")
    assert _top(result, "CUCD", 1) == ["currency.iso_code"]
    assert _top(result, "ORDT", 1) == ["order.date_add"]
    date = next(s for s in result["suggestions"] if s["field"] == "ORDT")["candidates"][0]
    assert date["transform"] == "date"
    json.dumps(result)  # JSON-able


def test_line_and_address_transactions(config, bundle):
    line = sg.suggest("OIS100MI", "AddBatchLine", config=config, bundle=bundle)
    assert _top(line, "ITNO", 1) == ["order_rows[].product_reference"]
    assert _top(line, "ORQT", 1) == ["order_rows[].product_quantity"]
    address = sg.suggest("CRS610MI", "AddAddress", config=None, bundle=bundle)  # no existing mappings at all
    assert _top(address, "TOWN", 1)[0].endswith(".city")
    assert _top(address, "PONO", 1)[0].endswith(".postcode")
    assert _top(address, "CSCD", 1)[0].startswith("country_") and _top(address, "CSCD", 1)[0].endswith("iso_code")


def test_truncation_is_proposed_for_long_text(config, bundle):
    problem = sg.build_problem("OIS100MI", "AddBatchLine", config=config, bundle=bundle)
    itds = next(t for t in problem.targets if t.name == "ITDS")
    name = next(c for c in problem.candidates if c.name == "order_rows[].product_name")
    assert sg.transform_for(problem, itds, name) == "truncate(30)"


def test_the_target_transactions_own_mapping_is_never_read(tmp_path, config, bundle):
    """Rewriting AddBatchHead's own field map changes nothing in its suggestions (leave-one-transaction-out)."""
    copy = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", copy)
    orders = copy / "orders.yaml"
    text = orders.read_text("utf-8").replace("CUOR: {from: order.customer_order_number}",
                                             "CUOR: {from: order.gift_message, too_long: truncate}")
    orders.write_text(text, "utf-8")
    changed = load_mappings(copy)
    assert sg.suggest("OIS100MI", "AddBatchHead", config=changed, bundle=bundle) == \
        sg.suggest("OIS100MI", "AddBatchHead", config=config, bundle=bundle)
    # ...while another transaction does see it as evidence
    fields = provenance.mapped_sources(changed, exclude=[("OIS100MI", "AddBatchLine")])
    assert any(m.field == "CUOR" and "order.gift_message" in m.sources for m in fields)


def test_mapping_evidence_is_in_bundle_terms(config):
    mapped = provenance.mapped_sources(config)
    town = {s for m in mapped if m.field == "TOWN" for s in m.sources}
    assert {"address_delivery.city", "address_invoice.city"} <= town
    assert provenance.bundle_sources_of("enrichment.warehouse") == ()


def test_item_direction(config):
    record = {"ITNO": "TS-ORANGE-S", "ITDS": "Faded short sleeve T-shirt", "FUDS": "Faded cotton T-shirt, orange",
              "GRWE": "0.200", "LMDT": "20240131", "STAT": "20", "UNMS": "PCS"}
    result = sg.suggest("MMS200MI", "Get", config=config, m3_record=record)
    assert result["direction"] == "infor_to_prestashop"
    assert _top(result, "product.name", 1) == ["ITDS"]
    assert _top(result, "product.reference", 1) == ["ITNO"]
    assert "GRWE" in _top(result, "product.weight")
    assert _top(result, "product.date_upd", 1) == ["LMDT"]


def test_signals_in_isolation():
    assert sg.concept_score(frozenset({"CITY"}), frozenset({"CITY"})) == 1.0
    assert sg.concept_score(frozenset({"CITY"}), frozenset({"POSTCODE"})) == 0.0
    # the part counts half: "customer.id" for "Customer number" beats an unrelated id
    both = sg.concept_score(frozenset({"CUSTOMER", "NUMBER"}), frozenset({"NUMBER"}), frozenset({"CUSTOMER"}))
    one = sg.concept_score(frozenset({"CUSTOMER", "NUMBER"}), frozenset({"NUMBER"}), frozenset({"CARRIER"}))
    assert both > one > 0
    assert sg.fuzzy_score("our referens", "reference") > 0.6


def test_fit_weights_learns_a_toy_problem():
    examples = [([1.0, 0, 0, 0, 0, 0, 1.0], 1), ([0.0, 0, 0, 0, 0, 0, 1.0], 0)] * 200
    weights = sg.fit_weights(examples)
    assert sg.score(weights, [1.0, 0, 0, 0, 0, 0, 1.0]) > 0.9 > 0.1 > sg.score(weights, [0.0, 0, 0, 0, 0, 0, 1.0])


def test_cli_suggest_json():
    result = CliRunner().invoke(map_group, ["suggest", "--target", "OIS100MI/AddBatchHeadChg", "--sample",
                                            str(ORDER_XML), "--mappings", str(ROOT / "mappings"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["target"] == "OIS100MI/AddBatchHeadChg"
    assert _top(data, "CUCD", 1) == ["currency.iso_code"]
    unknown = CliRunner().invoke(map_group, ["suggest", "--target", "OIS100MI/Nope", "--mappings",
                                             str(ROOT / "mappings")])
    assert unknown.exit_code == 1
