"""Anomaly detection: orders that are valid but suspicious, held for an operator instead of refused.

A fat-fingered quantity (100 instead of 10), an amount far above what a customer usually spends, or an
order shipped to a country other than the one it is billed to are all legal orders; sending them straight to
the ERP is still a bad idea. These rules are deliberately simple and explainable (each anomaly says which
threshold was crossed), configured in ``mappings/validation.yaml`` under ``anomalies``.

"Usual" figures (the customer's or the shop's median line quantity and order amount) come from the caller,
which reads them from the store: the rules themselves stay pure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from integration.canonical import Order


@dataclass(frozen=True)
class Anomaly:
    record: str
    field: str
    rule: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_anomalies(
    order: Order,
    *,
    max_line_quantity: int | None = None,
    max_order_amount: Decimal | None = None,
    quantity_factor: Decimal | None = None,
    amount_factor: Decimal | None = None,
    countries_must_match: bool = False,
    usual_quantity: Decimal | None = None,
    usual_amount: Decimal | None = None,
) -> list[Anomaly]:
    """Every anomaly of ``order``; amounts are compared in the ERP currency, tax included."""
    rec = f"order {order.ps_order_id}"
    found: list[Anomaly] = []
    for line in order.lines:
        lrec = f"{rec} line {line.line_no}"
        if max_line_quantity is not None and line.quantity > max_line_quantity:
            found.append(Anomaly(lrec, "quantity", "line_quantity_above_limit",
                                 f"{lrec}: quantity {line.quantity} is above the review limit {max_line_quantity}",
                                 line.quantity))
        if quantity_factor is not None and usual_quantity and line.quantity > usual_quantity * quantity_factor:
            found.append(Anomaly(lrec, "quantity", "line_quantity_unusual",
                                 f"{lrec}: quantity {line.quantity} is more than {quantity_factor} times the usual "
                                 f"{usual_quantity}", line.quantity))
    amount = order.erp_totals.paid_tax_incl if order.erp_totals else None
    if amount is not None:
        currency = order.erp_currency
        if max_order_amount is not None and amount > max_order_amount:
            found.append(Anomaly(rec, "total_paid", "order_amount_above_limit",
                                 f"{rec}: {amount} {currency} is above the review limit {max_order_amount}",
                                 str(amount)))
        if amount_factor is not None and usual_amount and amount > usual_amount * amount_factor:
            found.append(Anomaly(rec, "total_paid", "order_amount_unusual",
                                 f"{rec}: {amount} {currency} is more than {amount_factor} times the usual "
                                 f"{usual_amount}", str(amount)))
    delivery, invoice = order.delivery_address.country, order.invoice_address.country
    if countries_must_match and delivery and invoice and delivery != invoice:
        found.append(Anomaly(rec, "delivery_address.country", "countries_differ",
                             f"{rec}: delivered to {delivery} but invoiced in {invoice}", delivery))
    return found
