"""Customers in M3 (CRS610MI; OCUSMA with addresses in OCUSAD).

``add_customer`` takes the mapping engine's calls: one ``CRS610MI/Add`` (with ``CUTM``, the customer template
that carries currency, order type and terms) and any ``AddAddress``. The CUNO is deterministic (derived from
the shop's customer id by the mapping), so a retried ``Add`` meets "already exists" instead of creating a
twin; that answer counts as success when the customer is really there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integration.connectors.infor.errors import M3Error, ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client, Record, split_head_and_follow_ups

CRS610 = "CRS610MI"


def get_customer(client: M3Client, cuno: str) -> Record | None:
    """CRS610MI/GetBasicData, or None when M3 says the customer does not exist."""
    try:
        return client.execute_one(CRS610, "GetBasicData", {"CUNO": cuno})
    except ServerReturnedNOK as exc:
        if exc.field in (None, "CUNO"):
            return None
        raise


def list_addresses(client: M3Client, cuno: str) -> list[Record]:
    """CRS610MI/LstAddresses: the customer's delivery/invoice addresses (ADRT, ADID, CUA1...)."""
    return client.execute(CRS610, "LstAddresses", {"CUNO": cuno}, maxrecs=0)


_FOLLOW_UPS = ("AddAddress", "ChgBasicData", "ChgFinancial", "ChgOrderInfo", "ChgAddress")


def _split_calls(calls: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    return split_head_and_follow_ups(calls, CRS610, "Add", _FOLLOW_UPS, "customer")


def add_customer(client: M3Client, calls: Iterable[Mapping[str, Any]]) -> str:
    """Create the customer (``Add``), then its addresses and extra data (``AddAddress``, ``ChgFinancial``
    for the VAT number...) in one bulk call; return the CUNO.

    When ``Add`` is refused because the CUNO exists already (a retry after a lost answer), the customer is
    read back and the follow-up calls still sent, so the outcome is the same as a first, clean run; an
    address that is already there counts as done.
    """
    add, follow_ups = _split_calls(calls)
    cuno = add.get("CUNO", "").strip()
    try:
        created = client.execute_one(CRS610, "Add", add)
        cuno = (created or {}).get("CUNO", "").strip() or cuno
    except ServerReturnedNOK:
        if not cuno or get_customer(client, cuno) is None:
            raise
    if not cuno:
        raise M3Error("CRS610MI/Add returned no CUNO", program=CRS610, transaction="Add")
    if follow_ups:
        for call in follow_ups:
            call["record"] = {**call["record"], "CUNO": cuno}
        for result in client.bulk(follow_ups):
            if result.ok:
                continue
            if result.transaction == "AddAddress" and _already_exists(client, cuno, result.record):
                continue
            if result.error is not None:
                raise result.error
            raise M3Error("not processed by M3", program=CRS610, transaction=result.transaction)
    return cuno


def _already_exists(client: M3Client, cuno: str, record: Mapping[str, str]) -> bool:
    """True when the address (ADRT, ADID) is already on the customer (a retried AddAddress)."""
    key = (record.get("ADRT", ""), record.get("ADID", ""))
    return any((a.get("ADRT", ""), a.get("ADID", "")) == key for a in list_addresses(client, cuno))


def changed_customers(client: M3Client, since_lmts: str | int) -> list[Record]:
    """CRS610MI/LstByNumber with LMTS: customers changed since that M3 timestamp (milliseconds)."""
    return client.execute(CRS610, "LstByNumber", {"LMTS": str(since_lmts)}, maxrecs=0)
