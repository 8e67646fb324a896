"""Money: exact Decimal arithmetic, ISO 4217 minor units, currency conversion and reconciliation.

Why these rules: PrestaShop serves amounts with six decimals and rounds per line or per total depending on
its ``round_type``; M3 takes strings. Floats would lose cents on the way, so every amount here is a
``Decimal`` and every rounding is explicit (one rounding mode, to the currency's minor units). A difference
left by conversion and rounding is computed and returned, never absorbed silently.

Minor units come from the ``iso4217`` package (ISO 4217 data, updated with each amendment). pycountry has no
minor units. When ``iso4217`` is not installed, a small table of the ISO 4217 currencies whose minor unit is
not 2 is used instead (source: ISO 4217 list one, amendment 179), and every other code counts as 2.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from integration.errors import MappingError

_IsoCurrency: Any
try:  # pragma: no cover - which branch runs depends on the environment
    _IsoCurrency = importlib.import_module("iso4217").Currency
except ImportError:  # pragma: no cover
    _IsoCurrency = None

# ISO 4217 currencies whose minor unit is not 2 (fallback only; the iso4217 package is preferred).
_NON_TWO_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0,
    "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}

ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


# ISO 4217 codes that are not money with a minor unit (precious metals, SDR, bond units, testing, "no currency").
_NO_MINOR_UNIT = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA",
                            "XXX"})


def _unknown(currency: str) -> MappingError:
    return MappingError(
        f"unknown currency code {currency!r}",
        resolution="use an ISO 4217 alphabetic code (EUR, USD...) in the shop and in mappings/currencies.yaml",
        details={"currency": currency},
    )


def _no_minor_unit(code: str) -> MappingError:
    return MappingError(
        f"currency {code} has no minor unit in ISO 4217 and cannot be used for prices",
        resolution="map the shop's currency to a real currency in mappings/currencies.yaml",
        details={"currency": code},
    )


def _minor_units_from_table(code: str) -> int:
    """The fallback: pycountry's ISO 4217 code list for existence, the table above for the exponent."""
    import pycountry

    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise _unknown(code)
    if code in _NO_MINOR_UNIT:
        raise _no_minor_unit(code)
    return _NON_TWO_MINOR_UNITS.get(code, 2)


def minor_units(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (EUR 2, JPY 0, KWD 3), per ISO 4217.

    Raises ``MappingError`` for a code ISO 4217 does not know, or one without a minor unit (XAU, XXX):
    an amount in such a "currency" cannot be rounded to a cent, so it cannot be sent as money.
    """
    code = (currency or "").strip().upper()
    if _IsoCurrency is None:
        return _minor_units_from_table(code)
    try:
        exponent = _IsoCurrency(code).exponent
    except ValueError:
        raise _unknown(currency) from None
    if exponent is None:
        raise _no_minor_unit(code)
    return int(exponent)


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Parse an amount exactly: Decimal, int, or a numeric string ("71.510000"). Floats are refused.

    A float has already lost the exact value, so accepting one would hide the bug that produced it.
    ``MappingError`` names the field and the value for anything else.
    """
    if isinstance(value, bool):
        raise MappingError(f"{field}: expected a number, got the boolean {value!r}",
                           details={"field": field, "value": value})
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MappingError(f"{field}: expected a number, got {value!r}",
                               details={"field": field, "value": value}) from None
    else:
        raise MappingError(f"{field}: expected a number, got {type(value).__name__} {value!r}",
                           details={"field": field, "value": repr(value)})
    if not result.is_finite():
        raise MappingError(f"{field}: expected a finite number, got {value!r}",
                           details={"field": field, "value": str(value)})
    return result


def quantize(amount: Decimal, currency: str, rounding: str = "half_up") -> Decimal:
    """Round ``amount`` to the currency's minor units (half-up by default, as PrestaShop and M3 do)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUNDING_MODES[rounding])


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """Convert ``amount`` with ``rate`` = units of the *source* currency per one unit of the *target* currency.

    That is PrestaShop's ``conversion_rate`` convention (order currency per shop default currency), so an
    order amount divided by the order's rate is the amount in the default currency. Not rounded: round once,
    at the end, with ``quantize``.
    """
    if rate <= 0:
        raise MappingError(f"conversion rate must be positive, got {rate}", details={"rate": str(rate)})
    return amount / rate


def cross_rate(source_per_base: Decimal, target_per_base: Decimal) -> Decimal:
    """Rate (source units per target unit) from two rates quoted against a common base currency."""
    if source_per_base <= 0 or target_per_base <= 0:
        raise MappingError("conversion rates must be positive",
                           details={"source_per_base": str(source_per_base), "target_per_base": str(target_per_base)})
    return source_per_base / target_per_base


def tax_excluded(amount_incl: Decimal, tax_rate: Decimal) -> Decimal:
    """Net amount from a gross one at ``tax_rate`` (0.20 for 20 %); unrounded."""
    return amount_incl / (Decimal(1) + tax_rate)


def tax_included(amount_excl: Decimal, tax_rate: Decimal) -> Decimal:
    """Gross amount from a net one at ``tax_rate`` (0.20 for 20 %); unrounded."""
    return amount_excl * (Decimal(1) + tax_rate)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so the parts add up to ``total`` exactly.

    Largest-remainder method at the currency's minor unit: each part is rounded down, and the cents left
    over go to the parts with the largest remainders (ties to the earliest). Used to spread an order-level
    amount (a discount) over lines without creating or losing a cent.
    """
    if not weights:
        return []
    unit = Decimal(1).scaleb(-minor_units(currency))
    total_units = int((quantize(total, currency) / unit).to_integral_value())
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    sign = -1 if total_units < 0 else 1
    exact = [Decimal(abs(total_units)) * w / weight_sum for w in weights]
    floors = [int(e) for e in exact]
    left = abs(total_units) - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(sign * f) * unit for f in floors]


@dataclass(frozen=True)
class Reconciliation:
    """Expected against computed for one total, in one currency; ``difference`` = computed - expected."""

    name: str
    currency: str
    expected: Decimal
    computed: Decimal

    @property
    def difference(self) -> Decimal:
        return self.computed - self.expected

    @property
    def balanced(self) -> bool:
        return self.difference == 0


def reconcile(name: str, expected: Decimal, parts: Sequence[Decimal], currency: str) -> Reconciliation:
    """Compare the sum of rounded ``parts`` with the rounded ``expected`` total, both at minor units."""
    computed = sum((quantize(p, currency) for p in parts), Decimal(0))
    return Reconciliation(name, currency.upper(), quantize(expected, currency), quantize(computed, currency))


def m3_decimal(value: Decimal) -> str:
    """A Decimal as M3 takes it: plain notation with '.' and the scale it has (round it first), never an exponent.

    ``str(Decimal('1E+1'))`` is "1E+1", which M3 rejects; ``format(..., 'f')`` gives "10".
    """
    text = format(value, "f")
    return text[1:] if text.startswith("-") and not value else text
