"""The reconciliation's arithmetic: differences to the cent with their likely cause, nothing for amounts that
are the same once rounded, money as Decimal throughout."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest

from integration.reconcile import OrderFigures, reconcile_order, same_amount, summary, to_csv


def figures(**overrides: object) -> OrderFigures:
    base: dict[str, object] = {"ps_order_id": 7, "reference": "ABCDEFGHI", "currency": "EUR",
                               "shop_total": D("59.880000"), "shop_paid": D("59.88"), "shipping": D("5.880000"),
                               "discounts": D("0"), "lines": 2, "orno": "1000000007", "m3_currency": "EUR",
                               "m3_value": D("59.88"), "invoiced": D("59.88"), "m3_paid": D("59.88"),
                               "m3_open": D("0")}
    return OrderFigures(**{**base, **overrides})  # type: ignore[arg-type]


def test_an_order_that_adds_up_is_ok():
    line = reconcile_order(figures())
    assert line["status"] == "ok" and line["differences"] == []


def test_a_one_cent_difference_is_found_and_explained():
    line = reconcile_order(figures(m3_value=D("59.87"), invoiced=D("59.87"), m3_paid=D("59.87")))
    assert line["status"] == "difference"
    [value, payment] = line["differences"]
    assert value["check"] == "order value" and value["difference"] == D("-0.01") and value["cause"] == "rounding"
    assert (value["expected_amount"], value["actual_amount"]) == (D("59.88"), D("59.87"))
    assert payment["check"] == "payment" and payment["difference"] == D("-0.01")


@pytest.mark.parametrize(("shop", "m3"), [(D("10.125000"), D("10.12")), (D("10.125000"), D("10.13")),
                                          (D("10.135"), D("10.14")), (D("0.005"), D("0.00"))])
def test_equal_amounts_in_different_rounding_modes_are_not_reported(shop: D, m3: D):
    assert same_amount(shop, m3, "EUR")
    line = reconcile_order(figures(shop_total=shop, shop_paid=shop, m3_value=m3, invoiced=m3, m3_paid=m3))
    assert line["differences"] == [] and line["status"] == "ok"


def test_different_amounts_stay_different_whatever_the_rounding():
    assert not same_amount(D("10.12"), D("10.13"), "EUR")
    assert not same_amount(D("10.126"), D("10.12"), "EUR")
    assert same_amount(D("1500"), D("1500.4"), "JPY") and not same_amount(D("1500"), D("1501"), "JPY")


def test_likely_causes():
    shipping = reconcile_order(figures(m3_value=D("54.00"), invoiced=D("54.00"), m3_paid=None))
    assert [(d["check"], d["difference"], d["cause"]) for d in shipping["differences"]] == [
        ("order value", D("-5.88"), "shipping")]
    discount = reconcile_order(figures(discounts=D("5.000000"), m3_value=D("64.88"), invoiced=D("64.88"),
                                       m3_paid=None))
    assert discount["differences"][0]["cause"] == "discount"
    currency = reconcile_order(figures(m3_currency="USD", m3_value=D("64.97"), invoiced=D("64.97"), m3_paid=None))
    assert currency["differences"][0]["cause"] == "currency"
    partly = reconcile_order(figures(invoiced=D("50.00"), m3_paid=None))
    assert partly["differences"][0]["cause"] == "not invoiced in full"
    unknown = reconcile_order(figures(m3_value=D("70.00"), invoiced=D("70.00"), m3_paid=None))
    assert unknown["differences"][0]["cause"] == "unknown"


def test_payments_partial_in_m3_and_open_invoices():
    partial = reconcile_order(figures(m3_paid=D("49.88"), m3_open=D("10.00")))
    [payment] = partial["differences"]
    assert (payment["check"], payment["difference"], payment["cause"]) == ("payment", D("-10.00"), "partial payment")
    over = reconcile_order(figures(m3_paid=D("69.88"), m3_open=D("-10.00")))
    assert over["differences"][0]["cause"] == "overpayment"
    waiting = reconcile_order(figures(m3_paid=D("0"), m3_open=D("59.88")))  # nothing received in M3 yet
    assert waiting["differences"] == [] and waiting["status"] == "open"
    bank_wire = reconcile_order(figures(shop_paid=D("0"), m3_paid=D("0"), m3_open=D("59.88")))
    assert bank_wire["status"] == "open"


def test_an_order_not_in_m3_is_missing():
    line = reconcile_order(figures(orno=None, m3_currency=None, m3_value=None, invoiced=None, m3_paid=None,
                                   m3_open=None))
    assert line["status"] == "missing" and line["differences"] == []


def test_csv_has_a_row_per_difference_and_plain_decimals():
    lines = [reconcile_order(figures()), reconcile_order(figures(ps_order_id=8, m3_value=D("59.87"),
                                                                 invoiced=D("59.87"), m3_paid=D("59.87")))]
    rows = list(csv.DictReader(io.StringIO(to_csv(lines))))
    assert [(r["ps_order_id"], r["check"], r["difference"]) for r in rows] == [
        ("7", "", ""), ("8", "order value", "-0.01"), ("8", "payment", "-0.01")]
    assert rows[0]["shop_total"] == "59.880000"
    assert summary(lines) == {"ok": 1, "difference": 1}
