"""Stock balances: one item/warehouse (MMS200MI/GetItmWhsBal) and the LMTS delta feed
(OIS100MI/LstNewBalances).

The shop shows "available now": ``AV01`` (allocatable on-hand minus allocated) per warehouse, the closest
documented field. Quantities are ``Decimal``; M3 sends them as strings that may be empty or padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from integration.connectors.infor.items import server_lmts
from integration.connectors.infor.m3 import M3Client, Record
from integration.connectors.infor.orders import m3_decimal


@dataclass(frozen=True)
class Balance:
    itno: str
    whlo: str
    available: Decimal  # AV01
    on_hand: Decimal | None  # STQT when known
    raw: Record


def balance_from(record: Record) -> Balance:
    return Balance(
        itno=record.get("ITNO", "").strip(),
        whlo=record.get("WHLO", "").strip(),
        available=m3_decimal(record.get("AV01")) or Decimal("0"),
        on_hand=m3_decimal(record.get("STQT")),
        raw=record,
    )


def get_balance(client: M3Client, itno: str, whlo: str) -> Balance | None:
    """MMS200MI/GetItmWhsBal for one item in one warehouse."""
    record = client.execute_one("MMS200MI", "GetItmWhsBal", {"WHLO": whlo, "ITNO": itno})
    return None if record is None else balance_from({"ITNO": itno, "WHLO": whlo, **record})


@dataclass(frozen=True)
class BalanceChanges:
    balances: list[Balance]
    next_lmts: str


def changed_balances(client: M3Client, since_lmts: str | int) -> BalanceChanges:
    """Balances changed since ``since_lmts`` (OIS100MI/LstNewBalances), with the next high-water mark.

    The mark is M3's server time read before the list, so a change made while the list runs is seen next
    time rather than lost.
    """
    mark = server_lmts(client)
    records = client.execute("OIS100MI", "LstNewBalances", {"LMTS": str(since_lmts)}, maxrecs=0)
    return BalanceChanges([balance_from(r) for r in records], mark or str(since_lmts))
