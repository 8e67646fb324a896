"""The item master (MMS200MI): single items, the "changed since" feed, the whole master page by page, and what
a shop product needs besides (names per language, prices, style variants).

M3 has no LMTS filter on the item master itself; ``MMS200MI/LstItmFacTime`` lists the items changed in a
facility since an LMTS (milliseconds, from ``GENERAL/GetServerTime``), and each is then read with ``Get``.
The high-water mark to store is the server time taken *before* the list call, so nothing changed during
the sync is skipped.

Paging follows M3's list transactions: ``maxrecs`` caps a call, and the next call starts at the last key read
(``LstItmByItm``'s ITNO is a "from" key, so the first record of the next page is the last of this one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.connectors.infor.errors import ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client, Record

MMS200 = "MMS200MI"
# LstItmByItm's ITNO is mandatory: the lowest printable character starts the list at the first item.
FIRST_ITEM = "!"


def server_lmts(client: M3Client) -> str:
    """GENERAL/GetServerTime LMTS: M3's clock in milliseconds, the high-water mark of delta feeds."""
    record = client.execute_one("GENERAL", "GetServerTime") or {}
    return record.get("LMTS", "").strip()


def get_item(client: M3Client, itno: str) -> Record | None:
    """MMS200MI/Get, or None when the item does not exist."""
    try:
        return client.execute_one(MMS200, "Get", {"ITNO": itno})
    except ServerReturnedNOK as exc:
        if exc.field in (None, "ITNO"):
            return None
        raise


def item_exists(client: M3Client, itno: str) -> bool:
    return get_item(client, itno) is not None


@dataclass(frozen=True)
class ItemChanges:
    items: list[Record]
    next_lmts: str  # store this; pass it as ``since_lmts`` next time


def changed_items(client: M3Client, facility: str, since_lmts: str | int) -> ItemChanges:
    """Items changed in ``facility`` since ``since_lmts``, read in full (one bulk ``Get`` per 50 items)."""
    changes = changed_item_numbers(client, facility, since_lmts)
    return ItemChanges(get_items(client, changes.itnos), changes.next_lmts)


@dataclass(frozen=True)
class ItemNumberChanges:
    itnos: list[str]
    next_lmts: str
    truncated: bool = False  # a full page: LstItmFacTime has no position key, the caller must catch up


def changed_item_numbers(client: M3Client, facility: str, since_lmts: str | int, *,
                         maxrecs: int = 0) -> ItemNumberChanges:
    """The numbers of the items changed in ``facility`` since ``since_lmts`` (MMS200MI/LstItmFacTime)."""
    mark = server_lmts(client)
    changed = client.execute(MMS200, "LstItmFacTime", {"FACI": facility, "LMTS": str(since_lmts)},
                             maxrecs=maxrecs)
    itnos = sorted({r["ITNO"].strip() for r in changed if r.get("ITNO", "").strip()})
    return ItemNumberChanges(itnos, mark or str(since_lmts), maxrecs > 0 and len(changed) >= maxrecs)


def get_items(client: M3Client, itnos: Sequence[str]) -> list[Record]:
    """MMS200MI/Get for many items (bulk); items M3 does not know are left out."""
    results = client.bulk([{"program": MMS200, "transaction": "Get", "record": {"ITNO": i}} for i in itnos])
    return [r.records[0] for r in results if r.ok and r.records]


def iter_items(client: M3Client, *, page_size: int = 1000, start: str = "",
               returncols: Sequence[str] = ("ITNO", "STAT")) -> Iterator[list[Record]]:
    """The whole item master, one page (``maxrecs``) per call, each call positioned at the last ITNO read
    (MMS200MI/LstItmByItm lists from its ITNO on, so that first record is dropped). Calls = pages."""
    position = start
    first = True
    while True:
        records = client.execute(MMS200, "LstItmByItm", {"ITNO": position or FIRST_ITEM}, maxrecs=page_size,
                                 returncols=list(returncols))
        page = [r for r in records if r.get("ITNO", "").strip()]
        if not first and page and page[0]["ITNO"].strip() == position:
            page = page[1:]
        if page:
            yield page
        if len(records) < page_size:
            return
        last = records[-1].get("ITNO", "").strip()
        if not last or last == position:  # no progress: a page of one repeated key
            return
        position, first = last, False


def descriptions(client: M3Client, itnos: Sequence[str]) -> dict[str, dict[str, Record]]:
    """Names and descriptions per M3 language (MMS200MI/LstItmDescLang): ITNO → LNCD → record."""
    results = client.bulk([{"program": MMS200, "transaction": "LstItmDescLang", "record": {"FITN": i, "TITN": i}}
                           for i in itnos])
    texts: dict[str, dict[str, Record]] = {i: {} for i in itnos}
    for itno, result in zip(itnos, results, strict=True):
        if result.ok:
            for record in result.records:
                if record.get("ITNO", "").strip() == itno:
                    texts[itno][record.get("LNCD", "").strip()] = record
    return texts


def style_variants(client: M3Client, styles: Sequence[str]) -> dict[str, list[Record]]:
    """The variants of each style with their features and options (MMS200MI/LstStyle): STYN → records."""
    results = client.bulk([{"program": MMS200, "transaction": "LstStyle", "record": {"STYN": s}} for s in styles])
    return {style: (result.records if result.ok else []) for style, result in zip(styles, results, strict=True)}


def style_attributes(record: Record) -> list[tuple[str, str]]:
    """(feature, option name) pairs of one LstStyle record, in M3's order: Z, X, Y."""
    pairs = []
    for feature, option, name in (("FTIZ", "OPTZ", "TZ15"), ("FTIX", "OPTX", "TX15"), ("FTIY", "OPTY", "TY15")):
        group = record.get(feature, "").strip()
        value = record.get(name, "").strip() or record.get(option, "").strip()
        if group and value:
            pairs.append((group, value))
    return pairs


@dataclass(frozen=True)
class PriceSource:
    """``items.yaml`` price: where the shop's price comes from."""

    source: str  # OIS017MI | OIS320MI | MMS200MI
    price_list: str = ""
    currency: str = ""
    customer: str = ""


def sales_prices(client: M3Client, itnos: Sequence[str], source: PriceSource, *,
                 on: date | None = None) -> dict[str, tuple[Decimal, bool | None]]:
    """ITNO → (price, tax included?) from the configured source; items without a price are left out.

    ``tax included`` is what M3 says (OIS320MI TINC) or None when the source does not say."""
    day = (on or date.today()).strftime("%Y%m%d")
    if source.source == "OIS017MI":
        calls = [{"program": "OIS017MI", "transaction": "GetBasePrice",
                  "record": {"PRRF": source.price_list, "CUCD": source.currency, "FVDT": day, "ITNO": i}}
                 for i in itnos]
    elif source.source == "OIS320MI":
        calls = [{"program": "OIS320MI", "transaction": "GetPriceLine",
                  "record": {"CUNO": source.customer, "ITNO": i, "ORDT": day,
                             **({"CUCD": source.currency} if source.currency else {})}} for i in itnos]
    else:
        calls = [{"program": MMS200, "transaction": "GetItmPrice", "record": {"ITNO": i}} for i in itnos]
    prices: dict[str, tuple[Decimal, bool | None]] = {}
    for itno, result in zip(itnos, client.bulk(calls), strict=True):
        if not (result.ok and result.records):
            continue
        record = result.records[0]
        raw = (record.get("SAPR") or "").strip()
        if not raw:
            continue
        tinc = (record.get("TINC") or "").strip()
        prices[itno] = (Decimal(raw), (tinc == "1") if tinc else None)
    return prices
