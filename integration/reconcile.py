"""Order-to-cash reconciliation: per order, the shop's total, M3's order value, what M3 invoiced and what was
paid (in the shop and in M3), every difference to the cent, and its likely cause.

``reconcile_order`` is pure (figures in, a JSON-able line out); ``gather`` reads the figures from both systems.
Amounts are Decimal throughout. Two amounts that are equal once rounded to the currency's minor unit in one of
the rounding modes (half up, half even: 10.125 is 10.13 or 10.12) are the same amount: a shop that keeps six
decimals and an ERP that rounds the other way do not make a difference. Anything else is reported, even 0.01.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from integration.transform.money import ROUNDING_MODES, minor_units, quantize

if TYPE_CHECKING:
    from integration.runtime import Runtime

ZERO = Decimal(0)
CAUSES = ("currency", "shipping", "discount", "partial payment", "overpayment", "not invoiced in full",
          "rounding", "unknown")


@dataclass(frozen=True)
class OrderFigures:
    """What each side says about one order (order currency unless ``m3_currency`` says otherwise)."""

    ps_order_id: int
    reference: str
    currency: str
    shop_total: Decimal
    shop_paid: Decimal = ZERO
    shipping: Decimal = ZERO
    discounts: Decimal = ZERO
    lines: int = 1
    orno: str | None = None
    m3_currency: str | None = None
    m3_value: Decimal | None = None
    invoiced: Decimal | None = None
    m3_paid: Decimal | None = None
    m3_open: Decimal | None = None
    invoices: tuple[str, ...] = ()
    date: str = ""


def same_amount(a: Decimal, b: Decimal, currency: str) -> bool:
    """Equal at the currency's minor unit in some rounding mode (so not a difference worth reporting)."""
    return bool({quantize(a, currency, mode) for mode in ROUNDING_MODES}
                & {quantize(b, currency, mode) for mode in ROUNDING_MODES})


def likely_cause(difference: Decimal, figures: OrderFigures, check: str) -> str:
    """The most likely reason for ``difference`` (actual - expected) in ``check``."""
    currency = figures.currency
    if figures.m3_currency and figures.m3_currency.upper() != figures.currency.upper():
        return "currency"
    size = abs(difference)
    if figures.shipping and same_amount(size, figures.shipping, currency):
        return "shipping"
    if figures.discounts and same_amount(size, figures.discounts, currency):
        return "discount"
    if check in ("payment", "shop payment"):
        return "partial payment" if difference < 0 else "overpayment"
    unit = Decimal(1).scaleb(-minor_units(currency))
    if size <= unit * max(1, figures.lines):
        return "rounding"
    if check == "invoiced" and difference < 0:
        return "not invoiced in full"
    return "unknown"


def reconcile_order(figures: OrderFigures) -> dict[str, Any]:
    """One report line: the figures, the differences (each with its cause) and a status: ``missing`` (not in M3),
    ``difference``, ``open`` (invoiced, not yet paid in full in M3) or ``ok``."""
    currency = figures.currency
    differences: list[dict[str, Any]] = []

    def check(name: str, expected_label: str, expected: Decimal | None, actual_label: str,
              actual: Decimal | None) -> None:
        if expected is None or actual is None or same_amount(expected, actual, currency):
            return
        diff = quantize(actual, currency) - quantize(expected, currency)
        differences.append({"check": name, "expected": expected_label, "actual": actual_label,
                            "expected_amount": quantize(expected, currency),
                            "actual_amount": quantize(actual, currency), "difference": diff,
                            "cause": likely_cause(diff, figures, name)})

    check("order value", "shop total", figures.shop_total, "M3 order value", figures.m3_value)
    check("invoiced", "M3 order value", figures.m3_value, "M3 invoiced", figures.invoiced)
    if figures.shop_paid:  # an order still awaiting its payment (a bank wire) is open in the shop, not a difference
        check("shop payment", "shop total", figures.shop_total, "shop paid", figures.shop_paid)
    if figures.m3_paid:  # nothing received in M3 yet is an open invoice, not a mismatch
        check("payment", "shop paid", figures.shop_paid, "M3 paid", figures.m3_paid)
    if figures.orno is None:
        status = "missing"
    elif differences:
        status = "difference"
    elif figures.m3_open:
        status = "open"
    else:
        status = "ok"
    return {**asdict(figures), "invoices": list(figures.invoices), "status": status, "differences": differences}


def summary(lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[str(line["status"])] = counts.get(str(line["status"]), 0) + 1
    return counts


CSV_COLUMNS = ("ps_order_id", "reference", "orno", "currency", "shop_total", "m3_value", "invoiced", "shop_paid",
               "m3_paid", "m3_open", "status", "check", "difference", "cause")


def to_csv(lines: Iterable[Mapping[str, Any]]) -> str:
    """One row per difference (one row for an order without any), amounts as plain decimals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        base = [line.get(c) for c in CSV_COLUMNS[:11]]
        for diff in line["differences"] or [{}]:
            row = [*base, diff.get("check"), diff.get("difference"), diff.get("cause")]
            writer.writerow(["" if v is None else format(v, "f") if isinstance(v, Decimal) else v for v in row])
    return out.getvalue()


# -- reading the figures ----------------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or "0"))


def gather(rt: Runtime, connection: str, since: datetime, until: datetime) -> list[OrderFigures]:
    """The figures of every shop order placed in ``[since, until]``, from both systems."""
    from integration.connectors.infor.invoices import order_invoices
    from integration.connectors.infor.orders import get_order, m3_decimal
    from integration.connectors.prestashop.bundles import reference_cache
    from integration.connectors.prestashop.customers import order_payments
    from integration.flows.invoices import receivable_of

    ps = rt.prestashop(connection)
    m3 = rt.m3(connection)
    orders = rt.binder(connection, "order")
    figures: list[OrderFigures] = []
    for order in ps.list("orders", filters={"date_add": (since, until)}, sort="[date_add_ASC,id_ASC]", date=True):
        currency = str(reference_cache.get(ps, "currencies", int(order["id_currency"]))["iso_code"]).upper()
        paid = sum((_decimal(p.get("amount")) for p in order_payments(ps, str(order.get("reference") or ""))), ZERO)
        rows = ((order.get("associations") or {}).get("order_rows") or [])
        orno = orders.get(order["id"])
        m3_currency = m3_value = invoiced = m3_paid = m3_open = None
        numbers: tuple[str, ...] = ()
        if orno:
            head = get_order(m3, orno) or {}
            m3_currency = (head.get("CUCD") or "").strip() or None
            m3_value = m3_decimal(head.get("TOPY"))
            invoices = order_invoices(m3, orno)
            if invoices:
                numbers = tuple(i.key for i in invoices)
                invoiced = sum((i.amount or ZERO for i in invoices), ZERO)
                receivables = [receivable_of(rt, connection, i) for i in invoices]
                m3_paid = sum((r.paid for r in receivables if r is not None), ZERO)
                m3_open = sum((r.open for r in receivables if r is not None), ZERO)
        figures.append(OrderFigures(
            ps_order_id=int(order["id"]), reference=str(order.get("reference") or ""), currency=currency,
            shop_total=_decimal(order.get("total_paid_tax_incl")), shop_paid=paid,
            shipping=_decimal(order.get("total_shipping_tax_incl")),
            discounts=_decimal(order.get("total_discounts_tax_incl")), lines=max(1, len(rows)), orno=orno,
            m3_currency=m3_currency, m3_value=m3_value, invoiced=invoiced, m3_paid=m3_paid, m3_open=m3_open,
            invoices=numbers, date=str(order.get("date_add") or "")))
    return figures


def run(rt: Runtime, connection: str, since: datetime, until: datetime, *, keep: bool = False) -> list[dict[str, Any]]:
    """The report's lines; with ``keep`` the run is stored (the nightly run)."""
    from integration.store.models import utcnow

    lines = [reconcile_order(f) for f in gather(rt, connection, since, until)]
    if keep:
        rt.store.add_reconciliation(connection, utcnow(), lines)
    return lines
