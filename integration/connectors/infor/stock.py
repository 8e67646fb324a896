"""Stock balances: one item/warehouse (MMS200MI/GetItmWhsBal), every warehouse of many items (OIS100MI/
LstWarehBalance in bulk) and the LMTS delta feed (OIS100MI/LstNewBalances).

Why OIS100MI/LstNewBalances and not MMS060MI/LstNewItemBal for the delta: LstNewItemBal requires ITNO, so a poll
would cost one call per item (calls growing with the catalogue, the thing a 100,000-SKU shop cannot afford), and
it answers per location with on-hand only (STQT), from which neither "allocatable" (AV01) nor "on-hand minus
reserved" (AV02) can be computed. LstNewBalances is one feed for every item, per warehouse, with AV01 and AV02
already netted: the calls per poll are the feed's pages. LstWarehBalance answers the same two fields per item,
so the full reconcile computes exactly the number the delta does.

M3 numbers are strings that may be empty or padded: they are read as ``Decimal``. The quantity rule
(``shop_quantity``) is a pure function: the fields and warehouses come from ``mappings/inventory.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from integration.connectors.infor.items import server_lmts
from integration.connectors.infor.m3 import M3Client, Record
from integration.connectors.infor.orders import m3_decimal

OIS100 = "OIS100MI"


@dataclass(frozen=True)
class Balance:
    itno: str
    whlo: str
    available: Decimal  # AV01: allocatable on-hand minus allocated
    on_hand: Decimal | None  # STQT when known
    raw: Record
    on_hand_minus_reserved: Decimal | None = None  # AV02

    def quantity(self, quantity_field: str) -> Decimal:
        """AV01 or AV02 (``inventory.yaml`` quantity)."""
        if quantity_field == "AV02":
            return self.on_hand_minus_reserved if self.on_hand_minus_reserved is not None else Decimal(0)
        return self.available


def balance_from(record: Record) -> Balance:
    return Balance(
        itno=record.get("ITNO", "").strip(),
        whlo=record.get("WHLO", "").strip(),
        available=m3_decimal(record.get("AV01")) or Decimal("0"),
        on_hand=m3_decimal(record.get("STQT")),
        raw=record,
        on_hand_minus_reserved=m3_decimal(record.get("AV02")),
    )


def get_balance(client: M3Client, itno: str, whlo: str) -> Balance | None:
    """MMS200MI/GetItmWhsBal for one item in one warehouse."""
    record = client.execute_one("MMS200MI", "GetItmWhsBal", {"WHLO": whlo, "ITNO": itno})
    return None if record is None else balance_from({"ITNO": itno, "WHLO": whlo, **record})


@dataclass(frozen=True)
class BalanceChanges:
    balances: list[Balance]
    next_lmts: str
    # The page came back full: LstNewBalances has no position key to read on from, so the caller must catch up
    # another way (a full reconcile) rather than assume it saw every change.
    truncated: bool = False


def changed_balances(client: M3Client, since_lmts: str | int, *, maxrecs: int = 0) -> BalanceChanges:
    """Balances changed since ``since_lmts`` (OIS100MI/LstNewBalances), with the next high-water mark.

    The mark is M3's server time read before the list, so a change made while the list runs is seen next
    time rather than lost (and possibly twice: readers must be idempotent). ``maxrecs`` caps the page
    (0 = unlimited); a full page is reported as ``truncated``.
    """
    mark = server_lmts(client)
    records = client.execute(OIS100, "LstNewBalances", {"LMTS": str(since_lmts)}, maxrecs=maxrecs)
    truncated = maxrecs > 0 and len(records) >= maxrecs
    return BalanceChanges([balance_from(r) for r in records], mark or str(since_lmts), truncated)


def warehouse_balances(client: M3Client, itnos: Sequence[str], *,
                       chunk_size: int = 100) -> dict[str, list[Balance]]:
    """Every warehouse balance of each item (OIS100MI/LstWarehBalance, one bulk POST per ``chunk_size`` items).

    An item whose transaction failed (M3 does not know it) is left out: its quantity is not known, which is
    not the same as 0. An item without any balance gets an empty list."""
    found: dict[str, list[Balance]] = {}
    results = client.bulk([{"program": OIS100, "transaction": "LstWarehBalance", "record": {"ITNO": itno}}
                           for itno in itnos], chunk_size=chunk_size)
    for itno, result in zip(itnos, results, strict=True):
        if result.ok:
            found[itno] = [balance_from({**r, "ITNO": itno}) for r in result.records]
    return found


@dataclass(frozen=True)
class QuantityRule:
    """``inventory.yaml``: which field, summed over which warehouses, minus how much safety stock."""

    quantity_field: str = "AV01"
    warehouses: tuple[str, ...] = ("100",)
    safety_stock: Decimal = Decimal(0)
    safety_stock_by_item: Mapping[str, Decimal] = field(default_factory=dict)


def shop_quantity(itno: str, balances: Iterable[Balance], rule: QuantityRule) -> int:
    """The quantity the shop may sell: the rule's field summed over its warehouses, minus the safety stock,
    rounded down to whole units (never promise a fraction) and never below 0."""
    wanted = set(rule.warehouses)
    total = sum((b.quantity(rule.quantity_field) for b in balances if b.whlo in wanted), Decimal(0))
    total -= rule.safety_stock_by_item.get(itno, rule.safety_stock)
    whole = int(total.to_integral_value(rounding=ROUND_FLOOR))
    return max(0, whole)
