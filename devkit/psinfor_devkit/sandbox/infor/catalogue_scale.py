"""The Infor sandbox at catalogue scale: the item master and balance transactions a 100,000-item tenant answers,
with M3's list paging, plus a generated catalogue and "change N % of the balances".

Transactions (registered over the plain ones of ``state.py``):

- MMS200MI ``LstItmByItm`` from its ITNO on, in item-number order; ``LstItmFacTime`` and OIS100MI
  ``LstNewBalances`` by LMTS, oldest change first; all capped by ``maxrecs`` (default 100, 0 = all) before
  any record is built, as M3 stops reading at the cap. None of the LMTS lists outputs the LMTS, as in M3: a
  caller cannot read on from a position, only from a time.
- OIS100MI ``LstWarehBalance`` (every warehouse of one item), MMS200MI ``Get``/``GetItmBasic`` with the
  item's main product (HDPR, the style) and the EAN in CFI2, ``LstStyle`` (a style's variants with feature,
  option and option name), ``LstItmDescLang`` (names per language: fields ``ITDS@FR``/``FUDS@FR`` of an item),
  OIS017MI ``GetBasePrice`` and OIS320MI ``GetPriceLine`` (the item's sales price, tax excluded).

Control API: ``POST /_sandbox/catalogue/generate {"skus", "variants"?, "warehouses"?, "seed"?}`` and
``POST /_sandbox/catalogue/change {"percent" | "count", "warehouse"?, "seed"?}`` → the items changed.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psinfor_devkit.sandbox import catalogue, catalogue_scale

if TYPE_CHECKING:
    from flask import Flask

    from psinfor_devkit.sandbox.infor.app import Gateway
    from psinfor_devkit.sandbox.infor.state import M3State

Record = dict[str, str]
Handler = Callable[[Record], list[Record]]
STYLE_FIELDS = (("FTIZ", "OPTZ", "TZ15"), ("FTIX", "OPTX", "TX15"), ("FTIY", "OPTY", "TY15"))


def _request_context() -> dict[str, str]:
    """maxrecs/returncols of the GET being answered (query or matrix parameters); {} inside a bulk POST."""
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover
        return {}
    if not has_request_context() or request.method != "GET":
        return {}
    context = {k: v for k, v in request.args.items() if k in ("maxrecs", "returncols")}
    last = request.path.rsplit("/", 1)[-1]
    for item in last.split(";")[1:]:
        key, _, value = item.partition("=")
        if key in ("maxrecs", "returncols"):
            context[key] = value
    return context


def _in_get() -> bool:
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover
        return False
    return has_request_context() and request.method == "GET"


def _limit() -> int | None:
    """The cap on the records of this call: maxrecs (M3's default when absent, none for 0); none in a bulk."""
    from psinfor_devkit.sandbox.infor.state import DEFAULT_MAXRECS

    if not _in_get():
        return None
    raw = _request_context().get("maxrecs")
    try:
        value = int(raw) if raw is not None else DEFAULT_MAXRECS
    except ValueError:
        return DEFAULT_MAXRECS  # the response shaper refuses it anyway
    return None if value <= 0 else value


def _columns() -> list[str] | None:
    raw = _request_context().get("returncols")
    cols = [c.strip() for c in raw.split(",") if c.strip()] if raw else []
    return cols or None


class Scale:
    """Indexes over the state (rebuilt when items or balances are added) and the scale transactions."""

    def __init__(self, state: M3State):
        self.state = state
        self._item_count = -1
        self._style_version = -1
        self._balance_count = -1
        self._sorted_items: list[str] = []
        self._by_item: dict[str, list[Any]] = {}
        self._by_style: dict[str, list[str]] = {}
        self.generated: list[str] = []

    # -- indexes ----------------------------------------------------------------------------------------
    def _items_index(self) -> None:
        if len(self.state.items) != self._item_count:
            self._sorted_items = sorted(self.state.items)
            self._item_count = len(self.state.items)

    def _styles_index(self) -> None:
        """Styles by their variants; rebuilt after any change (an item may have moved to another style)."""
        self._items_index()
        version = self.state._last_lmts
        if version != self._style_version:
            self._by_style = {}
            for itno in self._sorted_items:
                style = self.item(itno).get("HDPR", "")
                if style and style != itno:
                    self._by_style.setdefault(style, []).append(itno)
            self._style_version = version

    def _balances_index(self) -> None:
        if len(self.state.balances) != self._balance_count:
            self._by_item = {}
            for (_, itno), balance in sorted(self.state.balances.items()):
                self._by_item.setdefault(itno, []).append(balance)
            self._balance_count = len(self.state.balances)

    def item(self, itno: str) -> Record:
        """The item with what the seed catalogue knows but the plain sandbox does not keep: its style
        (HDPR, options) and EAN (CFI2)."""
        item = self.state.items[itno]
        extra = _SEED_EXTRAS.get(itno)
        if extra is None:
            return item
        return {**extra, **item} if not item.get("HDPR") else item

    # -- MMS200MI ---------------------------------------------------------------------------------------
    def _item_record(self, itno: str, transaction: str, columns: list[str] | None = None) -> Record:
        item = self.item(itno)
        values = {**item, "CONO": catalogue.INFOR_COMPANY,
                  "SAPR": format(self.state.prices.get(itno, Decimal(0)).quantize(Decimal("0.01")), "f")}
        if not values.get("CFI2") and item.get("EAN"):
            values["CFI2"] = item["EAN"]
        if columns:
            return {c: values.get(c, "") for c in columns}
        return self.state.outputs("MMS200MI", transaction, values)

    def get(self, rec: Record) -> list[Record]:
        self.state._item(rec["ITNO"])
        return [self._item_record(rec["ITNO"], "Get")]

    def get_basic(self, rec: Record) -> list[Record]:
        self.state._item(rec["ITNO"])
        return [self._item_record(rec["ITNO"], "GetItmBasic")]

    def list_by_item(self, rec: Record) -> list[Record]:
        """From the given ITNO on (that item included when it exists), in item-number order."""
        self._items_index()
        start = bisect.bisect_left(self._sorted_items, rec.get("ITNO", ""))
        limit = _limit()
        chosen = self._sorted_items[start:] if limit is None else self._sorted_items[start:start + limit]
        columns = _columns()
        return [self._item_record(itno, "LstItmByItm", columns) for itno in chosen]

    def list_fac_time(self, rec: Record) -> list[Record]:
        from psinfor_devkit.sandbox.infor.state import Nok

        faci = rec.get("FACI", "")
        if faci and faci != catalogue.INFOR_FACILITY:
            raise Nok(f"Facility {faci} does not exist", code="WFA0203", field="FACI")
        since = int(rec.get("LMTS") or 0)
        changed = sorted((stamp, itno) for itno, stamp in self.state.item_lmts.items() if stamp > since)
        limit = _limit()
        if limit is not None:
            changed = changed[:limit]
        return [{"CONO": catalogue.INFOR_COMPANY, "FACI": catalogue.INFOR_FACILITY, "ITNO": itno}
                for _, itno in changed]

    def list_style(self, rec: Record) -> list[Record]:
        from psinfor_devkit.sandbox.infor.state import Nok

        self._styles_index()
        style = rec["STYN"]
        variants = self._by_style.get(style, [])
        if not variants:
            raise Nok(f"Style {style} does not exist", code="WST0203", field="STYN")
        out = []
        for itno in variants:
            if rec.get("ITNO") and itno != rec["ITNO"]:
                continue
            item = self.item(itno)
            values = {"CONO": catalogue.INFOR_COMPANY, "ITNO": itno, "STYN": style, "LMDT": item.get("LMDT", ""),
                      "LMTS": str(self.state.item_lmts.get(itno, 0))}
            for fields in STYLE_FIELDS:
                for name in fields:
                    values[name] = item.get(name, "")
            out.append(self.state.outputs("MMS200MI", "LstStyle", values))
        return out

    def list_desc_lang(self, rec: Record) -> list[Record]:
        self._items_index()
        first, last = rec.get("FITN", ""), rec.get("TITN", "")
        start = bisect.bisect_left(self._sorted_items, first)
        end = bisect.bisect_right(self._sorted_items, last) if last else len(self._sorted_items)
        out = []
        for itno in self._sorted_items[start:end]:
            item = self.item(itno)
            languages = {"GB"} | {k.split("@", 1)[1] for k in item if "@" in k}
            for lncd in sorted(languages):
                out.append(self.state.outputs("MMS200MI", "LstItmDescLang", {
                    "CONO": catalogue.INFOR_COMPANY, "ITNO": itno, "LNCD": lncd,
                    "ITDS": item.get(f"ITDS@{lncd}", item.get("ITDS", "")),
                    "FUDS": item.get(f"FUDS@{lncd}", item.get("FUDS", "")), "LMDT": item.get("LMDT", "")}))
        return out

    # -- prices -----------------------------------------------------------------------------------------
    def _price(self, itno: str) -> str:
        self.state._item(itno)
        return format(self.state.prices.get(itno, Decimal(0)).quantize(Decimal("0.01")), "f")

    def base_price(self, rec: Record) -> list[Record]:
        from psinfor_devkit.sandbox.infor.state import Nok

        if rec["CUCD"] != "EUR":
            raise Nok(f"Price list {rec['PRRF']} has no prices in {rec['CUCD']}", code="WPR0203", field="CUCD")
        return [self.state.outputs("OIS017MI", "GetBasePrice", {
            "CONO": catalogue.INFOR_COMPANY, "PRRF": rec["PRRF"], "CUCD": rec["CUCD"], "ITNO": rec["ITNO"],
            "FVDT": rec["FVDT"], "SAPR": self._price(rec["ITNO"]), "SPUN": "PCS", "SACD": "1"})]

    def price_line(self, rec: Record) -> list[Record]:
        self.state._customer(rec["CUNO"])
        return [self.state.outputs("OIS320MI", "GetPriceLine", {
            "ITNO": rec["ITNO"], "SAPR": self._price(rec["ITNO"]), "NETP": self._price(rec["ITNO"]),
            "CUCD": rec.get("CUCD") or "EUR", "TINC": "0", "SPUN": "PCS"})]

    # -- OIS100MI balances ------------------------------------------------------------------------------
    def new_balances(self, rec: Record) -> list[Record]:
        """Balances changed after LMTS, oldest change first, capped at maxrecs."""
        since = int(rec.get("LMTS") or 0)
        changed = sorted((b for b in self.state.balances.values() if b.lmts > since),
                         key=lambda b: (b.lmts, b.whlo, b.itno))
        limit = _limit()
        if limit is not None:
            changed = changed[:limit]
        out = []
        for b in changed:
            full = b.record()
            out.append({"WHLO": b.whlo, "ITNO": b.itno, "AV01": full["AV01"], "AV02": full["AV02"],
                        "LTDT": "", "PFDT": ""})
        return out

    def warehouse_balance(self, rec: Record) -> list[Record]:
        self.state._item(rec["ITNO"])
        self._balances_index()
        return [self.state.outputs("OIS100MI", "LstWarehBalance", {**b.record(), "LMDT": b.record().get("LMDT", "")})
                for b in self._by_item.get(rec["ITNO"], [])]

    # -- generation and changes ------------------------------------------------------------------------------
    def generate(self, skus: int, *, variants: int = 4, warehouses: tuple[str, ...] = catalogue_scale.WAREHOUSES,
                 seed: int = 1) -> dict[str, Any]:
        from psinfor_devkit.sandbox.infor.state import Balance, _now, _ymd

        state = self.state
        made = 0
        with state.lock:
            today = _ymd(_now())
            state.warehouses.update(warehouses)
            for product in catalogue_scale.generate(skus, variants=variants, warehouses=warehouses, seed=seed):
                for sku in product.skus:
                    stamp = state.lmts()
                    item = {"ITNO": sku.itno, "ITDS": sku.name[:60], "FUDS": f"{sku.name}, generated"[:120],
                            "STAT": "20", "UNMS": "PCS", "ITTY": "FG", "ITGR": "WEB", "SPUN": "PCS", "CHNO": "1",
                            "LMDT": today, "RGDT": today, "CFI2": sku.ean13, "GRWE": format(sku.weight, "f"),
                            "NEWE": format(sku.weight, "f")}
                    if not product.simple:
                        item.update(HDPR=product.reference, FTIZ=catalogue_scale.SIZE_FEATURE, OPTZ=sku.size,
                                    TZ15=sku.size)
                    state.items[sku.itno] = item
                    state.item_lmts[sku.itno] = stamp
                    state.prices[sku.itno] = sku.price
                    for whlo, qty in sku.quantities.items():
                        state.balances[(whlo, sku.itno)] = Balance(sku.itno, whlo, Decimal(qty), lmts=stamp)
                    self.generated.append(sku.itno)
                    made += 1
        return {"skus": made, "items": len(state.items), "balances": len(state.balances)}

    def change(self, *, percent: float | None = None, count: int | None = None, warehouse: str = "100",
               seed: int = 7) -> dict[str, Any]:
        """Change the on-hand balance of ``percent`` % (or ``count``) of the generated items in one warehouse,
        each by a non-zero amount that keeps it at or above what is allocated: every change moves the item's
        sellable quantity."""
        state = self.state
        rng = random.Random(seed)
        with state.lock:
            pool = [i for i in self.generated if i in state.items] or sorted(state.items)
            n = count if count is not None else round(len(pool) * float(percent or 0) / 100)
            chosen = sorted(rng.sample(pool, min(n, len(pool))))
            changed = []
            for itno in chosen:
                balance = state.balances.get((warehouse, itno))
                if balance is None:
                    continue
                delta = Decimal(rng.choice([d for d in range(-20, 21) if d]))
                if balance.stqt + delta < balance.alqt:
                    delta = abs(delta)
                balance.stqt += delta
                balance.lmts = state.lmts()
                changed.append(itno)
        return {"changed": len(changed), "items": changed}


def _seed_extras() -> dict[str, Record]:
    """The seed catalogue's variants as M3's style model has them: main product, size/colour options, EAN."""
    extras: dict[str, Record] = {}
    for product in catalogue.PRODUCTS:
        if not product.in_erp:
            continue
        if not product.combinations:
            extras[product.reference] = {"CFI2": product.ean13}
        for combo in product.combinations:
            extra: Record = {"HDPR": product.reference, "CFI2": combo.ean13}
            for (group, value), fields in zip(combo.attributes, STYLE_FIELDS, strict=False):
                extra.update({fields[0]: group.upper(), fields[1]: value.upper()[:15], fields[2]: value})
            extras[combo.reference] = extra
    return extras


_SEED_EXTRAS = _seed_extras()


def handlers(state: M3State) -> dict[str, Handler]:
    """The scale transactions for ``state`` (they replace the plain list transactions of the same name)."""
    scale = Scale(state)
    state.scale = scale  # type: ignore[attr-defined]
    return {
        "MMS200MI/Get": scale.get,
        "MMS200MI/GetItmBasic": scale.get_basic,
        "MMS200MI/LstItmByItm": scale.list_by_item,
        "MMS200MI/LstItmFacTime": scale.list_fac_time,
        "MMS200MI/LstStyle": scale.list_style,
        "MMS200MI/LstItmDescLang": scale.list_desc_lang,
        "OIS017MI/GetBasePrice": scale.base_price,
        "OIS320MI/GetPriceLine": scale.price_line,
        "OIS100MI/LstNewBalances": scale.new_balances,
        "OIS100MI/LstWarehBalance": scale.warehouse_balance,
    }


def register_routes(app: Flask, gateway: Gateway) -> None:
    """The control routes of the scale catalogue."""
    from flask import Response, jsonify, request

    def answer(body: Any, status: int = 200) -> Response:
        response = jsonify(body)
        response.status_code = status
        return response

    @app.post("/_sandbox/catalogue/generate")
    def generate_catalogue() -> Response:
        data = request.get_json(silent=True) or {}
        try:
            skus = int(data["skus"])
        except (KeyError, TypeError, ValueError):
            return answer({"error": "give skus (and variants, warehouses, seed)"}, 400)
        scale: Scale = gateway.state.scale  # type: ignore[attr-defined]
        return answer(scale.generate(skus, variants=int(data.get("variants", 4)),
                                     warehouses=tuple(data.get("warehouses") or catalogue_scale.WAREHOUSES),
                                     seed=int(data.get("seed", 1))))

    @app.post("/_sandbox/catalogue/change")
    def change_catalogue() -> Response:
        data = request.get_json(silent=True) or {}
        scale: Scale = gateway.state.scale  # type: ignore[attr-defined]
        count = int(data["count"]) if data.get("count") is not None else None
        percent = float(data["percent"]) if data.get("percent") is not None else None
        if count is None and percent is None:
            return answer({"error": "give percent or count"}, 400)
        return answer(scale.change(percent=percent, count=count, warehouse=str(data.get("warehouse") or "100"),
                                   seed=int(data.get("seed", 7))))
