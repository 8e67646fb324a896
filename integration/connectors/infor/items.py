"""The item master (MMS200MI): single items, and the "changed since" feed for catalogue sync.

M3 has no LMTS filter on the item master itself; ``MMS200MI/LstItmFacTime`` lists the items changed in a
facility since an LMTS (milliseconds, from ``GENERAL/GetServerTime``), and each is then read with ``Get``.
The high-water mark to store is the server time taken *before* the list call, so nothing changed during
the sync is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.connectors.infor.errors import ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client, Record

MMS200 = "MMS200MI"


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
    mark = server_lmts(client)
    changed = client.execute(MMS200, "LstItmFacTime", {"FACI": facility, "LMTS": str(since_lmts)}, maxrecs=0)
    itnos = sorted({r["ITNO"] for r in changed if r.get("ITNO")})
    results = client.bulk([{"program": MMS200, "transaction": "Get", "record": {"ITNO": i}} for i in itnos])
    items = [r.records[0] for r in results if r.ok and r.records]
    return ItemChanges(items, mark or str(since_lmts))
