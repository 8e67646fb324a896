"""The PrestaShop sandbox's catalogue side: attribute groups and values, what PrestaShop does when a product or
combination is created, writes counted by resource, and a generated catalogue of any size.

- ``product_options`` and ``product_option_values`` resources (PrestaShop 8's fields), seeded with the
  attribute values the seed catalogue's combinations already use (same ids).
- Creating a product creates its stock row (``id_product_attribute`` 0, quantity 0); creating a combination
  creates its row, adds it to the product's ``combinations`` and ``stock_availables`` associations, makes the
  first one the default and turns the product's row into the sum of its variants (``StockAvailable``).
- ``writes`` counts successful webservice writes by resource and method (what the bench compares with the
  rows that changed).

Control API: ``POST /_sandbox/catalogue/generate {"skus", "variants"?, "warehouses"?, "shop_warehouses"?,
"seed"?}``, ``POST /_sandbox/catalogue/perturb {"count", "seed"?}`` (deliberate stock differences, no
webhook), ``GET /_sandbox/catalogue/writes``, ``POST /_sandbox/catalogue/writes/reset``.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psinfor_devkit.sandbox import catalogue, catalogue_scale
from psinfor_devkit.sandbox.prestashop.schema import RESOURCES, Association, F, Resource, _register

if TYPE_CHECKING:
    from psinfor_devkit.sandbox.prestashop.app import PrestaShopSandboxApp
    from psinfor_devkit.sandbox.prestashop.state import ShopState
    from psinfor_devkit.sandbox.wsgi import Response

if "product_options" not in RESOURCES:
    _register(Resource("product_options", "product_option", (
        F("id"), F("is_color_group", fmt="isBool"), F("group_type", required=True), F("position"),
        F("name", required=True, lang=True, max_size=128, fmt="isGenericName"),
        F("public_name", required=True, lang=True, max_size=64, fmt="isGenericName"),
    ), associations=(
        Association("product_option_values", "product_option_value", ("id",), api="product_option_values"),
    ), description="The product options"))
    _register(Resource("product_option_values", "product_option_value", (
        F("id"), F("id_attribute_group", required=True, href="product_options", fmt="isUnsignedId"),
        F("color", max_size=32), F("position"),
        F("name", required=True, lang=True, max_size=128, fmt="isGenericName"),
    ), description="The product options value"))

_lock = threading.Lock()


def _lang(state: ShopState, text: str) -> dict[int, str]:
    from psinfor_devkit.sandbox.prestashop.state import LANGUAGES

    return dict.fromkeys(LANGUAGES, text)


def install(state: ShopState) -> None:
    """Seed the attribute groups and values the seed combinations use, and the write counters."""
    state.writes_by_resource = Counter()  # type: ignore[attr-defined]
    state.catalogue_generated = []  # type: ignore[attr-defined]
    groups: dict[str, int] = {}
    values: dict[tuple[str, str], int] = {}
    for product in catalogue.PRODUCTS:
        for combo in product.combinations:
            for group, value in combo.attributes:
                groups.setdefault(group, len(groups) + 1)
                values.setdefault((group, value), len(values) + 1)
    for group, group_id in groups.items():
        state._insert("product_options", {"is_color_group": "1" if group == "Color" else "0",
                                          "group_type": "color" if group == "Color" else "select",
                                          "position": str(group_id - 1), "name": _lang(state, group),
                                          "public_name": _lang(state, group),
                                          "associations": {"product_option_values": []}}, group_id)
    for (group, value), value_id in values.items():
        state._insert("product_option_values", {"id_attribute_group": str(groups[group]), "color": "",
                                                "position": str(value_id), "name": _lang(state, value)}, value_id)


def option_value(state: ShopState, group: str, value: str) -> int:
    """The id of an attribute value, the group and value created when missing (the caller holds the lock)."""
    group_id = next((int(r["id"]) for r in state.tables["product_options"].values()
                     if r["name"].get(1, "").lower() == group.lower()), None)
    if group_id is None:
        group_id = int(state._insert("product_options", {
            "is_color_group": "0", "group_type": "select", "position": "0", "name": _lang(state, group),
            "public_name": _lang(state, group), "associations": {"product_option_values": []}})["id"])
    for row in state.tables["product_option_values"].values():
        if int(row["id_attribute_group"]) == group_id and row["name"].get(1, "").lower() == value.lower():
            return int(row["id"])
    return int(state._insert("product_option_values", {"id_attribute_group": str(group_id), "color": "",
                                                       "position": "0", "name": _lang(state, value)})["id"])


# -- what a creation does (hooked into ShopState._write_one) ------------------------------------------------


def after_create(state: ShopState, resource: str, record: dict[str, Any]) -> None:
    """PrestaShop's side effects of a POST: stock rows, the product's associations, its default combination."""
    if resource == "products":
        row = state._insert("stock_availables", state._stock_values(int(record["id"]), 0, 0))
        assoc = dict(record.get("associations") or {})
        assoc["stock_availables"] = [{"id": row["id"], "id_product_attribute": "0"}]
        assoc.setdefault("combinations", [])
        state._replace("products", {**record, "associations": assoc})
    elif resource == "combinations":
        product_id = int(record["id_product"])
        product = state.get("products", product_id)
        row = state._insert("stock_availables", state._stock_values(product_id, int(record["id"]), 0))
        if product is None:
            return
        assoc = dict(product.get("associations") or {})
        combinations = [*assoc.get("combinations", []), {"id": record["id"]}]
        assoc["combinations"] = combinations
        assoc["stock_availables"] = [*assoc.get("stock_availables", []),
                                     {"id": row["id"], "id_product_attribute": record["id"]}]
        changes: dict[str, Any] = {"associations": assoc, "product_type": "combinations"}
        if len(combinations) == 1:
            changes.update(cache_default_attribute=record["id"], id_default_combination=record["id"])
            state._replace("combinations", {**record, "default_on": "1"})
        state._replace("products", {**product, **changes})
        state._recompute_product_row(product_id)


def count_write(state: ShopState, method: str, resource: str, count: int) -> None:
    counter = getattr(state, "writes_by_resource", None)
    if counter is not None and method in ("POST", "PUT", "PATCH") and count:
        with _lock:
            counter[f"{method} {resource}"] += count


# -- a generated catalogue ------------------------------------------------------------------------------------


def generate(state: ShopState, skus: int, *, variants: int = 4,
             warehouses: Sequence[str] = catalogue_scale.WAREHOUSES, shop_warehouses: Sequence[str] = ("100",),
             seed: int = 1) -> dict[str, Any]:
    """The shop half of ``catalogue_scale.generate``: products, combinations and stock rows whose quantities
    are the sum of ``shop_warehouses`` (as the stock flow computes them with nothing allocated)."""
    made = 0
    when = state.now()
    with state.lock:
        sizes = {size: option_value(state, catalogue_scale.SIZE_GROUP, size) for size in catalogue_scale.SIZES}
        for product in catalogue_scale.generate(skus, variants=variants, warehouses=warehouses, seed=seed):
            first = product.skus[0]
            record = state._insert("products", {
                "reference": product.reference, "name": _lang(state, product.name if not product.simple
                                                              else first.name),
                "price": format(first.price, "f"), "weight": format(first.weight, "f"),
                "ean13": first.ean13 if product.simple else "", "active": "1", "state": "1",
                "id_category_default": "2", "id_tax_rules_group": "1", "minimal_quantity": "1",
                "product_type": "standard" if product.simple else "combinations", "visibility": "both",
                "available_for_order": "1", "show_price": "1", "date_add": when, "date_upd": when,
                "link_rewrite": _lang(state, product.reference.lower()),
                "associations": {"categories": [{"id": "2"}], "combinations": [], "stock_availables": []},
            })
            product_id = int(record["id"])
            rows: list[dict[str, str]] = []
            combos: list[dict[str, str]] = []
            if product.simple:
                row = state._insert("stock_availables", state._stock_values(
                    product_id, 0, catalogue_scale.shop_quantity(first, shop_warehouses)))
                rows.append({"id": row["id"], "id_product_attribute": "0"})
            else:
                total = 0
                row0 = state._insert("stock_availables", state._stock_values(product_id, 0, 0))
                rows.append({"id": row0["id"], "id_product_attribute": "0"})
                for n, sku in enumerate(product.skus):
                    combo = state._insert("combinations", {
                        "id_product": str(product_id), "reference": sku.itno, "ean13": sku.ean13,
                        "price": "0.000000", "weight": "0.000000", "minimal_quantity": "1",
                        "default_on": "1" if n == 0 else "", "available_date": "0000-00-00",
                        "associations": {"product_option_values": [{"id": str(sizes[sku.size])}], "images": []}})
                    quantity = catalogue_scale.shop_quantity(sku, shop_warehouses)
                    total += quantity
                    row = state._insert("stock_availables", state._stock_values(product_id, int(combo["id"]),
                                                                                quantity))
                    rows.append({"id": row["id"], "id_product_attribute": combo["id"]})
                    combos.append({"id": combo["id"]})
                state._replace("stock_availables", {**row0, "quantity": str(total)})
            first_combo = combos[0]["id"] if combos else "0"
            state._replace("products", {**record, "cache_default_attribute": first_combo,
                                        "id_default_combination": first_combo,
                                        "associations": {**record["associations"], "combinations": combos,
                                                         "stock_availables": rows}})
            state.catalogue_generated.extend(int(r["id"]) for r in rows  # type: ignore[attr-defined]
                                             if product.simple or r["id_product_attribute"] != "0")
            made += len(product.skus)
    return {"skus": made, "products": len(state.tables["products"]),
            "combinations": len(state.tables["combinations"]), "stock_rows": len(state.tables["stock_availables"])}


def perturb(state: ShopState, count: int, seed: int = 3) -> list[dict[str, int]]:
    """Deliberate differences: ``count`` sellable stock rows of the generated catalogue (else of the whole
    shop) get another quantity, as a back-office edit the middleware never heard of would."""
    rng = random.Random(seed)
    with state.lock:
        pool = list(getattr(state, "catalogue_generated", []) or [])
        if not pool:
            sellable = {int(r["id"]) for r in state.tables["stock_availables"].values()
                        if r["id_product_attribute"] != "0" or not state._variant_ids(int(r["id_product"]))}
            pool = sorted(sellable)
        changed = []
        for row_id in sorted(rng.sample(pool, min(count, len(pool)))):
            row = state.tables["stock_availables"][row_id]
            old = int(row["quantity"])
            new = old + rng.choice([d for d in range(-15, 16) if d])
            new = new if new >= 0 else old + 7
            state._replace("stock_availables", {**row, "quantity": str(new)})
            if row["id_product_attribute"] != "0":
                state._recompute_product_row(int(row["id_product"]))
            changed.append({"id": row_id, "id_product": int(row["id_product"]),
                            "id_product_attribute": int(row["id_product_attribute"]), "old": old, "new": new})
    return changed


def control(app: PrestaShopSandboxApp, method: str, path: str, data: dict[str, Any]) -> Response | None:
    """The catalogue's control routes, or None for a path that is not one of them."""
    from psinfor_devkit.sandbox.wsgi import Response

    state = app.state

    def answer(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status, content_type="application/json")

    if path == "/_sandbox/catalogue/generate" and method == "POST":
        return answer(generate(state, int(data["skus"]), variants=int(data.get("variants", 4)),
                               warehouses=tuple(data.get("warehouses") or catalogue_scale.WAREHOUSES),
                               shop_warehouses=tuple(data.get("shop_warehouses") or ("100",)),
                               seed=int(data.get("seed", 1))))
    if path == "/_sandbox/catalogue/perturb" and method == "POST":
        return answer({"rows": perturb(state, int(data["count"]), int(data.get("seed", 3)))})
    if path == "/_sandbox/catalogue/writes" and method == "GET":
        with _lock:
            return answer(dict(getattr(state, "writes_by_resource", {})))
    if path == "/_sandbox/catalogue/writes/reset" and method == "POST":
        with _lock:
            getattr(state, "writes_by_resource", Counter()).clear()
        return answer({"ok": True})
    return None
