"""The item master, Infor → shop: M3 items become PrestaShop products, their variants combinations.

Invariants:

- Items are grouped into products as ``variants.yaml`` says (M3's style model, an item-number pattern, or
  none); an item in no group is a simple product. Bindings go both ways: ``product`` (shop product id ⇄ style
  or item number) and ``item`` (shop stock row ``product:combination`` ⇄ item number, the stock flow's key).
- A product or combination is created when the shop lacks it (looked up by reference first, so a creation
  whose answer was lost is found, not repeated) and updated when an M3-owned field changed since it was last
  sent (kept in the binding). A field the shop owns (``ownership.yaml``: marketing text by default; images and
  categories are never written at all) is written when the product is created, never after.
- An item retired in M3 (no longer in a sellable status) deactivates its product once no sellable item of
  that product is left. Nothing is ever deleted; items that are not sellable are not created.
- A style product's base price and weight are set when it is created; every variant carries its own price and
  weight as impacts on that base, so a window holding some variants never shifts the others' prices.

Windows of changed items come from M3's change feed (MMS200MI/LstItmFacTime, per facility) by watermark.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import MappingError, PermanentError
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.maintenance import enqueue_new_event
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.mapping.loader import ItemsConfig, VariantGrouping
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.items")
ENTITY = "item"
PRODUCT = "product"  # binding: shop product id ⇄ product key (style number, pattern group or item number)
ITEM = "item"  # binding: shop stock row "product:combination" ⇄ item number (shared with the stock flow)
WATERMARK = "infor.items.lmts"
BATCH_SIZE = 20
DELTA_MAXRECS = 10000
SIX = Decimal("0.000001")
_NOT_CATALOG = re.compile(r"[<>;={}]")


# -- pure helpers -------------------------------------------------------------------------------------------


def catalog_name(text: str) -> str:
    """A PrestaShop product name (``isCatalogName``, at most 128 characters)."""
    return re.sub(r"\s+", " ", _NOT_CATALOG.sub(" ", text)).strip()[:128] or "-"


def slug(text: str) -> str:
    """``link_rewrite``: ASCII, lower case, words joined by dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:128] or "product"


def common_name(names: Sequence[str]) -> str:
    """The name a style's variants share ("Rain jacket" from "Rain jacket Red M", "Rain jacket Blue L"),
    cut at a word boundary; the first name when they share nothing."""
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        return ""
    prefix = cleaned[0]
    for name in cleaned[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    if len(cleaned) > 1 and prefix != cleaned[0]:
        prefix = prefix[:len(prefix) - len(prefix.split()[-1])] if prefix and not prefix.endswith(" ") else prefix
    prefix = prefix.rstrip(" -,/:(")
    return prefix or cleaned[0]


def valid_ean(value: str) -> str:
    value = (value or "").strip()
    return value if value.isdigit() and len(value) in (8, 12, 13) and set(value) != {"0"} else ""


def shop_price(price: Decimal, includes_tax: bool, tax_rate: Decimal) -> Decimal:
    """PrestaShop's ``price`` is tax-excluded (6 decimals)."""
    if includes_tax and tax_rate:
        price = price / (Decimal(1) + tax_rate)
    return price.quantize(SIX, rounding=ROUND_HALF_UP)


@dataclass
class Variant:
    itno: str
    name: dict[int, str]
    description: dict[int, str]
    price: Decimal | None
    weight: Decimal
    ean13: str
    sellable: bool
    attributes: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ProductPlan:
    key: str  # the product's reference: style number, pattern group, or the item number of a simple product
    simple: bool
    variants: list[Variant]


def product_key(itno: str, record: dict[str, str], grouping: VariantGrouping,
                style_attributes: list[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """(product key, attributes) of an item, or (None, []) for a simple product."""
    if grouping.model == "style":
        style = (record.get("HDPR") or "").strip()
        if style and style != itno:
            return style, style_attributes
    elif grouping.model == "pattern" and grouping.pattern is not None:
        match = grouping.pattern.fullmatch(itno)
        if match:
            attributes = [(name, grouping.values.get(name, {}).get(value, value))
                          for name, value in match.groupdict().items() if name != "product" and value]
            return match.group("product"), attributes
    return None, []


def plan_products(variants: Sequence[tuple[str | None, Variant]]) -> list[ProductPlan]:
    """Group variants by product key; items without one are simple products."""
    grouped: dict[str, ProductPlan] = {}
    for key, variant in variants:
        if key is None:
            grouped[f"item:{variant.itno}"] = ProductPlan(variant.itno, True, [variant])
        else:
            grouped.setdefault(f"style:{key}", ProductPlan(key, False, [])).variants.append(variant)
    return list(grouped.values())


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def sent_values(variant: dict[str, Any]) -> dict[str, str]:
    """What the shop is given for one item, by canonical field name (ownership.yaml speaks these names), as
    text: kept in the product's binding, so an update writes only the fields that changed since."""
    return {"name": json.dumps(variant["name"], sort_keys=True),
            "description": json.dumps(variant["description"], sort_keys=True),
            "sales_price": _text(variant["price"]), "weight": _text(variant["weight"]),
            "ean13": _text(variant["ean13"]), "status": "1" if variant["sellable"] else "0"}


def changed_fields(variant: dict[str, Any], last: dict[str, str] | None) -> set[str]:
    return {name for name, value in sent_values(variant).items() if (last or {}).get(name) != value}


# -- steps --------------------------------------------------------------------------------------------------


def _config(rt: Runtime) -> ItemsConfig:
    cfg = rt.mapping.config.items
    if cfg is None:
        raise MappingError("items.yaml is missing", resolution="add mappings/items.yaml")
    return cfg


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """The window's items from M3: basic data, names per language, price and (style model) options."""
    from integration.connectors.infor import items as m3items

    cfg = _config(rt)
    m3 = rt.m3(event.connection)
    itnos = [str(i) for i in event.payload.get("items") or []]
    records = {r["ITNO"].strip(): r for r in m3items.get_items(m3, itnos)}
    if not records:
        raise SkipEvent(f"none of the {len(itnos)} items exists in M3 any more")
    wanted = sorted(records)
    texts = m3items.descriptions(m3, wanted)
    prices = m3items.sales_prices(m3, wanted, m3items.PriceSource(cfg.price_source, cfg.price_list, cfg.currency,
                                                                  cfg.price_customer))
    options: dict[str, list[tuple[str, str]]] = {}
    if rt.mapping.config.variant_grouping.model == "style":
        styles = sorted({(r.get("HDPR") or "").strip() for r in records.values()} - {""} - set(records))
        for rows in m3items.style_variants(m3, styles).values():
            for row in rows:
                options[row.get("ITNO", "").strip()] = m3items.style_attributes(row)
    return {"items": [{"record": records[i], "texts": {k: {"ITDS": v.get("ITDS", ""), "FUDS": v.get("FUDS", "")}
                                                        for k, v in texts.get(i, {}).items()},
                       "price": [str(prices[i][0]), prices[i][1]] if i in prices else None,
                       "options": options.get(i, [])} for i in wanted]}


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """Canonical items grouped into the products they make in the shop."""
    cfg = _config(rt)
    engine = rt.mapping
    grouping = engine.config.variant_grouping
    keyed: list[tuple[str | None, Variant]] = []
    for entry in extracted["items"]:
        record = entry["record"]
        item = engine.infor_item_to_canonical(record)
        names = {lang: (entry["texts"].get(lncd, {}).get("ITDS") or item.name or item.item_number)
                 for lang, lncd in cfg.languages.items()}
        descriptions = {lang: (entry["texts"].get(lncd, {}).get("FUDS") or item.description)
                        for lang, lncd in cfg.languages.items()}
        price = None
        if entry["price"] is not None:
            raw, tinc = entry["price"]
            price = shop_price(Decimal(raw), bool(tinc) if tinc is not None else cfg.price_includes_tax,
                               cfg.tax_rate)
        key, attributes = product_key(item.item_number, record, grouping, [tuple(p) for p in entry["options"]])
        keyed.append((key, Variant(item.item_number, {k: catalog_name(v) for k, v in names.items()},
                                   descriptions, price, item.weight or Decimal(0), valid_ean(item.ean13),
                                   engine.item_is_sellable(item), attributes)))
    return {"products": [_plan_dict(p) for p in plan_products(keyed)]}


def _plan_dict(plan: ProductPlan) -> dict[str, Any]:
    return {"key": plan.key, "simple": plan.simple, "variants": [
        {"itno": v.itno, "name": v.name, "description": v.description,
         "price": None if v.price is None else str(v.price), "weight": str(v.weight), "ean13": v.ean13,
         "sellable": v.sellable, "attributes": [list(a) for a in v.attributes]} for v in plan.variants]}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    """Drop the products whose every item is bound and unchanged since it was last sent."""
    items = rt.binder(event.connection, ITEM)
    changed = []
    for product in transformed["products"]:
        for variant in product["variants"]:
            row = items.to_shop(variant["itno"])
            sent = rt.binder(event.connection, PRODUCT).data(row.split(":")[0]).get("items", {}) if row else {}
            if row is None or changed_fields(variant, sent.get(variant["itno"])):
                changed.append(product)
                break
    if not changed:
        raise SkipEvent(f"{len(transformed['products'])} products: nothing changed since last sent")
    return {"products": changed}


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Create or update each product (under a lock per product), then give new rows their stock."""
    results = []
    new_rows: list[tuple[str, str]] = []
    failures = []
    for product in validated["products"]:
        try:
            with rt.record_lock(f"{event.connection}:product:{product['key']}"):
                result = ProductSync(rt, event.connection, product).run()
        except PermanentError as exc:
            failures.append({"product": product["key"], "error": exc.message, "resolution": exc.resolution})
            log.warning("product not synced", product=product["key"], error=exc.message,
                        resolution=exc.resolution)
            continue
        results.append(result)
        new_rows.extend(result.pop("new_rows"))
    stock = _initial_stock(rt, event, new_rows) if new_rows else {}
    if failures and not results:
        raise PermanentError(f"no product of the window could be synced: {failures[0]['error']}",
                             resolution=failures[0]["resolution"], details={"failures": failures})
    return {"products": results, "failed": failures, "stock": stock}


def _initial_stock(rt: Runtime, event: EventView, rows: list[tuple[str, str]]) -> dict[str, Any]:
    """New shop rows get M3's quantity at once, through the stock flow's writer."""
    from integration.connectors.infor.stock import shop_quantity, warehouse_balances
    from integration.flows.inventory import now_ms, quantity_rule, write_rows

    balances = warehouse_balances(rt.m3(event.connection), sorted({itno for _, itno in rows}))
    as_of = now_ms()
    rule = quantity_rule(rt)
    targets = [{"row_key": key, "itno": itno, "quantity": shop_quantity(itno, balances[itno], rule)}
               for key, itno in rows if balances.get(itno) is not None]
    outcome = write_rows(rt, event.connection, targets, as_of=as_of, event_id=event.id,
                         verify=event.attempts > len(FLOW.steps))
    return outcome.summary()["counts"]


class ProductSync:
    """One product of a window: find or create it, then its variants; remember what was sent."""

    def __init__(self, rt: Runtime, connection: str, product: dict[str, Any]):
        from integration.connectors.prestashop import catalog

        self.rt = rt
        self.connection = connection
        self.product = product
        self.catalog = catalog
        self.ps = rt.prestashop(connection)
        self.cfg = _config(rt)
        self.engine = rt.mapping
        self.products = rt.binder(connection, PRODUCT)
        self.items = rt.binder(connection, ITEM)
        self.new_rows: list[tuple[str, str]] = []
        self.created: list[str] = []
        self.updated: list[str] = []
        self._values: Any = None

    def attribute_values(self) -> Any:
        """Attribute groups and values by name, read once per product sync (a catalogue has few)."""
        if self._values is None:
            self._values = self.catalog.AttributeValues(self.ps, self.cfg.languages)
        return self._values

    def owned(self, name: str) -> bool:
        return self.engine.owner_of("item", name) != "prestashop"

    def run(self) -> dict[str, Any]:
        product = self.product
        variants = product["variants"]
        pid, data = self.find_or_create()
        if pid is None:
            return {"product": product["key"], "skipped": "not sellable, not in the shop", "new_rows": []}
        sent: dict[str, dict[str, str]] = dict(data.get("items", {}))
        sellable: dict[str, bool] = dict(data.get("sellable", {}))
        for variant in variants:
            sellable[variant["itno"]] = bool(variant["sellable"])
        if product["simple"]:
            key = self.catalog.row_key(pid, 0)
            self.bind_row(key, variants[0]["itno"])
            if self.created:
                self.new_rows.append((key, variants[0]["itno"]))
            self.update_simple(pid, variants[0], data)
        else:
            for variant in variants:
                self.sync_variant(pid, variant, data)
        active = any(sellable.values())
        if self.owned("status") and data.get("active") != active and "status" not in data.get("created", []):
            self.catalog.update_product(self.ps, pid, {"active": active})
            self.updated.append(f"product {pid}: active={int(active)}")
        for variant in variants:
            sent[variant["itno"]] = sent_values(variant)
        self.products.update(str(pid), items=sent, sellable=sellable, active=active, created=[])
        return {"product": product["key"], "id_product": pid, "created": self.created, "updated": self.updated,
                "active": active, "new_rows": self.new_rows}

    # -- the product ------------------------------------------------------------------------------------
    def find_or_create(self) -> tuple[int | None, dict[str, Any]]:
        key = self.product["key"]
        bound = self.products.to_shop(key)
        if bound is not None:
            return int(bound), self.products.data(bound)
        found = self.catalog.products_by_reference(self.ps, [key]).get(key, [])
        if len(found) > 1:
            raise PermanentError(f"several shop products carry the reference {key}",
                                 resolution="keep one product per reference, then sync the item again")
        if found:
            pid = found[0].id
            current = self.catalog.get_product(self.ps, pid)  # its price and weight: the base of the impacts
            self.products.bind(pid, key, {"items": {}, "sellable": {}, "active": found[0].active,
                                          "base_price": str(current.get("price") or 0),
                                          "base_weight": str(current.get("weight") or 0)})
            return pid, self.products.data(pid)
        variants = [v for v in self.product["variants"] if v["sellable"]]
        if not variants:
            return None, {}
        pid = self.create_product(variants)
        self.products.bind(pid, key, {"items": {}, "sellable": {}, "active": True, "created": ["status"],
                                      "base_price": self.base_price(variants),
                                      "base_weight": str(min(Decimal(v["weight"]) for v in variants))})
        return pid, self.products.data(pid)

    @staticmethod
    def base_price(variants: Sequence[dict[str, Any]]) -> str:
        prices = [Decimal(v["price"]) for v in variants if v["price"] is not None]
        return str(min(prices)) if prices else "0"

    def create_product(self, variants: Sequence[dict[str, Any]]) -> int:
        first = variants[0]
        simple = self.product["simple"]
        names = first["name"] if simple else {
            lang: catalog_name(common_name([v["name"].get(lang, "") for v in variants]))
            for lang in first["name"]}
        fields: dict[str, Any] = {
            "reference": self.product["key"], "name": names,
            "link_rewrite": {lang: slug(text) for lang, text in names.items()},
            "description": first["description"] if simple else {lang: "" for lang in names},
            "price": Decimal(first["price"]) if simple and first["price"] else Decimal(self.base_price(variants)),
            "weight": Decimal(first["weight"]) if simple else min(Decimal(v["weight"]) for v in variants),
            "id_category_default": self.cfg.id_category_default, "id_tax_rules_group": self.cfg.id_tax_rules_group,
            "active": True, "state": 1, "product_type": "standard" if simple else "combinations",
            "minimal_quantity": 1, "available_for_order": True, "show_price": True, "visibility": "both",
            "associations": {"categories": [{"id": self.cfg.id_category_default}]},
        }
        if simple and first["ean13"]:
            fields["ean13"] = first["ean13"]
        pid = self.catalog.create_product(self.ps, fields)
        self.created.append(f"product {pid}")
        log.info("product created in the shop", product=self.product["key"], id_product=pid)
        return pid

    def update_simple(self, pid: int, variant: dict[str, Any], data: dict[str, Any]) -> None:
        last = data.get("items", {}).get(variant["itno"])
        if data.get("created") and last is None:
            return  # just created with these values
        changed = {f for f in changed_fields(variant, last) if self.owned(f)}
        changes: dict[str, Any] = {}
        if "name" in changed:
            changes["name"] = variant["name"]
        if "description" in changed:
            changes["description"] = variant["description"]
        if "sales_price" in changed and variant["price"] is not None:
            changes["price"] = Decimal(variant["price"])
        if "weight" in changed:
            changes["weight"] = Decimal(variant["weight"])
        if "ean13" in changed and variant["ean13"]:
            changes["ean13"] = variant["ean13"]
        if changes:
            self.catalog.update_product(self.ps, pid, changes)
            self.updated.append(f"product {pid}: {', '.join(sorted(changes))}")

    # -- variants ------------------------------------------------------------------------------------
    def bind_row(self, key: str, itno: str) -> None:
        if self.items.to_shop(itno) is None:
            self.items.bind(key, itno)
            self.rt.store.resolve_unknown_items(self.connection, [itno])

    def sync_variant(self, pid: int, variant: dict[str, Any], data: dict[str, Any]) -> None:
        itno = variant["itno"]
        base_price = Decimal(data.get("base_price") or "0")
        base_weight = Decimal(data.get("base_weight") or "0")
        row = self.items.to_shop(itno)
        cid = self.catalog.parse_row_key(row)[1] if row else None
        if cid is None:
            found = [c for c in self.catalog.combinations_by_reference(self.ps, [itno]).get(itno, [])
                     if c.id_product == pid]
            if found:
                cid = found[0].id
                self.bind_row(self.catalog.row_key(pid, cid), itno)
        impact_price = (Decimal(variant["price"]) - base_price) if variant["price"] is not None else None
        impact_weight = Decimal(variant["weight"]) - base_weight
        if cid is None:
            if not variant["sellable"]:
                return
            values = self.attribute_values()
            fields: dict[str, Any] = {
                "id_product": pid, "reference": itno, "minimal_quantity": 1,
                "price": (impact_price or Decimal(0)).quantize(SIX), "weight": impact_weight.quantize(SIX),
                "associations": {"product_option_values": [{"id": values.value_id(g, v)}
                                                           for g, v in variant["attributes"]]},
            }
            if variant["ean13"]:
                fields["ean13"] = variant["ean13"]
            cid = self.catalog.create_combination(self.ps, fields)
            key = self.catalog.row_key(pid, cid)
            self.bind_row(key, itno)
            self.new_rows.append((key, itno))
            self.created.append(f"combination {cid} ({itno})")
            return
        changed = {f for f in changed_fields(variant, data.get("items", {}).get(itno)) if self.owned(f)}
        changes: dict[str, Any] = {}
        if "sales_price" in changed and impact_price is not None:
            changes["price"] = impact_price.quantize(SIX)
        if "weight" in changed:
            changes["weight"] = impact_weight.quantize(SIX)
        if "ean13" in changed and variant["ean13"]:
            changes["ean13"] = variant["ean13"]
        if changes:
            self.catalog.update_combination(self.ps, cid, changes)
            self.updated.append(f"combination {cid}: {', '.join(sorted(changes))}")


# -- the poller ---------------------------------------------------------------------------------------------


def _digest(values: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(values).encode(), usedforsecurity=False).hexdigest()[:20]


def enqueue_items(rt: Runtime, connection: str, enqueue: Enqueue, itnos: Sequence[str], *, key: str,
                  source: str = "poller") -> list[int]:
    """One event per window of ``batch_size`` items (sorted, so a style's variants mostly travel together)."""
    ordered = sorted(set(itnos))
    created = []
    for start in range(0, len(ordered), FLOW.batch_size):
        window = ordered[start:start + FLOW.batch_size]
        new = NewEvent(connection=connection, source_system=source, entity=ENTITY,
                       source_id=f"{window[0]}..{window[-1]}"[:64], event_type="item.changed",
                       dedupe_key=f"{key}:{_digest(window)}"[:200], payload={"items": window})
        event_id, was_new = enqueue_new_event(rt.store, new, enqueue)
        if was_new:
            created.append(event_id)
    return created


def poll_items(rt: Runtime, connection: str, enqueue: Enqueue) -> dict[str, Any]:
    """Items changed in the mapping's facility since the watermark, in windows; the first poll only sets it."""
    from integration.connectors.infor.items import changed_item_numbers, iter_items, server_lmts

    cfg = _config(rt)
    m3 = rt.m3(connection)
    since = rt.store.get_watermark(connection, WATERMARK)
    if since is None:
        mark = server_lmts(m3)
        rt.store.set_watermark(connection, WATERMARK, mark)
        return {"initialised": mark}
    changes = changed_item_numbers(m3, cfg.facility, since, maxrecs=DELTA_MAXRECS)
    itnos = changes.itnos
    if changes.truncated:  # no position key to read on from: take the whole master, page by page
        log.warning("more item changes than one page: reading the whole item master", page=DELTA_MAXRECS)
        itnos = [r["ITNO"].strip() for page in iter_items(m3) for r in page]
    created = enqueue_items(rt, connection, enqueue, itnos, key=f"items:{since}")
    rt.store.set_watermark(connection, WATERMARK, changes.next_lmts)
    summary = {"since": since, "items": len(itnos), "enqueued": len(created), "watermark": changes.next_lmts}
    log.info("polled items", connection=connection, **summary)
    return summary


def _poll(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_items(rt, connection, enqueue)


FLOW = Flow(
    entity=ENTITY,
    queue="items",
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
    pollers=(Poller("items", _poll, "PSINFOR_ITEM_POLL_INTERVAL", 300.0),),
    batch_size=BATCH_SIZE,
)
