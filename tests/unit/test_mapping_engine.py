"""The mapping engine on order bundles shaped as the PrestaShop connector returns them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from integration.canonical import OrderSchema
from integration.errors import MappingError, ValidationFailed
from integration.jsonutil import dumps, to_jsonable
from integration.mapping import m3fields
from integration.mapping.engine import MappingEngine
from psinfor_devkit.sandbox import catalogue

from .test_mapping_support import MAPPINGS_DIR, customer_record, erp_items, make_bundle


@pytest.fixture(scope="module")
def engine() -> MappingEngine:
    return MappingEngine.load(MAPPINGS_DIR)


def _calls(calls, transaction):
    return [c["record"] for c in calls if c["transaction"] == transaction]


def test_typed_and_json_bundles_map_to_the_same_order(engine):
    bundle = make_bundle(1, [(3, 0, 2), (5, 0, 3)])
    typed = engine.ps_order_to_canonical(bundle)
    from_json = engine.ps_order_to_canonical(json.loads(dumps(bundle)))
    assert typed == from_json


def test_canonical_order_round_trips_through_its_schema_as_json(engine):
    order = engine.ps_order_to_canonical(make_bundle(4, [(7, 0, 1)], currency_id=2))
    data = json.loads(json.dumps(OrderSchema().dump(order)))
    assert OrderSchema().load(data) == order
    assert data["lines"][0]["erp_unit_price"] == str(order.lines[0].erp_unit_price)


def test_order_becomes_head_address_and_lines_without_orno(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 2), (1, 2, 1)]))
    calls = engine.order_to_infor(order, cuno=engine.cuno_for(1))
    assert [c["transaction"] for c in calls] == ["AddBatchHead", "AddBatchAddress", "AddBatchLine", "AddBatchLine",
                                                 "AddBatchHeadChg"]
    assert all(c["program"] == "OIS100MI" for c in calls)
    assert all("ORNO" not in c["record"] for c in calls)
    assert all(isinstance(v, str) for c in calls for v in c["record"].values())
    head = calls[0]["record"]
    assert head["CUNO"] == "PS0000001"
    assert head["CUOR"] == "XKBKNABJK-5"
    assert head["ORTP"] == "WEB" and head["FACI"] == "A01" and head["WHLO"] == "100"
    assert head["ORDT"] == "20261126" and head["CUCD"] == "EUR"
    lines = _calls(calls, "AddBatchLine")
    assert lines[0] == {"ITNO": "MUG-CERAMIC-350", "ORQT": "2", "WHLO": "100", "SAPR": "9.50"}
    assert _calls(calls, "AddBatchHeadChg") == [{"CRID": "FRT", "CRAM": "5.00", "CUCD": "EUR"}]
    assert lines[1]["ITNO"] == "TS-CLS-WHT-M"


def test_zero_charges_are_not_sent(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 2)], shipping_tax_excl=Decimal(0)))
    assert _calls(engine.order_to_infor(order, cuno="PS0000001"), "AddBatchHeadChg") == []


def test_order_date_is_the_shop_local_day(engine):
    bundle = make_bundle(1)
    order = engine.ps_order_to_canonical(to_jsonable(bundle))
    # 23:30 in Paris is 22:30 UTC the same day; the M3 date is the shop's day.
    assert order.order_date.utcoffset() is not None
    assert engine.order_to_infor(order, cuno="PS0000001")[0]["record"]["ORDT"] == "20261126"


def test_addresses_are_standardised_for_m3(engine):
    order = engine.ps_order_to_canonical(make_bundle(4, [(3, 0, 1)]))
    address = _calls(engine.order_to_infor(order, cuno="PS0000004"), "AddBatchAddress")
    assert len(address) == 1  # same delivery and invoice address: sent once
    record = address[0]
    assert record["CSCD"] == "US" and record["ECAR"] == "CA"
    assert record["PHN2"] == "+16502530000"
    assert record["CUA1"] == "1600 Amphitheatre Parkway Building"
    assert record["CUA2"] == "40, Suite 1200"
    assert all(len(record[f]) <= 36 for f in ("CUA1", "CUA2"))


def test_a_different_invoice_address_is_sent_with_its_own_type(engine):
    order = engine.ps_order_to_canonical(make_bundle(7, [(3, 0, 1)]))
    addresses = _calls(engine.order_to_infor(order, cuno="PS0000007"), "AddBatchAddress")
    assert [a["ADRT"] for a in addresses] == ["1", "3"]
    assert addresses[0]["TOWN"] == "Bordeaux" and addresses[1]["TOWN"] == "Mérignac"
    assert addresses[1]["VRNO"] == "FR40303265045"


def test_foreign_currency_is_converted_and_the_difference_reported(engine):
    order = engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 3), (6, 0, 7), (1, 4, 1)], currency_id=2))
    assert order.currency == "USD" and order.erp_currency == "EUR"
    assert order.erp_rate == Decimal("1.085000") and order.rate_source == "prestashop"
    mug = order.lines[0]
    assert mug.unit_price_tax_excl == Decimal("10.310000")  # 9.50 EUR at 1.085, as the shop priced it
    assert mug.erp_unit_price == Decimal("9.50")
    checks = {c.name: c for c in order.reconciliation}
    assert set(checks) >= {"products_tax_excl", "paid_tax_incl", "erp_products_tax_excl", "erp_paid_tax_excl"}
    erp = checks["erp_products_tax_excl"]
    assert erp.difference == erp.computed - erp.expected  # reported as is, whatever it is
    assert erp.computed == sum(line.erp_total for line in order.lines)


def test_unknown_item_is_a_validation_failure_naming_the_line(engine):
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 1), (10, 0, 1)]))
    calls = engine.order_to_infor(order, cuno="PS0000001")
    failures = engine.validate_order(order, calls, known_item=erp_items().__contains__)
    known = [f for f in failures if f.rule == "known_item"]
    assert len(known) == 1
    assert known[0].record == "order 5 line 2" and known[0].field == "item_number"
    assert "LEGACY-LAMP" in known[0].message


def test_a_valid_order_has_no_failures(engine):
    order = engine.ps_order_to_canonical(make_bundle(2, [(3, 0, 2), (5, 0, 4)]))
    calls = engine.order_to_infor(order, cuno=engine.cuno_for(2))
    assert engine.validate_order(order, calls, known_item=erp_items().__contains__) == []


def test_a_string_where_a_number_is_expected_names_field_and_value(engine):
    bundle = make_bundle(1, [(3, 0, 2)])
    bundle["order"]["associations"]["order_rows"][0]["product_quantity"] = "two"
    with pytest.raises(ValidationFailed) as info:
        engine.ps_order_to_canonical(bundle)
    failure = info.value.failures[0]
    assert failure["field"] == "product_quantity" and failure["value"] == "two" and failure["rule"] == "type"
    assert failure["record"] == "order 5 row 1"


def test_unresolvable_variant_is_a_mapping_error_with_a_resolution(engine):
    bundle = make_bundle(1, [(3, 0, 2)])
    row = bundle["order"]["associations"]["order_rows"][0]
    row["product_reference"] = ""
    row["product_ean13"] = ""
    with pytest.raises(MappingError) as info:
        engine.ps_order_to_canonical(bundle)
    assert "variants.yaml" in (info.value.resolution or "")


def test_blocked_customer_fails_validation(engine):
    bundle = make_bundle(1, [(3, 0, 1)])
    bundle["customer"] = customer_record(catalogue.CUSTOMERS[0], active=False)
    order = engine.ps_order_to_canonical(bundle)
    failures = engine.validate_order(order, engine.order_to_infor(order, cuno="PS0000001"))
    assert [f.rule for f in failures] == ["customer_not_blocked"]


def test_zero_quantity_and_inconsistent_totals_fail(engine):
    bundle = make_bundle(1, [(3, 0, 2)])
    bundle["order"]["associations"]["order_rows"][0]["product_quantity"] = 0
    order = engine.ps_order_to_canonical(bundle)
    failures = engine.validate_order(order, engine.order_to_infor(order, cuno="PS0000001"))
    rules = {f.rule for f in failures}
    assert "quantity_positive" in rules and "totals_consistent" in rules


def test_cuno_is_deterministic_and_fits_m3(engine):
    assert engine.cuno_for(1) == engine.cuno_for(1) == "PS0000001"
    assert len(engine.cuno_for(9_999_999)) <= 10


def test_customer_becomes_crs610_add_with_template(engine):
    bundle = make_bundle(2)
    customer = engine.ps_customer_to_canonical(bundle["customer"], bundle["address_invoice"],
                                               country=bundle["country_invoice"])
    calls = engine.customer_to_infor(customer, cuno=engine.cuno_for(2))
    assert [c["transaction"] for c in calls] == ["Add", "ChgFinancial"]
    add = calls[0]["record"]
    assert add["CUTM"] == "WEBTMPL" and add["CUNO"] == "PS0000002"
    assert add["CUNM"] == "Müller Werkzeuge GmbH" and add["YREF"] == "Jonas Müller"
    assert add["CUA1"] == "Königsallee 27" and add["PONO"] == "40212" and add["TOWN"] == "Düsseldorf"
    assert add["CSCD"] == "DE" and add["PHNO"] == "+492111234567" and add["MAIL"] == "jonas.mueller@example.de"
    assert calls[1]["record"] == {"CUNO": "PS0000002", "VRNO": "DE123456789"}
    assert engine.validate_customer(customer, calls) == []
    lengths = m3fields.field_lengths("CRS610MI", "Add")
    assert all(len(v) <= (lengths[k] or 99) for k, v in add.items())


def test_customer_without_vat_number_gets_no_financial_call(engine):
    bundle = make_bundle(1)
    customer = engine.ps_customer_to_canonical(bundle["customer"], bundle["address_invoice"],
                                               country=bundle["country_invoice"])
    assert [c["transaction"] for c in engine.customer_to_infor(customer, cuno="PS0000001")] == ["Add"]


def test_enrichment_rules_fill_infor_only_fields(engine):
    b2b = engine.ps_order_to_canonical(make_bundle(7, [(3, 0, 1)]))
    assert b2b.enrichment["cost_centre"] == "B2B" and "business customers" in b2b.enrichment_rules
    us = engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 1)]))
    assert us.enrichment["delivery_terms"] == "DAP"
    assert engine.order_to_infor(us, cuno="PS0000008")[0]["record"]["TEDL"] == "DAP"


def test_ownership_keeps_updates_off_the_masters_fields(engine):
    assert engine.owner_of("customer", "email") == "prestashop"
    assert engine.owner_of("customer", "infor_customer_number") == "infor"
    changes = {"email": "x@example.com", "infor_customer_number": "PS0000001"}
    assert engine.fields_to_write("customer", changes, target="infor") == {"email": "x@example.com"}
    assert engine.fields_to_write("customer", changes, target="prestashop") == {"infor_customer_number": "PS0000001"}


def test_a_postcode_off_the_countrys_format_and_a_bad_phone_are_noted(engine):
    bundle = make_bundle(1, [(3, 0, 1)])
    bundle["address_delivery"] = dict(bundle["address_delivery"], postcode="6900", phone="n/a", id=99)
    order = engine.ps_order_to_canonical(bundle)
    assert any("postcode '6900'" in n for n in order.notes)
    assert any("phone 'n/a'" in n for n in order.notes)
    assert order.delivery_address.phone is None and order.delivery_address.phone_raw == "n/a"


def test_raw_webservice_strings_are_read_too(engine):
    """Records as the XML has them (every value a string) map like the typed ones."""
    bundle = make_bundle(1, [(3, 0, 2)])

    def as_strings(value):
        if isinstance(value, dict):
            return {k: as_strings(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_strings(v) for v in value]
        if isinstance(value, bool):
            return "1" if value else "0"
        if value is None:
            return ""
        return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)

    assert engine.ps_order_to_canonical(as_strings(bundle)) == engine.ps_order_to_canonical(bundle)


def test_a_customer_update_sends_only_what_changed_and_prestashop_owns(engine):
    bundle = make_bundle(2)
    customer = engine.ps_customer_to_canonical(bundle["customer"], bundle["address_invoice"],
                                               country=bundle["country_invoice"])
    (call,) = engine.customer_update_to_infor(customer, cuno="PS0000002", changed={"email"})
    assert call["transaction"] == "ChgBasicData"
    assert call["record"] == {"CUNO": "PS0000002", "MAIL": "jonas.mueller@example.de"}
    (moved,) = engine.customer_update_to_infor(customer, cuno="PS0000002", changed={"address"})
    # the postal part of an address is M3's (ownership.yaml): only the phone, which the shop owns, goes
    assert set(moved["record"]) == {"CUNO", "PHNO"}
    assert engine.customer_update_to_infor(customer, cuno="PS0000002", changed={"infor_customer_number"}) == []


def test_fields_infor_owns_are_never_sent_on_update(engine, tmp_path):
    import shutil

    shutil.copytree(MAPPINGS_DIR, tmp_path / "m")
    ownership = tmp_path / "m" / "ownership.yaml"
    ownership.write_text(ownership.read_text().replace("    infor_customer_number: infor\n",
                                                       "    infor_customer_number: infor\n    email: infor\n"))
    infor_owns_email = MappingEngine.load(tmp_path / "m")
    bundle = make_bundle(2)
    customer = infor_owns_email.ps_customer_to_canonical(bundle["customer"], bundle["address_invoice"],
                                                         country=bundle["country_invoice"])
    (call,) = infor_owns_email.customer_update_to_infor(customer, cuno="PS0000002")
    assert "MAIL" not in call["record"] and call["record"]["CUNM"] == "Müller Werkzeuge GmbH"
