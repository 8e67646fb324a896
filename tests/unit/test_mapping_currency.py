"""Currency handling in the engine: rate sources, the ERP currency, the price basis, transliteration."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from integration.errors import MappingError
from integration.mapping.engine import MappingEngine

from .test_mapping_support import MAPPINGS_DIR, make_bundle


def _line(calls):
    return [c["record"] for c in calls if c["transaction"] == "AddBatchLine"][-1]


def _engine(tmp_path: Path, file: str, old: str, new: str) -> MappingEngine:
    target = tmp_path / "mappings"
    if not target.exists():
        shutil.copytree(MAPPINGS_DIR, target)
    text = (target / file).read_text()
    assert old in text
    (target / file).write_text(text.replace(old, new, 1))
    return MappingEngine.load(target)


def test_fixed_rates_convert_with_the_configured_table(tmp_path):
    engine = _engine(tmp_path, "currencies.yaml", "rate_source: prestashop\nfixed_rates: {}",
                     'rate_source: fixed\nfixed_rates: {USD: "1.100000"}')
    order = engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 1)], currency_id=2))
    assert order.rate_source == "fixed" and order.erp_rate == Decimal("1.100000")
    assert order.lines[0].erp_unit_price == Decimal("9.37")  # 10.31 USD / 1.1


def test_a_currency_missing_from_the_fixed_table_is_a_mapping_error(tmp_path):
    engine = _engine(tmp_path, "currencies.yaml", "rate_source: prestashop", "rate_source: fixed")
    with pytest.raises(MappingError) as info:
        engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 1)], currency_id=3))
    assert "GBP" in info.value.message and "fixed_rates" in (info.value.resolution or "")


def test_infor_rates_come_from_the_caller(tmp_path):
    engine = _engine(tmp_path, "currencies.yaml", "rate_source: prestashop", "rate_source: infor")
    order = engine.ps_order_to_canonical(make_bundle(5, [(3, 0, 1)], currency_id=3),
                                         rates={"GBP": Decimal("0.850000")})
    assert order.rate_source == "infor" and order.erp_currency == "EUR"
    with pytest.raises(MappingError):
        engine.ps_order_to_canonical(make_bundle(5, [(3, 0, 1)], currency_id=3))


def test_orders_can_be_sent_in_their_own_currency(tmp_path):
    engine = _engine(tmp_path, "currencies.yaml", "erp_currency: EUR", "erp_currency: order")
    order = engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 2)], currency_id=2))
    assert order.erp_currency == "USD" and order.erp_rate == 1 and order.rate_source == "identity"
    calls = engine.order_to_infor(order, cuno="PS0000008")
    assert calls[0]["record"]["CUCD"] == "USD"
    assert _line(calls)["SAPR"] == "10.31"
    assert all(c.difference == 0 for c in order.reconciliation)


def test_tax_included_prices(tmp_path):
    engine = _engine(tmp_path, "orders.yaml", "basis: tax_excl", "basis: tax_incl")
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 2)]))
    assert order.lines[0].erp_unit_price == Decimal("11.40")  # 9.50 + 20 %
    assert {c.name for c in order.reconciliation} >= {"erp_products_tax_incl", "erp_paid_tax_incl"}
    calls = engine.order_to_infor(order, cuno="PS0000001")
    assert _line(calls)["SAPR"] == "11.40"
    assert calls[-1]["transaction"] == "AddBatchHeadChg" and calls[-1]["record"]["CRAM"] == "6.00"  # 5.00 + 20 %


def test_prices_can_be_left_to_m3(tmp_path):
    engine = _engine(tmp_path, "orders.yaml", "send: true", "send: false")
    order = engine.ps_order_to_canonical(make_bundle(1, [(3, 0, 2)]))
    assert "SAPR" not in _line(engine.order_to_infor(order, cuno="PS0000001"))


def test_transliteration_for_tenants_without_unicode(tmp_path):
    engine = _engine(tmp_path, "addresses.yaml", "transliterate: false", "transliterate: true")
    order = engine.ps_order_to_canonical(make_bundle(2, [(3, 0, 1)]))
    address = engine.order_to_infor(order, cuno="PS0000002")[1]["record"]
    assert address["CUNM"] == "Muller Werkzeuge GmbH" and address["CUA1"] == "Konigsallee 27"
    assert address["TOWN"] == "Dusseldorf"
    assert order.delivery_address.city == "Düsseldorf"  # the canonical record keeps the real name


def test_jpy_prices_have_no_minor_unit(tmp_path):
    engine = _engine(tmp_path, "currencies.yaml", "rate_source: prestashop\nfixed_rates: {}",
                     'rate_source: fixed\nfixed_rates: {USD: "0.0067"}')
    engine = _engine(tmp_path, "currencies.yaml", "erp_currency: EUR", "erp_currency: JPY")
    order = engine.ps_order_to_canonical(make_bundle(8, [(3, 0, 1)], currency_id=2))
    assert order.lines[0].erp_unit_price == Decimal("1539")  # 10.31 USD / 0.0067, no decimals in JPY
