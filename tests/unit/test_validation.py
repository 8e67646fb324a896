"""Validation rules and anomaly detection on canonical orders and their M3 calls."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integration.errors import HeldForReview, ValidationFailed
from integration.mapping.engine import MappingEngine
from integration.validation.rules import ValidationFailure, check_calls, raise_if_failed

from .test_mapping_support import MAPPINGS_DIR, erp_items, make_bundle


@pytest.fixture(scope="module")
def engine() -> MappingEngine:
    return MappingEngine.load(MAPPINGS_DIR)


def test_calls_are_checked_against_m3_lengths_required_fields_and_types():
    failures = check_calls([
        {"program": "OIS100MI", "transaction": "AddBatchHead", "record": {"CUOR": "X" * 21}},
        {"program": "OIS100MI", "transaction": "AddBatchLine", "record": {"ITNO": "MUG", "ORQT": 2, "XXXX": "1"}},
        {"program": "OIS100MI", "transaction": "Explode", "record": {}},
    ])
    found = {(f.record, f.field, f.rule) for f in failures}
    assert found == {
        ("OIS100MI/AddBatchHead #1", "CUOR", "max_length"),
        ("OIS100MI/AddBatchHead #1", "CUNO", "required"),
        ("OIS100MI/AddBatchLine #1", "ORQT", "type"),
        ("OIS100MI/AddBatchLine #1", "XXXX", "known_field"),
        ("OIS100MI/Explode #1", "transaction", "known_transaction"),
    }


def test_orno_is_never_required_of_the_mapping():
    assert check_calls([{"program": "OIS100MI", "transaction": "AddBatchLine", "record": {"ITNO": "MUG"}}]) == []


def test_failures_become_a_permanent_validation_error_listing_them_all():
    failures = [ValidationFailure("order 5 line 1", "quantity", "quantity_positive", "order 5 line 1: quantity 0", 0),
                ValidationFailure("order 5", "customer", "customer_not_blocked", "order 5: blocked", 1)]
    with pytest.raises(ValidationFailed) as info:
        raise_if_failed(failures, "order 5")
    assert len(info.value.failures) == 2 and info.value.failures[0]["field"] == "quantity"
    assert "(and 1 more)" in info.value.message
    raise_if_failed([], "order 5")


def test_quantity_over_the_configured_maximum(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(6, 0, 1500)], shipping_tax_excl=Decimal(0)))
    failures = engine.validate_order(order, engine.order_to_infor(order, cuno="PS0000001"),
                                     known_item=erp_items().__contains__)
    assert [(f.record, f.rule) for f in failures] == [("order 5 line 1", "max_quantity")]


def test_an_address_that_does_not_fit_four_lines_is_refused_not_truncated(engine):
    bundle = make_bundle(1, [(3, 0, 1)])
    for key in ("address_delivery", "address_invoice"):
        bundle[key]["address1"] = " ".join(["Résidence des Très Longues Allées Fleuries"] * 4)
    order = engine.ps_order_to_canonical(bundle)
    failures = engine.validate_order(order, engine.order_to_infor(order, cuno="PS0000001"))
    assert {(f.field, f.rule) for f in failures} == {("delivery_address.street", "fits_m3"),
                                                     ("invoice_address.street", "fits_m3")}


def test_blocked_customer_list_in_the_mapping(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 1)]))
    from dataclasses import replace

    blocked = MappingEngine(replace(engine.config, validation=replace(
        engine.config.validation, blocked_customers=frozenset({"PS0000001"}))))
    failures = blocked.validate_order(order, blocked.order_to_infor(order, cuno="PS0000001"), cuno="PS0000001")
    assert [f.rule for f in failures] == ["customer_not_blocked"]


def test_anomalies_hold_an_unusual_order(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 250)]))
    rules = {a.rule for a in engine.anomalies(order, usual_quantity=Decimal(2))}
    assert rules == {"line_quantity_above_limit", "line_quantity_unusual"}
    with pytest.raises(HeldForReview) as info:
        engine.check_anomalies(order)
    assert info.value.details["anomalies"][0]["field"] == "quantity"


def test_an_ordinary_order_is_not_held(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 2)]))
    assert engine.anomalies(order, usual_quantity=Decimal(2), usual_amount=Decimal(30)) == []
    engine.check_anomalies(order)


def test_amount_far_above_the_usual_and_country_mismatch():
    from integration.validation.anomalies import detect_anomalies

    engine = MappingEngine.load(MAPPINGS_DIR)
    bundle = make_bundle(7, [(7, 0, 10)])
    bundle["address_delivery"]["id_country"] = 1
    bundle["country_delivery"] = {"id": 1, "iso_code": "DE"}
    order = engine.ps_order_to_canonical(bundle)
    found = detect_anomalies(order, amount_factor=Decimal(10), usual_amount=Decimal(50), countries_must_match=True)
    assert {a.rule for a in found} == {"order_amount_unusual", "countries_differ"}
