"""M3's price for a customer and item: OIS320MI GetPriceLine, the price M3 would put on an order line.

Inputs (swagger, /work/shared/fixtures/infor/m3-mi-swagger/OIS320MI.swagger.json): ``CUNO`` and ``ITNO``
required; ``CUCD`` (currency), ``ORDT`` (order date, YYYYMMDD), ``ORQA`` (quantity) optional. Outputs used:
``NETP`` (net price, after the customer's discounts) else ``SAPR`` (sales price), per ``SACD`` units (the
sales price quantity), ``CUCD`` and ``TINC`` (1 = VAT included). One bulk POST for all the items of an order.

Invariant: a price is returned only when M3 gave one for that item; an item M3 refused is ``None`` (no price,
nothing to compare with), and a tenant without the transaction raises ``PriceLineUnavailable`` so the caller
can stop asking. Transport trouble raises as every connector call does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from integration.connectors.infor.errors import M3Error
from integration.connectors.infor.m3 import M3Client, Record

OIS320 = "OIS320MI"


class PriceLineUnavailable(M3Error):
    """This M3 has no OIS320MI/GetPriceLine (or the user may not run it)."""

    error_type = "PriceLineUnavailable"


@dataclass(frozen=True)
class PriceLine:
    item_number: str
    unit_price: Decimal  # per unit: NETP (else SAPR) / SACD
    currency: str
    vat_included: bool


def _decimal(value: str | None) -> Decimal | None:
    try:
        number = Decimal((value or "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def price_line(record: Record, item_number: str) -> PriceLine | None:
    """The unit price of one GetPriceLine record, or None when M3 gave no positive price."""
    price = _decimal(record.get("NETP"))
    if not price:
        price = _decimal(record.get("SAPR"))
    per = _decimal(record.get("SACD")) or Decimal(1)
    if not price or price <= 0 or per <= 0:
        return None
    return PriceLine(item_number, price / per, (record.get("CUCD") or "").strip(),
                     (record.get("TINC") or "").strip() == "1")


def price_lines(client: M3Client, cuno: str, items: Iterable[str], *, currency: str | None = None,
                order_date: date | None = None) -> dict[str, PriceLine | None]:
    """M3's price of each item for ``cuno`` (None where M3 has none)."""
    wanted = list(dict.fromkeys(i for i in items if i))
    if not wanted:
        return {}
    base: dict[str, str] = {"CUNO": cuno}
    if currency:
        base["CUCD"] = currency
    if order_date is not None:
        base["ORDT"] = order_date.strftime("%Y%m%d")
    results = client.bulk([{"program": OIS320, "transaction": "GetPriceLine", "record": {**base, "ITNO": itno}}
                           for itno in wanted])
    out: dict[str, PriceLine | None] = {}
    for itno, result in zip(wanted, results, strict=True):
        if result.error is not None and result.error.error_type in ("TransactionNotFound", "NotAuthorized"):
            raise PriceLineUnavailable(str(result.error.m3_message), program=OIS320, transaction="GetPriceLine")
        out[itno] = price_line(result.records[0], itno) if result.ok and result.records else None
    return out
