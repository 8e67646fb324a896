"""Customers in M3 (CRS610MI; OCUSMA with addresses in OCUSAD).

``add_customer`` takes the mapping engine's calls: one ``CRS610MI/Add`` (with ``CUTM``, the customer template
that carries currency, order type and terms) and any ``AddAddress``. The CUNO is deterministic (derived from
the shop's customer id by the mapping), so a retried ``Add`` meets "already exists" instead of creating a
twin; that answer counts as success when the customer is really there. ``add_address`` is idempotent the same
way (the address id is derived from the shop's address id).

``find_customers`` looks for a customer that exists under another number (by e-mail or VAT number) with
``EXPORTMI/Select`` on OCUSMA: CRS610MI has no search key for either (``SearchCustomer``'s query syntax and
output are tenant-specific and it returns no e-mail).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integration.connectors.infor.errors import M3Error, ServerReturnedNOK
from integration.connectors.infor.items import server_lmts
from integration.connectors.infor.m3 import M3Client, Record, split_head_and_follow_ups
from integration.connectors.infor.orders import _quote_literal as quote_literal
from integration.connectors.infor.orders import exportmi_rows

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


def change_customer(client: M3Client, calls: Iterable[Mapping[str, Any]]) -> None:
    """Send ``ChgBasicData`` / ``ChgFinancial`` records (the fields that changed, plus CUNO) in one bulk call."""
    todo: list[dict[str, Any]] = []
    for call in calls:
        transaction = str(call["transaction"])
        if transaction not in ("ChgBasicData", "ChgFinancial", "ChgOrderInfo"):
            raise M3Error(f"{transaction} is not a customer change", program=CRS610, transaction=transaction)
        todo.append({"program": CRS610, "transaction": transaction, "record": dict(call["record"])})
    for result in client.bulk(todo):
        if not result.ok:
            raise result.error or M3Error("not processed by M3", program=CRS610, transaction=result.transaction)


def get_address(client: M3Client, cuno: str, adrt: str, adid: str) -> Record | None:
    """CRS610MI/GetAddress, or None when the address does not exist."""
    try:
        return client.execute_one(CRS610, "GetAddress", {"CUNO": cuno, "ADRT": adrt, "ADID": adid})
    except ServerReturnedNOK as exc:
        if exc.field in (None, "ADID", "ADRT"):
            return None
        raise


def add_address(client: M3Client, record: Mapping[str, str]) -> bool:
    """CRS610MI/AddAddress; True when created, False when it was there already (a retry after a lost answer)."""
    try:
        client.execute(CRS610, "AddAddress", record)
        return True
    except ServerReturnedNOK:
        if get_address(client, record["CUNO"], record["ADRT"], record["ADID"]) is not None:
            return False
        raise


def change_address(client: M3Client, record: Mapping[str, str]) -> None:
    """CRS610MI/ChgAddress: only the fields given change (an empty input means "not supplied" to M3)."""
    client.execute(CRS610, "ChgAddress", record)


@dataclass(frozen=True)
class CustomerMatch:
    """An M3 customer found by e-mail or VAT number (columns of OCUSMA)."""

    cuno: str
    name: str
    email: str
    vat_number: str
    status: str


def find_customers(client: M3Client, *, email: str | None = None, vat_number: str | None = None) -> list[CustomerMatch]:
    """M3 customers whose e-mail (OKMAIL) or VAT number (OKVRNO) is exactly the one given, lowest CUNO first."""
    if bool(email) == bool(vat_number):
        raise ValueError("give exactly one of email or vat_number")
    column, value = ("OKMAIL", email) if email else ("OKVRNO", vat_number)
    query = (f"OKCUNO,OKCUNM,OKMAIL,OKVRNO,OKSTAT from OCUSMA where OKCONO = {int(client.cono)} "
             f"and {column} = {quote_literal(str(value))}")
    records = client.execute("EXPORTMI", "Select", {"QERY": query, "SEPC": ";", "HDRS": "0"}, maxrecs=0)
    found = [CustomerMatch(*row[:5]) for row in exportmi_rows(records) if len(row) >= 5 and row[0]]
    return sorted({m.cuno: m for m in found}.values(), key=lambda m: m.cuno)


@dataclass(frozen=True)
class CustomerChanges:
    cunos: list[str]
    next_lmts: str  # store this; pass it as ``since_lmts`` next time


def changed_customer_numbers(client: M3Client, since_lmts: str | int) -> CustomerChanges:
    """Customers changed since ``since_lmts`` (M3's clock, taken before the list so nothing is missed)."""
    mark = server_lmts(client)
    changed = client.execute(CRS610, "LstByNumber", {"LMTS": str(since_lmts)}, maxrecs=0, returncols="CUNO")
    return CustomerChanges(sorted({r["CUNO"] for r in changed if r.get("CUNO")}), mark or str(since_lmts))


def changed_addresses(client: M3Client, cuno: str, since_lmts: str | int) -> list[Record]:
    """CRS610MI/LstAddresses with LMTS: the customer's addresses changed since then."""
    return client.execute(CRS610, "LstAddresses", {"CUNO": cuno, "LMTS": str(since_lmts)}, maxrecs=0)
