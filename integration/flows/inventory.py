"""Stock, Infor → shop, near real time: M3's balances become the quantities of the shop's ``stock_availables``.

Invariants:

- A shop row is written only when its quantity changes: the last value written (or seen in the shop) is kept
  per row (``stock_written``), so a quantity that did not change is never written, and a delta read twice (a
  poll overlap, a retry) is written once.
- Changes travel in windows: the poller reads M3's delta feed (OIS100MI/LstNewBalances) from a watermark and
  enqueues one event per ``batch_size`` changed items, with a dedupe key per window; each event re-reads its
  items' balances in every warehouse the mapping sums (bulk OIS100MI/LstWarehBalance), so a late event never
  writes an older quantity over a newer one (readings carry their time, ``as_of``, and rows are written under
  a per-row lock).
- Each row has its own outcome: a 429 or 5xx on one row leaves that row pending and retries the event, whose
  next run skips every row already written (its memory says so) and writes only the pending ones. A worker
  killed mid-window: the re-run first asks the shop what the unconfirmed rows hold, so nothing is written twice.
- Only combination rows are written for a product with combinations (PrestaShop keeps its ``:0`` row as their
  sum); the ``:0`` row only for a product without combinations. Quantities never go below 0.
- An M3 item the shop does not have is reported once, with a resolution hint, and the window goes on.

The nightly reconcile (a poller with a long period, and ``psinfor stock reconcile``) reads every balance and
every shop row and corrects each difference, reporting rows compared, differences, writes and items unknown on
either side.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import PermanentError, TransientError
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.maintenance import enqueue_new_event
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.connectors.infor.stock import QuantityRule
    from integration.connectors.prestashop.catalog import StockRow
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.stock")
ENTITY = "stock"
ITEM = "item"  # binding entity: a shop stock row ("id_product:id_product_attribute") ⇄ an M3 item (ITNO)
WATERMARK = "infor.stock.lmts"
BATCH_SIZE = 200
ROW_LOCK_SECONDS = 60.0
UNKNOWN_HINT = ("create it in the shop through the item flow (it runs when the item changes in M3), or map it: "
                "give the shop's product or combination the reference {itno}, or add "
                "'<product_id>:<combination_id>: {itno}' to the table in mappings/variants.yaml")


def now_ms() -> int:
    return int(time.time() * 1000)


def quantity_rule(rt: Runtime) -> QuantityRule:
    from integration.connectors.infor.stock import QuantityRule

    cfg = rt.mapping.config.inventory
    return QuantityRule(cfg.quantity_field, cfg.warehouses, cfg.safety_stock, cfg.safety_stock_by_item)


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- items → shop rows ------------------------------------------------------------------------------------


def _table_index(rt: Runtime) -> dict[str, str]:
    """``variants.yaml`` table inverted: ITNO → shop row key (a bare product id means its ``:0`` row)."""
    index: dict[str, str] = {}
    for key, itno in rt.mapping.config.variant_table.items():
        index.setdefault(str(itno), key if ":" in key else f"{key}:0")
    return index


def bind_by_reference(rt: Runtime, connection: str, itnos: Sequence[str]) -> dict[str, str]:
    """Find unbound items in the shop the way ``variants.yaml`` says (its table, then the references of
    combinations and of products without combinations), bind what is found once and unambiguously, and
    return ITNO → row key for those."""
    from integration.connectors.prestashop import catalog

    strategies = rt.mapping.config.variant_order
    found: dict[str, str] = {}
    left = list(itnos)
    for strategy in strategies:
        if not left:
            break
        if strategy == "table":
            table = _table_index(rt)
            found.update({i: table[i] for i in left if i in table})
        elif strategy == "reference":
            ps = rt.prestashop(connection)
            combos = catalog.combinations_by_reference(ps, left)
            products = catalog.products_by_reference(ps, [i for i in left if i not in combos])
            for itno in left:
                candidates = [catalog.row_key(c.id_product, c.id) for c in combos.get(itno, [])]
                candidates += [catalog.row_key(p.id, 0) for p in products.get(itno, []) if not p.has_combinations]
                if len(candidates) == 1:
                    found[itno] = candidates[0]
                elif len(candidates) > 1:
                    log.warning("several shop rows carry one item number; not bound", item=itno, rows=candidates,
                                resolution="keep one reference per item, or map it in mappings/variants.yaml")
        left = [i for i in left if i not in found]
    if found:
        rt.store.bind_many(connection, ITEM, [(key, itno) for itno, key in found.items()])
        # A row already bound to another item, or an item bound meanwhile: keep what the store holds.
        found = rt.binder(connection, ITEM).to_shop_many(list(found))
        rt.store.resolve_unknown_items(connection, list(found))
    return found


def resolve_rows(rt: Runtime, connection: str, itnos: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """ITNO → shop row key for the items the shop has (bindings first, then the mapping's look-ups), and the
    items it does not have."""
    found = rt.binder(connection, ITEM).to_shop_many(itnos)
    missing = [i for i in itnos if i not in found]
    if missing:
        found.update(bind_by_reference(rt, connection, missing))
    return found, [i for i in itnos if i not in found]


def report_unknown(rt: Runtime, connection: str, itnos: Sequence[str], source: str) -> list[dict[str, Any]]:
    """Record items the shop does not have; each is logged once (when first met), with the resolution."""
    new = set(rt.store.note_unknown_items(connection, itnos, source))
    for itno in sorted(new):
        log.warning("Infor item does not exist in the shop", item=itno, connection=connection, source=source,
                    resolution=UNKNOWN_HINT.format(itno=itno))
    return [{"item_number": i, "first_report": i in new} for i in itnos]


# -- steps --------------------------------------------------------------------------------------------------


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """The window's items: their shop rows and their balances in every warehouse, read now."""
    from integration.connectors.infor.stock import warehouse_balances

    itnos = [str(i) for i in event.payload.get("items") or []]
    rows, unknown = resolve_rows(rt, event.connection, itnos)
    unknown_report = report_unknown(rt, event.connection, unknown, "stock") if unknown else []
    balances = warehouse_balances(rt.m3(event.connection), sorted(rows)) if rows else {}
    as_of = now_ms()  # after the read: a later reading is at least as new as this one
    unread = sorted(i for i in rows if balances.get(i) is None)
    return {
        "rows": [{"itno": itno, "row_key": rows[itno],
                  "balances": [[b.whlo, str(b.available), str(b.on_hand_minus_reserved or "")]
                               for b in balances[itno] or []]}
                 for itno in sorted(rows) if balances.get(itno) is not None],
        "unknown": unknown_report, "unread": unread, "as_of": as_of,
    }


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """The shop quantity of each row, by the mapping's rule."""
    from decimal import Decimal

    from integration.connectors.infor.stock import Balance, shop_quantity

    rule = quantity_rule(rt)
    rows = []
    for row in extracted["rows"]:
        balances = [Balance(row["itno"], whlo, Decimal(av01), None, {},
                            Decimal(av02) if av02 else None) for whlo, av01, av02 in row["balances"]]
        rows.append({"itno": row["itno"], "row_key": row["row_key"],
                     "quantity": shop_quantity(row["itno"], balances, rule)})
    return {"rows": rows, "unknown": extracted["unknown"], "unread": extracted.get("unread", []),
            "as_of": extracted["as_of"]}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    """Drop the rows whose quantity is what the shop was last given: they are never written again."""
    rows = transformed["rows"]
    memory = rt.store.stock_memory(event.connection, [r["row_key"] for r in rows])
    changed = [r for r in rows if memory.get(r["row_key"], {}).get("quantity") != r["quantity"]]
    if not changed:
        raise SkipEvent(f"no quantity changed ({len(rows)} rows, {len(transformed['unknown'])} unknown items)")
    return {**transformed, "rows": changed, "unchanged": len(rows) - len(changed)}


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Write the changed rows, each on its own: the event retries only while some row is still pending."""
    outcome = write_rows(rt, event.connection, validated["rows"], as_of=int(validated["as_of"]),
                         event_id=event.id, verify=event.attempts > len(FLOW.steps))
    outcome.raise_if_pending()
    return {**outcome.summary(), "unchanged_before": validated.get("unchanged", 0),
            "unknown": [u["item_number"] for u in validated["unknown"]]}


# -- the row writer (shared by the stock flow, the reconcile and the item flow) ---------------------------


@dataclass
class WriteOutcome:
    """Per-row results of one window: written, unchanged, superseded, confirmed (found already written after
    a lost answer), failed (a permanent problem with that row) and pending (to retry)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    retry_after: float = 0.0
    waits_only: bool = True

    def add(self, kind: str, row: dict[str, Any], **extra: Any) -> None:
        self.rows.setdefault(kind, []).append({"row_key": row["row_key"], "itno": row["itno"],
                                               "quantity": row["quantity"], **extra})

    def count(self, kind: str) -> int:
        return len(self.rows.get(kind, []))

    def summary(self) -> dict[str, Any]:
        counts = {kind: len(rows) for kind, rows in self.rows.items()}
        detail = {kind: rows[:50] for kind, rows in self.rows.items() if kind in ("written", "failed", "pending",
                                                                                  "confirmed")}
        return {"counts": counts, "written": self.count("written"), "rows": detail}

    def raise_if_pending(self) -> None:
        pending = self.rows.get("pending")
        if not pending:
            return
        raise TransientError(
            f"{len(pending)} of the window's stock rows are still to write; the others are done",
            retry_after=self.retry_after, counts_as_attempt=not self.waits_only,
            resolution="retried automatically: the next run writes only the pending rows",
            details={"pending": pending[:100], "done": {k: len(v) for k, v in self.rows.items() if k != "pending"}})


class RowLock:
    """One writer per shop row across workers. The holder is the event; a row held by this same event belongs
    to a dead earlier run of it (an event runs once at a time), so it is taken over."""

    _release = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else "
                "return 0 end")

    def __init__(self, rt: Runtime, connection: str, event_id: int):
        self.rt = rt
        self.connection = connection
        self.token = f"event:{event_id}" if event_id else f"run:{time.monotonic_ns()}"
        self.script = rt.redis.register_script(self._release)

    def key(self, row_key: str) -> str:
        return self.rt.key("lock", "stock-row", self.connection, row_key)

    def acquire(self, row_key: str) -> bool:
        key = self.key(row_key)
        ttl = int(ROW_LOCK_SECONDS * 1000)
        if self.rt.redis.set(key, self.token, nx=True, px=ttl):
            return True
        holder = self.rt.redis.get(key)
        held_by = holder.decode() if isinstance(holder, bytes) else holder
        return held_by == self.token and bool(
            self.rt.redis.set(key, self.token, xx=True, px=ttl))

    def release(self, row_key: str) -> None:
        self.script(keys=[self.key(row_key)], args=[self.token])

    def ttl(self, row_key: str) -> float:
        return max(0.0, float(self.rt.redis.pttl(self.key(row_key)) or 0) / 1000)


def _resolve_stock_ids(rt: Runtime, connection: str, rows: Sequence[dict[str, Any]],
                       memory: dict[str, dict[str, Any]], outcome: WriteOutcome) -> list[dict[str, Any]]:
    """Rows with their shop row id (read for rows never met before, one call per 50 products; their current
    quantity becomes the memory, so a row already right is not written). Rows the shop cannot take fail."""
    from integration.connectors.prestashop import catalog

    unknown = [r for r in rows if not memory.get(r["row_key"], {}).get("id_stock_available")]
    if unknown:
        shop = catalog.stock_rows_for_products(rt.prestashop(connection),
                                               {catalog.parse_row_key(r["row_key"])[0] for r in unknown})
        writable = catalog.sellable_rows(shop)
        every = {row.key: row for row in shop}
        seen: list[dict[str, Any]] = []
        for r in unknown:
            stock: StockRow | None = writable.get(r["row_key"])
            if stock is None:
                reason = ("the product has combinations: its row is their sum; bind the item to a combination"
                          if r["row_key"] in every else "the shop has no stock row for it (multistore: id_shop?)")
                outcome.add("failed", r, error=reason)
                continue
            memory.setdefault(r["row_key"], {"quantity": stock.quantity, "as_of": 0})
            memory[r["row_key"]]["id_stock_available"] = stock.id
            seen.append({"row_key": r["row_key"], "item_number": r["itno"], "quantity": stock.quantity,
                         "as_of": 0, "id_stock_available": stock.id})
        rt.store.remember_stock(connection, seen)  # only where nothing newer is known
    failed = {r["row_key"] for r in outcome.rows.get("failed", [])}
    return [r for r in rows if r["row_key"] not in failed]


def write_rows(rt: Runtime, connection: str, rows: Sequence[dict[str, Any]], *, as_of: int, event_id: int = 0,
               verify: bool = False) -> WriteOutcome:
    """Write each row's quantity unless the shop already has it or a newer reading was written.

    ``rows``: ``{row_key, itno, quantity}``. ``verify`` (a re-run): first read the rows whose last write was
    not confirmed, and count those already holding the quantity as done."""
    from integration.connectors.prestashop import catalog
    from integration.connectors.prestashop.errors import PrestaShopNotFound

    outcome = WriteOutcome()
    store = rt.store
    ps = rt.prestashop(connection)
    memory = store.stock_memory(connection, [r["row_key"] for r in rows])
    rows = _resolve_stock_ids(rt, connection, rows, memory, outcome)
    if verify:
        doubtful = [r for r in rows if memory[r["row_key"]].get("quantity") != r["quantity"]]
        if doubtful:
            shop = catalog.stock_rows_by_id(ps, [memory[r["row_key"]]["id_stock_available"] for r in doubtful])
            confirmed = []
            for r in doubtful:
                stock_id = memory[r["row_key"]]["id_stock_available"]
                if stock_id in shop and shop[stock_id].quantity == r["quantity"]:
                    confirmed.append({"row_key": r["row_key"], "item_number": r["itno"], "quantity": r["quantity"],
                                      "as_of": as_of, "id_stock_available": stock_id, "event_id": event_id or None})
                    outcome.add("confirmed", r)
            store.remember_stock(connection, confirmed, written=True)
            done = {c["row_key"] for c in confirmed}
            rows = [r for r in rows if r["row_key"] not in done]
    lock = RowLock(rt, connection, event_id)
    for row in rows:
        key = row["row_key"]
        if not lock.acquire(key):
            outcome.add("pending", row, error="another worker is writing this row")
            outcome.retry_after = max(outcome.retry_after, min(lock.ttl(key), 30.0))
            continue
        try:
            current = store.stock_memory(connection, [key]).get(key) or memory.get(key) or {}
            if int(current.get("as_of") or 0) > as_of:
                outcome.add("superseded", row, newer=current.get("quantity"))
                continue
            if current.get("quantity") == row["quantity"]:
                outcome.add("unchanged", row)
                continue
            stock_id = int(current.get("id_stock_available") or memory[key]["id_stock_available"])
            try:
                catalog.set_stock_quantity(ps, stock_id, int(row["quantity"]))
            except PrestaShopNotFound:
                store.forget_stock_row(connection, key)  # the row id we kept is stale: look it up next time
                outcome.add("pending", row, error="the shop row id changed")
                outcome.waits_only = False
                continue
            except TransientError as exc:
                outcome.add("pending", row, error=exc.message)
                outcome.retry_after = max(outcome.retry_after, exc.retry_after)
                outcome.waits_only = outcome.waits_only and not exc.counts_as_attempt
                continue
            except PermanentError as exc:
                outcome.add("failed", row, error=exc.message, resolution=exc.resolution)
                continue
            store.remember_stock(connection, [{"row_key": key, "item_number": row["itno"],
                                               "quantity": row["quantity"], "as_of": as_of,
                                               "id_stock_available": stock_id, "event_id": event_id or None}],
                                 written=True)
            outcome.add("written", row)
        finally:
            lock.release(key)
    if outcome.count("failed"):
        log.warning("stock rows the shop refused", connection=connection, rows=outcome.rows["failed"][:20])
    return outcome


# -- the delta poller -----------------------------------------------------------------------------------------


def _digest(values: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(values).encode(), usedforsecurity=False).hexdigest()[:20]


def enqueue_windows(rt: Runtime, connection: str, enqueue: Enqueue, itnos: Sequence[str], *, event_type: str,
                    key: str, source: str = "poller") -> list[int]:
    """One event per ``batch_size`` items; a window read again (the same items from the same position) has
    the same dedupe key and is not enqueued twice."""
    created = []
    for window in _chunks(sorted(set(itnos)), FLOW.batch_size):
        new = NewEvent(connection=connection, source_system=source, entity=ENTITY,
                       source_id=f"{window[0]}..{window[-1]}"[:64], event_type=event_type,
                       dedupe_key=f"{key}:{_digest(window)}"[:200], payload={"items": list(window)})
        event_id, was_new = enqueue_new_event(rt.store, new, enqueue)
        if was_new:
            created.append(event_id)
    return created


def poll_stock(rt: Runtime, connection: str, enqueue: Enqueue) -> dict[str, Any]:
    """Read M3's balance changes since the watermark and enqueue them in windows; move the watermark.

    The first poll only sets the watermark (``psinfor stock reconcile`` makes the first alignment). A delta
    larger than one page (LstNewBalances cannot be read on from a position) is caught up by a full reconcile.
    """
    from integration.connectors.infor.items import server_lmts
    from integration.connectors.infor.stock import changed_balances

    store = rt.store
    m3 = rt.m3(connection)
    cfg = rt.mapping.config.inventory
    since = store.get_watermark(connection, WATERMARK)
    if since is None:
        mark = server_lmts(m3)
        store.set_watermark(connection, WATERMARK, mark)
        log.info("stock watermark set; run `psinfor stock reconcile` for the first alignment", mark=mark)
        return {"initialised": mark}
    changes = changed_balances(m3, since, maxrecs=cfg.delta_page_size)
    wanted = set(cfg.warehouses)
    itnos = sorted({b.itno for b in changes.balances if b.whlo in wanted and b.itno})
    created = enqueue_windows(rt, connection, enqueue, itnos, event_type="stock.changed", key=f"stock:{since}")
    summary: dict[str, Any] = {"since": since, "balances": len(changes.balances), "items": len(itnos),
                               "enqueued": len(created)}
    if changes.truncated:
        log.warning("more balance changes than one page: catching up with a full reconcile",
                    page=cfg.delta_page_size)
        summary["catch_up"] = reconcile(rt, connection, apply=enqueue_apply(rt, connection, enqueue)).as_dict()
    store.set_watermark(connection, WATERMARK, changes.next_lmts)
    summary["watermark"] = changes.next_lmts
    log.info("polled stock", connection=connection, **{k: v for k, v in summary.items() if k != "catch_up"})
    return summary


# -- the full reconcile ------------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    connection: str
    dry_run: bool
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    seconds: float = 0.0
    infor_items: int = 0
    shop_rows: int = 0
    compared: int = 0
    differences: int = 0
    written: int = 0  # written here, or handed to the stock flow (``applied_by``)
    applied_by: str = "none"
    newly_bound: int = 0
    unknown_in_shop: int = 0  # M3 items with no shop row
    unknown_in_infor: int = 0  # shop rows with no M3 item
    examples: dict[str, list[Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds by phase: where the time goes

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] = round(self.timings.get(phase, 0.0) + time.monotonic() - started, 3)

    def example(self, kind: str, value: Any, limit: int = 20) -> None:
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < limit:
            bucket.append(value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# apply(rows, as_of) -> how many were written (or handed on): rows are {row_key, itno, quantity}
Apply = Callable[[list[dict[str, Any]], int], int]


def enqueue_apply(rt: Runtime, connection: str, enqueue: Enqueue) -> Apply:
    """Differences go through the stock flow as windows (retried per row, in parallel)."""
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    def apply(rows: list[dict[str, Any]], _as_of: int) -> int:
        enqueue_windows(rt, connection, enqueue, [r["itno"] for r in rows], event_type="stock.reconcile",
                        key=f"stock:reconcile:{run}")
        return len(rows)

    apply.__name__ = "stock flow"
    return apply


def inline_apply(rt: Runtime, connection: str, attempts: int = 5) -> Apply:
    """Differences written here and now (the operator's command), pending rows retried a few times."""

    def apply(rows: list[dict[str, Any]], as_of: int) -> int:
        written = 0
        left = list(rows)
        for attempt in range(attempts):
            outcome = write_rows(rt, connection, left, as_of=as_of, verify=attempt > 0)
            written += outcome.count("written") + outcome.count("confirmed")
            pending = {r["row_key"] for r in outcome.rows.get("pending", [])}
            left = [r for r in left if r["row_key"] in pending]
            if not left:
                break
            time.sleep(min(30.0, max(outcome.retry_after, 0.5 * 2 ** attempt)))
        return written

    apply.__name__ = "inline"
    return apply


def _shop_side(rt: Runtime, connection: str, page_size: int) -> tuple[dict[str, StockRow], dict[str, str]]:
    """The rows a sync may write, and each one's reference (combination's, or the simple product's)."""
    from integration.connectors.prestashop import catalog

    ps = rt.prestashop(connection)
    rows = catalog.sellable_rows(catalog.iter_stock_rows(ps, page_size=page_size))
    references: dict[str, str] = {}
    for product in catalog.iter_products(ps, page_size=page_size):
        key = catalog.row_key(product.id, 0)
        if key in rows and product.reference:
            references[key] = product.reference
    for combination in catalog.iter_combinations(ps, page_size=page_size):
        key = catalog.row_key(combination.id_product, combination.id)
        if key in rows and combination.reference:
            references[key] = combination.reference
    return rows, references


def reconcile(rt: Runtime, connection: str, *, dry_run: bool = False, apply: Apply | None = None) -> ReconcileReport:
    """Compare every M3 item's quantity with its shop row and correct each difference.

    The shop is read whole (stock rows, then product and combination references: the fields needed only);
    M3's item master page by page (positioned by the last ITNO), with each page's balances in bulk. Unbound
    rows are bound the way ``variants.yaml`` says (table, then reference). For every compared row the memory
    of what the shop holds is corrected, so the differences are then written by the ordinary rule ("written
    when it differs from what the shop has"), by ``apply``. ``dry_run`` changes nothing."""
    from integration.connectors.infor.items import iter_items
    from integration.connectors.infor.stock import shop_quantity, warehouse_balances

    started = time.monotonic()
    report = ReconcileReport(connection, dry_run, applied_by=getattr(apply, "__name__", "none") if apply else "none")
    cfg = rt.mapping.config.inventory
    rule = quantity_rule(rt)
    m3 = rt.m3(connection)
    shop_read_at = now_ms()  # what the shop holds is known as of now: a write after it is newer
    with report.timed("shop_read"):
        shop_rows, references = _shop_side(rt, connection, cfg.page_size)
    report.shop_rows = len(shop_rows)
    with report.timed("store"):
        bound = dict(rt.store.all_bindings(connection, ITEM))  # row key -> ITNO
    by_item = {itno: row for row, itno in bound.items()}
    by_reference: dict[str, str | None] = {}
    for row_key, reference in references.items():
        by_reference[reference] = None if reference in by_reference else row_key  # None: ambiguous
    table = _table_index(rt) if "table" in rt.mapping.config.variant_order else {}
    use_reference = "reference" in rt.mapping.config.variant_order
    matched_rows: set[str] = set()
    pages = iter_items(m3, page_size=cfg.page_size)
    while True:
        with report.timed("m3_item_pages"):
            page = next(pages, None)
        if page is None:
            break
        itnos = [r["ITNO"].strip() for r in page]
        report.infor_items += len(itnos)
        pairs: dict[str, str] = {}
        unknown: list[str] = []
        new_bindings: list[tuple[str, str]] = []
        for itno in itnos:
            key: str | None = by_item.get(itno)
            if key is None:
                candidate = table.get(itno) or (by_reference.get(itno) if use_reference else None)
                if candidate and candidate in shop_rows and candidate not in bound:
                    key = candidate
                    bound[key] = itno
                    by_item[itno] = key
                    new_bindings.append((key, itno))
            if key is None or key not in shop_rows:
                unknown.append(itno)
                continue
            pairs[itno] = key
        report.newly_bound += len(new_bindings)
        with report.timed("store"):
            if new_bindings and not dry_run:
                rt.store.bind_many(connection, ITEM, new_bindings)
                rt.store.resolve_unknown_items(connection, [itno for _, itno in new_bindings])
            if unknown and not dry_run:
                report_unknown(rt, connection, unknown, "reconcile")
        report.unknown_in_shop += len(unknown)
        for itno in unknown:
            report.example("unknown_in_shop", itno)
        if not pairs:
            continue
        with report.timed("m3_balances"):
            balances = warehouse_balances(m3, sorted(pairs))
        as_of = now_ms()
        remember: list[dict[str, Any]] = []
        differences: list[dict[str, Any]] = []
        for itno, key in sorted(pairs.items()):
            if balances.get(itno) is None:
                continue
            matched_rows.add(key)
            row = shop_rows[key]
            target = shop_quantity(itno, balances[itno], rule)
            report.compared += 1
            remember.append({"row_key": key, "item_number": itno, "quantity": row.quantity,
                             "as_of": shop_read_at, "id_stock_available": row.id})
            if row.quantity != target:
                report.differences += 1
                report.example("differences", {"row": key, "itno": itno, "shop": row.quantity, "infor": target})
                differences.append({"row_key": key, "itno": itno, "quantity": target})
        if dry_run:
            continue
        with report.timed("store"):
            rt.store.remember_stock(connection, remember)  # what the shop holds now, unless a newer write exists
        if differences and apply is not None:
            with report.timed("apply"):
                report.written += apply(differences, as_of)
    for row_key in sorted(set(shop_rows) - matched_rows):
        report.unknown_in_infor += 1
        report.example("unknown_in_infor", {"row": row_key,
                                            "reference": bound.get(row_key) or references.get(row_key) or ""})
    report.seconds = round(time.monotonic() - started, 3)
    log.info("stock reconciled", **{k: v for k, v in report.as_dict().items() if k != "examples"})
    if not dry_run:
        rt.redis.set(rt.key("stock", "reconcile", connection), json.dumps(report.as_dict()))
    return report


def last_report(rt: Runtime, connection: str) -> dict[str, Any] | None:
    raw = rt.redis.get(rt.key("stock", "reconcile", connection))
    return json.loads(raw) if raw else None


def _poll(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_stock(rt, connection, enqueue)


def _reconcile(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    report = reconcile(rt, connection, apply=enqueue_apply(rt, connection, enqueue))
    return {k: v for k, v in report.as_dict().items() if k != "examples"}


FLOW = Flow(
    entity=ENTITY,
    queue="stock",
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
    pollers=(
        Poller("stock", _poll, "PSINFOR_STOCK_POLL_INTERVAL", 60.0),
        # Nightly: reads both sides whole; its lock outlives the longest run (a 100,000-SKU reconcile).
        Poller("reconcile", _reconcile, "PSINFOR_STOCK_RECONCILE_INTERVAL", 86400.0, lock_seconds=3600.0),
    ),
    batch_size=BATCH_SIZE,
)
