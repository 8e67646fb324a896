"""Money functions: exact, rounded once to ISO 4217 minor units, nothing created or lost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.errors import MappingError
from integration.transform import money

amounts = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=6,
                      allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=6,
                    allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP", "CLP", "BHD"])


def test_minor_units_follow_iso_4217():
    assert money.minor_units("EUR") == 2
    assert money.minor_units("jpy") == 0
    assert money.minor_units("KWD") == 3


@pytest.mark.parametrize("code", ["EURO", "ZZZ", "", "XAU"])
def test_unknown_or_unitless_currency_is_a_mapping_error(code):
    with pytest.raises(MappingError):
        money.minor_units(code)


@pytest.mark.parametrize("value", ["abc", 1.5, None, "NaN", True])
def test_to_decimal_refuses_floats_and_text_naming_the_field(value):
    with pytest.raises(MappingError) as info:
        money.to_decimal(value, "unit_price_tax_excl")
    assert "unit_price_tax_excl" in info.value.message


def test_to_decimal_reads_prestashop_amounts_exactly():
    assert money.to_decimal("71.510000") == Decimal("71.510000")
    assert money.to_decimal(3) == Decimal(3)


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(amounts, currencies)
def test_quantize_lands_on_the_minor_unit_and_moves_less_than_half_of_it(amount, currency):
    rounded = money.quantize(amount, currency)
    places = money.minor_units(currency)
    assert rounded.as_tuple().exponent == -places
    assert abs(rounded - amount) <= Decimal(1).scaleb(-places) / 2


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(amounts, rates, currencies)
def test_conversion_round_trip_stays_within_rounding(amount, rate, currency):
    converted = money.convert(amount, rate)
    assert abs(converted * rate - amount) <= Decimal("1e-15") * max(1, abs(amount))
    assert money.quantize(money.convert(money.quantize(amount, currency), Decimal(1)), currency) == \
        money.quantize(amount, currency)


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(amounts, st.lists(st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=2,
                                     allow_nan=False, allow_infinity=False), min_size=1, max_size=20), currencies)
def test_allocate_never_creates_or_loses_a_minor_unit(total, weights, currency):
    parts = money.allocate(total, weights, currency)
    assert len(parts) == len(weights)
    assert sum(parts, Decimal(0)) == money.quantize(total, currency)
    unit = Decimal(1).scaleb(-money.minor_units(currency))
    assert all(p % unit == 0 for p in parts)


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(amounts, st.decimals(min_value=Decimal("0"), max_value=Decimal("0.5"), places=4,
                            allow_nan=False, allow_infinity=False))
def test_tax_included_and_excluded_are_inverse(amount, rate):
    assert abs(money.tax_excluded(money.tax_included(amount, rate), rate) - amount) <= Decimal("1e-18") * \
        max(1, abs(amount))


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.lists(amounts, max_size=30), currencies)
def test_reconcile_reports_the_exact_difference(parts, currency):
    expected = sum(parts, Decimal(0))
    check = money.reconcile("x", expected, parts, currency)
    assert check.difference == check.computed - check.expected
    # Rounding each part can move the sum by at most half a unit per part, never more.
    unit = Decimal(1).scaleb(-money.minor_units(currency))
    assert abs(check.difference) <= unit / 2 * len(parts) + unit


def test_reconcile_sees_a_cent_lost_to_per_line_rounding():
    # Three lines of 1/3 EUR each: the order says 1.00, the rounded lines say 0.99.
    third = Decimal(1) / 3
    check = money.reconcile("products", Decimal("1.00"), [third, third, third], "EUR")
    assert check.difference == Decimal("-0.01") and not check.balanced


@pytest.mark.parametrize(("value", "text"), [(Decimal("19.90"), "19.90"), (Decimal("1E+1"), "10"),
                                             (Decimal("-0.00"), "0.00"), (Decimal("3"), "3")])
def test_m3_decimal_never_uses_an_exponent(value, text):
    assert money.m3_decimal(value) == text


def test_cross_rate_from_two_quotes_against_the_default():
    # USD 1.085 and GBP 0.856 per EUR: USD per GBP.
    assert money.cross_rate(Decimal("1.085"), Decimal("0.856")).quantize(Decimal("0.0001")) == Decimal("1.2675")


def test_the_fallback_table_agrees_with_the_iso4217_package():
    """Without the iso4217 package the documented table answers; it must give the same minor units."""
    iso4217 = pytest.importorskip("iso4217")
    import pycountry

    for currency in pycountry.currencies:
        code = currency.alpha_3
        try:
            expected: object = iso4217.Currency(code).exponent
        except ValueError:
            continue
        try:
            got: object = money._minor_units_from_table(code)
        except MappingError:
            got = None
        assert got == expected, code
    with pytest.raises(MappingError):
        money._minor_units_from_table("ZZZ")
