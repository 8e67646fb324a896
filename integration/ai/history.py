"""The anomaly detectors' I/O edge: what an order is compared with, read cheaply, and what is kept of it.

``context_for`` builds the ``DetectionContext`` of one order from the compact ``order_history`` table (never
from step snapshots): the customer's latest accepted orders, the orders of the customer or to the same
address within the velocity window, and, only for lines large enough for the quantity detector to judge,
per-item and per-group quantity samples. Shop-wide combination counts and M3's prices (OIS320MI
GetPriceLine) are cached in Redis, so a usual order costs one Redis round trip and two small indexed queries.
``record`` keeps the order once it is judged (accepted, or held: velocity counts every order).

Invariants:
- detection never fails an order on its own account: a price M3 cannot give (no price, a tenant without
  GetPriceLine, M3 unreachable) leaves that line unchecked, and ``line_price`` then says nothing;
- the delivery address is stored as a hash of ``anomaly.address_key``, never in clear;
- an order is never part of its own history (a re-run of validate upserts its row, it does not add one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog

from integration.ai.anomaly import DetectionContext, PastOrder, address_key, carrier_of, order_value
from integration.ai.thresholds import Thresholds
from integration.canonical import Order
from integration.errors import TransientError

if TYPE_CHECKING:
    from integration.runtime import Runtime
    from integration.store.repository import PastOrderRow, RecentOrderRow

log = structlog.get_logger("psinfor.ai.history")

HISTORY_LIMIT = 100             # the customer's latest accepted orders read per order
ITEM_WINDOW = 200               # latest line quantities per item (as HistoryIndex keeps them)
GROUP_WINDOW = 2000             # latest line quantities per customer group
COMBINATION_DAYS = 365          # combination counts cover the last year of accepted orders
COMBINATION_TTL_SECONDS = 600   # and are recomputed at most every ten minutes per key
PRICE_TTL_SECONDS = 6 * 3600    # M3 prices per (customer, currency, item); a price change shows within 6 h
UNAVAILABLE_TTL_SECONDS = 3600  # a tenant without GetPriceLine is asked again after an hour


def address_hash(order: Order) -> str:
    return hashlib.sha256(address_key(order.delivery_address).encode()).hexdigest()[:32]


def history_row(connection: str, order: Order, *, accepted: bool, event_id: int | None) -> dict[str, Any]:
    """The ``order_history`` row of ``order`` (amounts in the ERP currency, as the detectors compare them)."""
    return {
        "connection": connection, "ps_order_id": order.ps_order_id, "customer_id": order.customer.ps_customer_id,
        "customer_group": order.customer.group_id or 0, "placed_at": order.order_date,
        "value": str(order_value(order)), "erp_currency": order.erp_currency[:3], "currency": order.currency[:3],
        "invoice_country": order.invoice_address.country[:3], "delivery_country": order.delivery_address.country[:3],
        "carrier": carrier_of(order)[:64], "address_hash": address_hash(order),
        "lines": [[line.item_number, line.quantity, str(line.erp_unit_price)] for line in order.lines],
        "accepted": accepted, "event_id": event_id,
    }


def record(rt: Runtime, connection: str, order: Order, *, accepted: bool, event_id: int | None = None) -> None:
    """Keep what the detectors need of ``order``: ``accepted`` when it goes on to M3 (passed or released)."""
    rt.store.record_order_history(history_row(connection, order, accepted=accepted, event_id=event_id))


def _past(row: PastOrderRow) -> PastOrder:
    """A stored row as the detectors' ``PastOrder`` (the address hash stands for the address key). Without its
    lines (most reads) the row is a hashable value, and its conversion is remembered: every order of a customer
    reads up to ``HISTORY_LIMIT`` of the same rows again, and a ``PastOrder`` is immutable, so one may be shared.
    Rows that compare equal convert alike: the store gives ``placed_at`` in UTC, ``value`` as text."""
    return _past_without_lines(row) if row.lines is None else _as_past(row)


@lru_cache(maxsize=8192)
def _past_without_lines(row: PastOrderRow) -> PastOrder:
    return _as_past(row)


def _as_past(row: PastOrderRow) -> PastOrder:
    return PastOrder(row.ps_order_id, row.customer_id, row.placed_at, Decimal(row.value), row.currency,
                     row.delivery_country, row.invoice_country, row.carrier, row.address_hash,
                     tuple([(str(line[0]), int(line[1])) for line in row.lines or ()]), row.accepted,
                     row.customer_group)


_NO_VALUE = Decimal(0)


def _recent(row: RecentOrderRow, own_key: str, own_hash: str) -> PastOrder:
    """A row of ``recent_order_history`` for the velocity detector: who, when, where (all it reads). A row at
    the order's own address gets the order's address key, as the detector compares keys."""
    return PastOrder(row.ps_order_id, row.customer_id, row.placed_at, _NO_VALUE, "", "", "", "",
                     own_key if row.address_hash == own_hash else row.address_hash, accepted=False)


def context_for(rt: Runtime, connection: str, order: Order, cuno: str,
                thresholds: Thresholds | None = None) -> DetectionContext:
    """Everything ``detect`` compares ``order`` with; each part is read only when its detector is on."""
    t = thresholds or rt.mapping.config.validation.detectors
    store, now, me = rt.store, order.order_date, order.ps_order_id
    # Past lines only when the quantity detector will judge a line of this order (most orders have none).
    lines = t.quantity.enabled and any(line.quantity >= t.quantity.min_quantity for line in order.lines)
    history = [_past(r) for r in reversed(store.customer_order_history(
        connection, order.customer.ps_customer_id, before=now, exclude_order=me, limit=HISTORY_LIMIT, lines=lines))]
    recent = _velocity_rows(rt, connection, order, t) if t.velocity.enabled else []
    item_quantities, group_quantities = _quantities(rt, connection, order, history, t)
    # The cached prices and combination counts of the order, in one Redis round trip.
    prices = _price_names(rt, connection, cuno, order) if t.line_price.enabled else []
    keys = _combination_keys(order, history, t) if t.combination.enabled else []
    combinations = [rt.key("anomaly", "combination", connection, d, k) for d, k in keys]
    cached = rt.redis.mget([*prices, *combinations]) if prices or combinations else []
    return DetectionContext(
        history=history, item_quantities=item_quantities, group_quantities=group_quantities,
        m3_prices=m3_prices(rt, connection, cuno, order, cached=cached[:len(prices)]) if prices else {},
        combinations=_combinations(rt, connection, order, keys, combinations, cached[len(prices):]),
        recent=recent)


def _velocity_rows(rt: Runtime, connection: str, order: Order, t: Thresholds) -> list[PastOrder]:
    """The orders the velocity detector judges ``order`` with, read only when it will find something: first the
    two counts it holds against its limits (one small query), then, only when one is over its limit, the rows
    (the detector names the earlier orders). Under the limits no rows give the same answer: none."""
    v, store, now, me = t.velocity, rt.store, order.order_date, order.ps_order_id
    customer = order.customer.ps_customer_id
    customer_since = now - timedelta(minutes=v.customer_window_minutes)
    address_since = now - timedelta(hours=v.address_window_hours)
    own = address_hash(order)
    orders, customers = store.velocity_counts(connection, customer_id=customer, customer_since=customer_since,
                                              address_hash=own, address_since=address_since, until=now,
                                              exclude_order=me)
    # velocity_findings counts the order itself with the customer's, and its customer with the address's.
    if orders + 1 <= v.max_customer_orders and customers + 1 <= v.max_address_customers:
        return []
    own_key = address_key(order.delivery_address)
    return [_recent(r, own_key, own)
            for r in store.recent_order_history(connection, since=min(customer_since, address_since), until=now,
                                                customer_id=customer, address_hash=own, exclude_order=me)]


def _quantities(rt: Runtime, connection: str, order: Order, history: Sequence[PastOrder],
                t: Thresholds) -> tuple[dict[str, list[int]], list[int]]:
    """Item and group samples, read only for lines the quantity detector would judge and only when the
    customer's own lines are too few to be the basis (most orders need neither)."""
    q = t.quantity
    if not q.enabled:
        return {}, []
    large = [line.item_number for line in order.lines if line.quantity >= q.min_quantity]
    own_lines = sum(len(p.lines) for p in history)
    if not large or own_lines >= q.min_history:
        return {}, []
    group = order.customer.group_id or 0
    items = rt.store.item_quantities(connection, group, large, per_item=ITEM_WINDOW)
    if all(len(items.get(i, ())) >= q.min_history for i in large):
        return items, []
    return items, rt.store.group_quantities(connection, group, limit=GROUP_WINDOW)


def _combination_keys(order: Order, history: Sequence[PastOrder], t: Thresholds) -> list[tuple[str, str]]:
    """The (dimension, key) pairs the combination detector judges ``order`` by."""
    invoice, delivery = order.invoice_address.country, order.delivery_address.country
    keys = [("currency", invoice), ("carrier", delivery)]
    if t.combination.first_order_countries and not history and invoice and delivery and invoice != delivery:
        keys.append(("billing", invoice))
    return [(d, k) for d, k in keys if k]


def _combinations(rt: Runtime, connection: str, order: Order, keys: Sequence[tuple[str, str]],
                  names: Sequence[str], cached: Sequence[Any]) -> dict[tuple[str, str], Mapping[str, int]]:
    """Shop-wide counts for the order's keys (Redis ``names``, read as ``cached``), from Redis when fresh, else
    from SQL (then cached)."""
    out: dict[tuple[str, str], Mapping[str, int]] = {}
    since = order.order_date - timedelta(days=COMBINATION_DAYS)
    for (dimension, key), name, value in zip(keys, names, cached, strict=True):
        if value is not None:
            out[(dimension, key)] = json.loads(value)  # bytes or str, json reads both
            continue
        counts = rt.store.combination_counts(connection, dimension, key, since=since)
        rt.redis.set(name, json.dumps(counts), ex=COMBINATION_TTL_SECONDS)
        out[(dimension, key)] = counts
    return out


def _price_names(rt: Runtime, connection: str, cuno: str, order: Order) -> list[str]:
    """The Redis keys ``m3_prices`` reads: the "tenant has no GetPriceLine" flag, then one per item."""
    items = _priced_items(order)
    if not items:
        return []
    return [_unavailable_key(rt, connection),
            *(_price_key(rt, connection, cuno, order.erp_currency, itno) for itno in items)]


def _unavailable_key(rt: Runtime, connection: str) -> str:
    """Set while the tenant has no OIS320MI/GetPriceLine, so M3 is not asked for every order."""
    return rt.key("m3price", connection, "unavailable")


def _price_key(rt: Runtime, connection: str, cuno: str, currency: str, itno: str) -> str:
    return rt.key("m3price", connection, cuno, currency, itno)


def _priced_items(order: Order) -> list[str]:
    return list(dict.fromkeys(line.item_number for line in order.lines if line.item_number))


def m3_prices(rt: Runtime, connection: str, cuno: str, order: Order,
              cached: Sequence[Any] | None = None) -> dict[str, Decimal]:
    """M3's unit price per item of ``order`` for ``cuno`` (OIS320MI GetPriceLine, cached in Redis), on the
    order's price basis and in its ERP currency; items without a comparable price are left out. ``cached``:
    the values of ``_price_names`` when the caller read them already."""
    from integration.connectors.infor.errors import M3Error
    from integration.connectors.infor.prices import PriceLineUnavailable, price_lines

    items = _priced_items(order)
    if not items:
        return {}
    currency = order.erp_currency
    if cached is None:
        cached = rt.redis.mget(_price_names(rt, connection, cuno, order))
    flag, *cached = cached
    if flag is not None:
        return {}
    prices: dict[str, Decimal] = {}
    missing = []
    for itno, value in zip(items, cached, strict=True):
        if value is None:
            missing.append(itno)
        elif value:
            prices[itno] = Decimal(value.decode() if isinstance(value, bytes) else value)
    if not missing:
        return prices
    try:
        fetched = price_lines(rt.m3(connection), cuno, missing, currency=currency,
                              order_date=order.order_date.date())
    except PriceLineUnavailable:
        log.warning("M3 has no OIS320MI/GetPriceLine: line prices are not checked", connection=connection)
        rt.redis.set(_unavailable_key(rt, connection), "1", ex=UNAVAILABLE_TTL_SECONDS)
        return prices
    except (TransientError, M3Error) as exc:  # detection must not hold the order hostage: check it without
        log.warning("M3 prices not available now: line prices of this order are not checked",
                    order=order.ps_order_id, error=type(exc).__name__)
        return prices
    tax_included = order.price_basis == "tax_incl"
    pipe = rt.redis.pipeline(transaction=False)
    for itno in missing:
        found = fetched.get(itno)
        comparable = (found is not None and found.vat_included == tax_included
                      and (not found.currency or found.currency == currency))
        text = str(found.unit_price) if comparable and found is not None else ""
        pipe.set(_price_key(rt, connection, cuno, currency, itno), text, ex=PRICE_TTL_SECONDS)
        if text:
            try:
                prices[itno] = Decimal(text)
            except InvalidOperation:
                continue
    pipe.execute()
    return prices
