"""Infor → canonical: M3's all-string records become typed canonical entities, by mappings/inbound.yaml."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from integration.canonical import ItemSchema, StockLevelSchema
from integration.errors import ValidationFailed
from integration.mapping.engine import MappingEngine

from .test_mapping_support import MAPPINGS_DIR


@pytest.fixture(scope="module")
def engine() -> MappingEngine:
    return MappingEngine.load(MAPPINGS_DIR)


def test_item_from_mms200mi(engine):
    item = engine.infor_item_to_canonical({"ITNO": "MUG-CERAMIC-350 ", "ITDS": "Ceramic mug 350 ml", "FUDS": "",
                                           "STAT": "20", "UNMS": "PCS", "ITGR": "HOME", "GRWE": "  0.400",
                                           "LMDT": "20261120", "CHNO": "3"})
    assert item.item_number == "MUG-CERAMIC-350" and item.weight == Decimal("0.400")
    assert item.changed_at is not None and item.changed_at.date() == date(2026, 11, 20)
    assert item.changed_at.utcoffset() is not None
    assert engine.item_is_sellable(item)
    assert ItemSchema().load(ItemSchema().dump(item)) == item


def test_stock_level_with_what_m3_does_not_know(engine):
    as_of = datetime.fromisoformat("2026-11-27T01:00:00+01:00")
    level = engine.infor_stock_to_canonical({"ITNO": "MUG-CERAMIC-350", "WHLO": "100", "AV01": "298",
                                             "AV02": "300"}, as_of=as_of, ps_product_id=3, ps_combination_id=0)
    assert (level.quantity, level.warehouse, level.ps_product_id) == (Decimal(298), "100", 3)
    assert StockLevelSchema().load(StockLevelSchema().dump(level)) == level


def test_a_number_that_is_not_one_names_the_m3_field(engine):
    with pytest.raises(ValidationFailed) as info:
        engine.infor_stock_to_canonical({"ITNO": "MUG", "WHLO": "100", "AV01": "12,5"})
    (failure,) = info.value.failures
    assert (failure["field"], failure["rule"], failure["value"]) == ("AV01", "type", "12,5")


def test_missing_required_value(engine):
    with pytest.raises(ValidationFailed) as info:
        engine.infor_stock_to_canonical({"ITNO": "MUG", "WHLO": "100"})
    assert info.value.failures[0]["field"] == "AV01" and info.value.failures[0]["rule"] == "required"


def test_shipment_and_invoice(engine):
    shipment = engine.infor_shipment_to_canonical({"RIDN": "1000123", "DLIX": "5001", "ETRN": "1Z999AA1",
                                                   "FWNO": "UPS", "DSDT": "20261127", "CUOR": "XKBKNABJK-5"},
                                                  ps_order_id=5)
    assert shipment.tracking_number == "1Z999AA1" and shipment.ps_order_id == 5
    assert shipment.shipped_at is not None and shipment.shipped_at.day == 27
    invoice = engine.infor_invoice_to_canonical({"IVNO": "7001", "ORNO": "1000123", "CUCD": "EUR",
                                                 "IVAV": "118.80", "IVDT": "20261128", "DUDT": "0", "RAFC": "0"})
    assert invoice.amount_tax_incl == Decimal("118.80") and invoice.due_date is None
    assert invoice.invoice_date == date(2026, 11, 28) and invoice.remaining == Decimal(0)
