"""Anomaly detection: orders that are valid but unlike what this shop and this customer usually do.

Pure functions; the caller does the I/O and passes what the detectors compare against.

API::

    from integration.ai.anomaly import DetectionContext, PastOrder, context_from_history, detect
    from integration.ai.thresholds import Thresholds        # or MappingConfig.validation.detectors

    past = [PastOrder.from_order(o, accepted=True) for o in earlier_orders]   # from the store
    context = context_from_history(order, past, m3_prices={"ITNO": Decimal("12.50")})
    findings = detect(order, context, thresholds)           # [] = nothing suspicious
    # hold the order when findings is not empty; each Finding has detector, score, message, evidence

- ``order`` is the canonical ``Order`` after transform: amounts are read in the ERP currency
  (``erp_totals``, ``OrderLine.erp_unit_price``), so customers paying in several currencies compare alike.
- ``past`` is every earlier order the store knows (any customer), oldest first or not: ``accepted`` is True
  for orders that went to M3 (synced, or released by an operator) and False for those held and then skipped;
  only accepted orders teach what is usual, every order counts for velocity.
- ``m3_prices`` is M3's price per item number for this customer (OIS320MI GetPriceLine, cached), in the ERP
  currency and on the price basis of ``orders.yaml`` (``prices.basis``) — the basis ``erp_unit_price`` uses.
  An item without a cached price is not checked.
- ``context_from_history`` only reads its arguments; the caller may instead fill ``DetectionContext`` from
  aggregate queries (per-item quantities, per-country counts) when the history is large.

Detectors (thresholds in ``mappings/validation.yaml`` → ``detectors``, see ``thresholds.py``):

- ``order_value``: the order's value against the customer's own history — robust z-score of log(value)
  (median and MAD, so one earlier big order does not hide the next), and a minimum ratio to the median;
- ``line_price``: a line price far under or over M3's price for that customer and item;
- ``quantity``: a line quantity far above the item's usual quantities shop-wide (robust z-score of
  log(quantity)), unless the customer has bought similar quantities before (business customers);
- ``combination``: a currency almost never seen for the billing country, a carrier almost never seen for the
  delivery country, and on a first order
  billing and delivery countries that differ in a rarely seen way;
- ``velocity``: many orders from one customer within minutes, or several customers shipping to one address
  within a day.

Invariant: every ``Finding`` has a score ≥ 1 (1 = exactly at its threshold), a message an operator can act
on, and JSON-able evidence; amounts in evidence are strings of Decimals. Nothing here raises on odd data:
a detector without enough history says nothing.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from integration.canonical import Address, Order

from .thresholds import Thresholds

CENT = Decimal("0.01")
DETECTORS = ("order_value", "line_price", "quantity", "combination", "velocity")


@dataclass(frozen=True)
class Finding:
    detector: str
    score: float
    message: str
    evidence: dict[str, Any]
    line_no: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PastOrder:
    """What the detectors need to remember of an earlier order."""

    ps_order_id: int
    customer_id: int
    placed_at: datetime
    value: Decimal  # ERP currency, ``order_value``
    currency: str
    delivery_country: str
    invoice_country: str
    carrier: str
    address_key: str
    lines: tuple[tuple[str, int], ...] = ()  # (item number, quantity)
    accepted: bool = True
    group: int = 0  # the customer's PrestaShop group

    @classmethod
    def from_order(cls, order: Order, *, accepted: bool = True) -> PastOrder:
        return cls(order.ps_order_id, order.customer.ps_customer_id, order.order_date, order_value(order),
                   order.currency, order.delivery_address.country, order.invoice_address.country,
                   carrier_of(order), address_key(order.delivery_address),
                   tuple((line.item_number, line.quantity) for line in order.lines), accepted,
                   order.customer.group_id or 0)


@dataclass(frozen=True)
class DetectionContext:
    """What an order is compared with. Every field may be left empty: its detector then says nothing."""

    history: Sequence[PastOrder] = ()  # the customer's earlier accepted orders
    # item → earlier line quantities of customers in the same PrestaShop group as this one (B2B and B2C buy
    # different quantities of the same item)
    item_quantities: Mapping[str, Sequence[int]] = field(default_factory=dict)
    group_quantities: Sequence[int] = ()  # recent line quantities (any item) of customers in the same group
    m3_prices: Mapping[str, Decimal] = field(default_factory=dict)  # item → M3 price for this customer
    # (dimension, key) → value → count, shop-wide over accepted orders: ("currency", invoice country),
    # ("carrier", delivery country), ("billing", invoice country → delivery country)
    combinations: Mapping[tuple[str, str], Mapping[str, int]] = field(default_factory=dict)
    # Every order (any customer, any outcome) within the velocity windows; only what the velocity detector reads
    # is filled (ids, time, address key) when it comes from the store (history.context_for).
    recent: Sequence[PastOrder] = ()


# --- facts of an order --------------------------------------------------------------------------------------

def order_value(order: Order) -> Decimal:
    """Goods value in the ERP currency on the configured price basis (shipping left out: it varies by zone)."""
    if order.erp_totals is not None and order.erp_totals.products_tax_excl:
        return order.erp_totals.products_tax_excl
    return sum((line.erp_total for line in order.lines), Decimal(0))


def carrier_of(order: Order) -> str:
    return order.carrier_name or (str(order.carrier_id) if order.carrier_id is not None else "")


def address_key(address: Address) -> str:
    """The same place however it was typed: country, postcode and the first street line, folded."""
    street = address.street[0] if address.street else ""
    text = unicodedata.normalize("NFKD", f"{address.country}|{address.postcode}|{street}")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^a-z0-9|]", "", text)


# --- robust statistics --------------------------------------------------------------------------------------

def robust_z(value: float, sample: Sequence[float], floor: float) -> tuple[float, float, float]:
    """(z, median, spread): z-score against the median, the spread being 1.4826·MAD (never below ``floor``)."""
    med = statistics.median(sample)
    mad = statistics.median(abs(x - med) for x in sample)
    spread = max(1.4826 * mad, floor)
    return (value - med) / spread, med, spread


def _log(x: Decimal | int) -> float:
    return math.log(max(float(x), 1e-9))


# --- detectors ----------------------------------------------------------------------------------------------

def order_value_findings(order: Order, history: Sequence[PastOrder], t: Any) -> list[Finding]:
    values = [p.value for p in history if p.value > 0]
    value = order_value(order)
    if not t.enabled or len(values) < t.min_history or value <= 0:
        return []
    z, med, _ = robust_z(_log(value), [_log(v) for v in values], t.log_mad_floor)
    median_value = Decimal(math.exp(med)).quantize(CENT)
    ratio = value / median_value if median_value else Decimal(0)
    if z < t.max_robust_z or ratio < t.min_ratio:
        return []
    score = min(z / t.max_robust_z, float(ratio / t.min_ratio))
    return [Finding("order_value", round(score, 2),
                    f"order value {value} {order.erp_currency} is {ratio:.1f} times the customer's median "
                    f"{median_value} over {len(values)} orders", {
                        "value": str(value), "currency": order.erp_currency, "median": str(median_value),
                        "ratio": f"{ratio:.2f}", "robust_z": round(z, 2), "history": len(values)})]


def line_price_findings(order: Order, m3_prices: Mapping[str, Decimal], t: Any) -> list[Finding]:
    if not t.enabled:
        return []
    out = []
    for line in order.lines:
        reference = m3_prices.get(line.item_number)
        if not reference or reference <= 0 or line.quantity <= 0:
            continue
        ratio = line.erp_unit_price / reference
        if ratio < 1 - t.max_below:
            score, how = float((1 - ratio) / t.max_below), "under"
        elif ratio > 1 + t.max_above:
            score, how = float((ratio - 1) / t.max_above), "over"
        else:
            continue
        out.append(Finding("line_price", round(score, 2),
                           f"line {line.line_no} ({line.item_number}): {line.erp_unit_price} {order.erp_currency} "
                           f"is {abs(1 - ratio):.0%} {how} M3's price {reference}", {
                               "item_number": line.item_number, "price": str(line.erp_unit_price),
                               "m3_price": str(reference), "ratio": f"{ratio:.3f}"}, line.line_no))
    return out


def quantity_findings(order: Order, item_quantities: Mapping[str, Sequence[int]], history: Sequence[PastOrder],
                      t: Any, group_quantities: Sequence[int] = ()) -> list[Finding]:
    """A line quantity far above the usual: the customer's own line quantities when there are enough of them
    (a business customer's scale), else the item's among customers of the same group, else the group's."""
    if not t.enabled:
        return []
    bought: dict[str, int] = {}
    own: list[int] = []
    for past in history:
        for item, qty in past.lines:
            bought[item] = max(bought.get(item, 0), qty)
            own.append(qty)
    out = []
    for line in order.lines:
        q = line.quantity
        if q < t.min_quantity:
            continue
        if line.item_number in bought and q <= bought[line.item_number] * t.personal_factor:
            continue  # the customer has bought this much of it before
        of_item = [x for x in item_quantities.get(line.item_number, ()) if x > 0]
        of_group = [x for x in group_quantities if x > 0]
        bases: list[tuple[str, list[int]]] = [("customer", own), ("item", of_item), ("group", of_group)]
        choices = [(b, s) for b, s in bases if len(s) >= t.min_history]
        if not choices:
            continue
        basis, sample = choices[0]
        z, med, _ = robust_z(_log(q), [_log(x) for x in sample], t.log_mad_floor)
        median_q = Decimal(math.exp(med)).quantize(CENT)
        ratio = Decimal(q) / median_q
        if z < t.max_robust_z or ratio < t.min_ratio:
            continue
        score = min(z / t.max_robust_z, float(ratio / t.min_ratio))
        whose = {"customer": "the customer's", "item": "the item's", "group": "the customer group's"}[basis]
        out.append(Finding("quantity", round(score, 2),
                           f"line {line.line_no} ({line.item_number}): quantity {q} is {ratio:.0f} times {whose} "
                           f"median {median_q} over {len(sample)} lines", {
                               "item_number": line.item_number, "quantity": q, "median": str(median_q),
                               "basis": basis, "ratio": f"{ratio:.2f}", "robust_z": round(z, 2),
                               "history": len(sample)}, line.line_no))
    return out


def _share(counts: Mapping[str, int] | None, value: str, min_support: int) -> tuple[int, int] | None:
    """(times ``value`` was seen, orders seen) for one key, or None when there are too few orders to judge."""
    if not counts:
        return None
    support = sum(counts.values())
    if support < min_support:
        return None
    return counts.get(value, 0), support


def combination_findings(order: Order, combinations: Mapping[tuple[str, str], Mapping[str, int]],
                         history: Sequence[PastOrder], t: Any) -> list[Finding]:
    if not t.enabled:
        return []
    out = []
    country = order.delivery_address.country
    invoice = order.invoice_address.country
    checks = [("currency", invoice, order.currency, f"currency {order.currency} for a customer billed in {invoice}"),
              ("carrier", country, carrier_of(order), f"carrier {carrier_of(order)!r} for delivery to {country}")]
    if t.first_order_countries and not history and invoice and country and invoice != country:
        checks.append(("billing", invoice, country, f"first order billed in {invoice}, delivered to {country}"))
    for dimension, key, value, what in checks:
        if not value:
            continue
        found = _share(combinations.get((dimension, key)), value, t.min_support)
        if found is None:
            continue
        seen, support = found
        if seen / support > t.max_share:
            continue
        score = max(1.0, math.log((seen + 0.5) / (support + 1)) / math.log(t.max_share))
        out.append(Finding("combination", round(score, 2),
                           f"{what}: seen {seen} times in {support} such orders", {
                               "dimension": dimension, "key": key, "value": value, "seen": seen,
                               "support": support}))
    return out


def velocity_findings(order: Order, recent: Sequence[PastOrder], t: Any) -> list[Finding]:
    """Too many orders of the customer, or too many customers at the address, in a short time. What counts here
    is also counted in SQL (``Store.velocity_counts``), so that ``history._velocity_rows`` reads the rows only
    when a limit is crossed: a change to what counts changes both (``test_velocity_finds_what_it_found...``)."""
    if not t.enabled:
        return []
    now = order.order_date
    customer = order.customer.ps_customer_id
    since = now - timedelta(minutes=t.customer_window_minutes)
    mine = [p for p in recent if p.customer_id == customer and since <= p.placed_at <= now
            and p.ps_order_id != order.ps_order_id]
    out = []
    count = len(mine) + 1
    if count > t.max_customer_orders:
        out.append(Finding("velocity", round(count / (t.max_customer_orders + 1), 2),
                           f"{count} orders from customer {customer} within {t.customer_window_minutes} minutes", {
                               "kind": "customer", "orders": count, "window_minutes": t.customer_window_minutes,
                               "earlier_orders": sorted(p.ps_order_id for p in mine)}))
    key = address_key(order.delivery_address)
    since = now - timedelta(hours=t.address_window_hours)
    others = {p.customer_id for p in recent if p.address_key == key and since <= p.placed_at <= now
              and p.customer_id != customer}
    customers = len(others) + 1
    if key.count("|") == 2 and len(key) > 4 and customers > t.max_address_customers:
        out.append(Finding("velocity", round(customers / (t.max_address_customers + 1), 2),
                           f"{customers} customers shipping to the same address within {t.address_window_hours} h", {
                               "kind": "address", "customers": customers, "window_hours": t.address_window_hours}))
    return out


def detect(order: Order, context: DetectionContext, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every finding on ``order``, highest score first; an empty list means nothing suspicious."""
    t = thresholds or Thresholds()
    findings = [
        *order_value_findings(order, context.history, t.order_value),
        *line_price_findings(order, context.m3_prices, t.line_price),
        *quantity_findings(order, context.item_quantities, context.history, t.quantity, context.group_quantities),
        *combination_findings(order, context.combinations, context.history, t.combination),
        *velocity_findings(order, context.recent, t.velocity),
    ]
    return sorted(findings, key=lambda f: -f.score)


# --- building the context --------------------------------------------------------------------------------

class HistoryIndex:
    """Earlier orders, indexed for ``context_for``: add them oldest first (a worker can keep one per process and
    add each order once it is decided; a batch job builds one from the store).

    Only accepted orders teach what is usual; every order counts for velocity. ``item_window`` keeps the
    latest line quantities per item, so the "usual" follows the catalogue's drift.
    """

    def __init__(self, thresholds: Thresholds | None = None, *, item_window: int = 200):
        t = thresholds or Thresholds()
        self.window = max(timedelta(minutes=t.velocity.customer_window_minutes),
                          timedelta(hours=t.velocity.address_window_hours))
        self.item_window = item_window
        self.by_customer: dict[int, list[PastOrder]] = {}
        self.quantities: dict[tuple[int, str], deque[int]] = {}
        self.group_quantities: dict[int, deque[int]] = {}
        self.combinations: dict[tuple[str, str], dict[str, int]] = {}
        self.recent: deque[PastOrder] = deque()

    def add(self, past: PastOrder) -> None:
        self.recent.append(past)
        while self.recent and past.placed_at - self.recent[0].placed_at > self.window:
            self.recent.popleft()
        if not past.accepted:
            return
        self.by_customer.setdefault(past.customer_id, []).append(past)
        for item, qty in past.lines:
            self.quantities.setdefault((past.group, item), deque(maxlen=self.item_window)).append(qty)
            self.group_quantities.setdefault(past.group, deque(maxlen=self.item_window * 10)).append(qty)
        for dim, key, value in (("currency", past.invoice_country, past.currency),
                                ("carrier", past.delivery_country, past.carrier),
                                ("billing", past.invoice_country, past.delivery_country)):
            bucket = self.combinations.setdefault((dim, key), {})
            bucket[value] = bucket.get(value, 0) + 1

    def context_for(self, order: Order, m3_prices: Mapping[str, Decimal] | None = None) -> DetectionContext:
        """The context of ``order`` (which must not have been added yet)."""
        now = order.order_date
        history = [p for p in self.by_customer.get(order.customer.ps_customer_id, []) if p.placed_at <= now]
        recent = [p for p in self.recent if now - self.window <= p.placed_at <= now]
        group = order.customer.group_id or 0
        keys = {(group, line.item_number) for line in order.lines}
        return DetectionContext(history=history,
                                item_quantities={k[1]: list(self.quantities[k]) for k in keys if k in self.quantities},
                                group_quantities=list(self.group_quantities.get(group, ())),
                                m3_prices=dict(m3_prices or {}), combinations=self.combinations, recent=recent)


def context_from_history(order: Order, past: Iterable[PastOrder], m3_prices: Mapping[str, Decimal] | None = None,
                         thresholds: Thresholds | None = None) -> DetectionContext:
    """The context of ``order`` from a flat list of earlier orders (only those placed before it count)."""
    index = HistoryIndex(thresholds)
    for p in sorted(past, key=lambda p: p.placed_at):
        if p.placed_at <= order.order_date and p.ps_order_id != order.ps_order_id:
            index.add(p)
    return index.context_for(order, m3_prices)
