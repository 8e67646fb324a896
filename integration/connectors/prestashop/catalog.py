"""The shop's catalogue as the stock and item flows see it: products, combinations, attribute values and the
``stock_availables`` rows, read in pages and written one object at a time, as plain functions over
``PrestaShopClient`` (its rate limit, breaker and typed errors apply to every call).

Stock rules kept here (reference/prestashop-webservice.md §6.7): a product with combinations has one row per
combination plus the ``id_product_attribute=0`` row that PrestaShop recomputes as their sum, so only the
combination rows are written; a product without combinations has only the ``0`` row, and that one is written.
A row is addressed by its ``stock_availables`` id; rows are found by product (``filter[id_product]``) or by id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integration.connectors.prestashop.client import PrestaShopClient

STOCK_DISPLAY = ("id", "id_product", "id_product_attribute", "quantity", "depends_on_stock")
PRODUCT_DISPLAY = ("id", "reference", "cache_default_attribute", "active")
COMBINATION_DISPLAY = ("id", "id_product", "reference")
# Values that cannot go inside a filter's brackets: such references are never looked up (bind them by hand).
_FILTER_UNSAFE = re.compile(r"[\[\]|%,]")


def row_key(id_product: int, id_product_attribute: int) -> str:
    """``"12:0"`` (a simple product's row) or ``"1:3"`` (a combination): the shop side of an item binding."""
    return f"{int(id_product)}:{int(id_product_attribute)}"


def parse_row_key(key: str) -> tuple[int, int]:
    product, _, attribute = key.partition(":")
    return int(product), int(attribute or 0)


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- stock rows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockRow:
    id: int
    id_product: int
    id_product_attribute: int
    quantity: int
    depends_on_stock: bool = False

    @property
    def key(self) -> str:
        return row_key(self.id_product, self.id_product_attribute)


def _stock_row(record: Mapping[str, Any]) -> StockRow:
    return StockRow(int(record["id"]), int(record.get("id_product") or 0),
                    int(record.get("id_product_attribute") or 0), int(record.get("quantity") or 0),
                    record.get("depends_on_stock") is True)


def iter_stock_rows(ps: PrestaShopClient, *, page_size: int = 1000) -> Iterator[StockRow]:
    """Every stock row of the shop (the full scan a reconcile needs: stock rows have no date to filter on)."""
    for record in ps.list("stock_availables", display=list(STOCK_DISPLAY), page_size=page_size):
        yield _stock_row(record)


def stock_rows_for_products(ps: PrestaShopClient, product_ids: Iterable[int], *, chunk: int = 50) -> list[StockRow]:
    """The stock rows of some products (all their combinations and the product row)."""
    ids = sorted({int(i) for i in product_ids})
    rows: list[StockRow] = []
    for part in _chunks(ids, chunk):
        rows.extend(_stock_row(r) for r in ps.list("stock_availables", display=list(STOCK_DISPLAY),
                                                     filters={"id_product": list(part)}, page_size=1000))
    return rows


def stock_rows_by_id(ps: PrestaShopClient, ids: Iterable[int], *, chunk: int = 100) -> dict[int, StockRow]:
    """Stock rows by their ids (to check what a write whose answer was lost really did)."""
    wanted = sorted({int(i) for i in ids})
    found: dict[int, StockRow] = {}
    for part in _chunks(wanted, chunk):
        for record in ps.list("stock_availables", display=list(STOCK_DISPLAY), filters={"id": list(part)},
                              page_size=len(part) + 1):
            row = _stock_row(record)
            found[row.id] = row
    return found


def set_stock_quantity(ps: PrestaShopClient, stock_id: int, quantity: int) -> None:
    """One row's quantity: PATCH on 8.x, GET + PUT on 1.7 (the client decides)."""
    ps.patch("stock_availables", int(stock_id), {"quantity": int(quantity)})


def sellable_rows(rows: Iterable[StockRow]) -> dict[str, StockRow]:
    """The rows a sync may write: a product's combination rows when it has any, else its own (``:0``) row."""
    by_product: dict[int, list[StockRow]] = {}
    for row in rows:
        by_product.setdefault(row.id_product, []).append(row)
    chosen: dict[str, StockRow] = {}
    for product_rows in by_product.values():
        variants = [r for r in product_rows if r.id_product_attribute > 0]
        for row in variants or [r for r in product_rows if r.id_product_attribute == 0]:
            chosen[row.key] = row
    return chosen


# -- products and combinations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopProduct:
    id: int
    reference: str
    has_combinations: bool
    active: bool = True


@dataclass(frozen=True)
class ShopCombination:
    id: int
    id_product: int
    reference: str


def _product(record: Mapping[str, Any]) -> ShopProduct:
    return ShopProduct(int(record["id"]), str(record.get("reference") or ""),
                       int(record.get("cache_default_attribute") or 0) > 0, record.get("active") is not False)


def _combination(record: Mapping[str, Any]) -> ShopCombination:
    return ShopCombination(int(record["id"]), int(record.get("id_product") or 0), str(record.get("reference") or ""))


def iter_products(ps: PrestaShopClient, *, page_size: int = 1000) -> Iterator[ShopProduct]:
    for record in ps.list("products", display=list(PRODUCT_DISPLAY), page_size=page_size):
        yield _product(record)


def iter_combinations(ps: PrestaShopClient, *, page_size: int = 1000) -> Iterator[ShopCombination]:
    for record in ps.list("combinations", display=list(COMBINATION_DISPLAY), page_size=page_size):
        yield _combination(record)


def _by_reference(ps: PrestaShopClient, resource: str, display: Sequence[str], references: Iterable[str],
                  chunk: int) -> list[dict[str, Any]]:
    refs = sorted({r for r in references if r and not _FILTER_UNSAFE.search(r)})
    found: list[dict[str, Any]] = []
    for part in _chunks(refs, chunk):
        found.extend(ps.list(resource, display=list(display), filters={"reference": list(part)}, page_size=1000))
    return found


def products_by_reference(ps: PrestaShopClient, references: Iterable[str], *,
                          chunk: int = 20) -> dict[str, list[ShopProduct]]:
    """Shop products carrying each reference (PrestaShop does not make references unique: a list each)."""
    found: dict[str, list[ShopProduct]] = {}
    wanted = set(references)
    for record in _by_reference(ps, "products", PRODUCT_DISPLAY, wanted, chunk):
        product = _product(record)
        if product.reference in wanted:  # the shop's filter ignores case; M3 item numbers do not
            found.setdefault(product.reference, []).append(product)
    return found


def combinations_by_reference(ps: PrestaShopClient, references: Iterable[str], *,
                              chunk: int = 20) -> dict[str, list[ShopCombination]]:
    found: dict[str, list[ShopCombination]] = {}
    wanted = set(references)
    for record in _by_reference(ps, "combinations", COMBINATION_DISPLAY, wanted, chunk):
        combination = _combination(record)
        if combination.reference in wanted:
            found.setdefault(combination.reference, []).append(combination)
    return found


def get_product(ps: PrestaShopClient, product_id: int) -> dict[str, Any]:
    return ps.get("products", int(product_id))


def create_product(ps: PrestaShopClient, fields: Mapping[str, Any]) -> int:
    return int(ps.create("products", fields)["id"])


def update_product(ps: PrestaShopClient, product_id: int, fields: Mapping[str, Any]) -> None:
    if fields:
        ps.patch("products", int(product_id), fields)


def create_combination(ps: PrestaShopClient, fields: Mapping[str, Any]) -> int:
    return int(ps.create("combinations", fields)["id"])


def update_combination(ps: PrestaShopClient, combination_id: int, fields: Mapping[str, Any]) -> None:
    if fields:
        ps.patch("combinations", int(combination_id), fields)


# -- attribute groups and values ---------------------------------------------------------------------------


class AttributeValues:
    """Attribute groups (``product_options``) and their values (``product_option_values``) by name, created
    when missing. Read once per instance (one per load step): a catalogue has few of them."""

    def __init__(self, ps: PrestaShopClient, languages: Iterable[int]):
        self.ps = ps
        self.languages = sorted(set(languages)) or [1]
        self._groups: dict[str, int] | None = None
        self._values: dict[tuple[int, str], int] = {}

    @staticmethod
    def _name(record: Mapping[str, Any]) -> str:
        name = record.get("name")
        if isinstance(name, Mapping):
            return str(next(iter(name.values()), "") or "")
        return str(name or "")

    def _load(self) -> dict[str, int]:
        if self._groups is None:
            self._groups = {self._name(r).lower(): int(r["id"])
                            for r in self.ps.list("product_options", display=["id", "name"])}
            for r in self.ps.list("product_option_values", display=["id", "id_attribute_group", "name"]):
                self._values[(int(r["id_attribute_group"]), self._name(r).lower())] = int(r["id"])
        return self._groups

    def _text(self, text: str) -> dict[int, str]:
        return dict.fromkeys(self.languages, text)

    def value_id(self, group: str, value: str) -> int:
        groups = self._load()
        group_id = groups.get(group.lower())
        if group_id is None:
            group_id = int(self.ps.create("product_options", {
                "is_color_group": False, "group_type": "select", "name": self._text(group),
                "public_name": self._text(group)})["id"])
            groups[group.lower()] = group_id
        value_id = self._values.get((group_id, value.lower()))
        if value_id is None:
            value_id = int(self.ps.create("product_option_values", {
                "id_attribute_group": group_id, "name": self._text(value)})["id"])
            self._values[(group_id, value.lower())] = value_id
        return value_id
