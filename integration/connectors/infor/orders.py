"""Customer orders in M3: batch order entry (OIS100MI), the CUOR look-up, status, deliveries, invoices.

M3 does not enforce a unique customer order number (CUOR), so de-duplication is ours: before creating an
order the flow calls ``find_order_by_customer_ref``. With the customer number that is ``OIS100MI/LstHead``
for the customer (every order of that customer, filtered on CUOR here: one call, no special authority);
without it, ``EXPORTMI/Select`` on table OOHEAD (``where OACUOR = '...'``), which needs EXPORTMI access.

``create_batch_order`` makes at most three calls whatever the line count: ``AddBatchHead`` (M3 returns a
temporary ORNO), one bulk POST with every ``AddBatchAddress``/``AddBatchLine``, then ``Confirm`` (final ORNO).
When a line or address is refused nothing is confirmed: the batch order stays in OIS275 (batch orders,
"open") for an operator to see and delete, and ``BatchOrderRejected`` carries M3's messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.connectors.infor.errors import BatchOrderRejected, M3Error, ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client, Record, split_head_and_follow_ups
from integration.errors import MappingError, NotFound

OIS100 = "OIS100MI"
_BULK_TRANSACTIONS = ("AddBatchAddress", "AddBatchLine", "AddBatchHeadChg", "AddBatchText")


@dataclass(frozen=True)
class BatchOrderResult:
    orno: str  # the final customer order number
    temporary_orno: str  # the batch order number AddBatchHead returned


def _quote_literal(value: str) -> str:
    """An SQL-ish string literal for EXPORTMI: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def exportmi_rows(records: Sequence[Record], separator: str = ";") -> list[list[str]]:
    """EXPORTMI answers one ``REPL`` string per row; split it into columns."""
    return [[col.strip() for col in rec.get("REPL", "").split(separator)] for rec in records]


def find_order_by_customer_ref(client: M3Client, cuor: str, cuno: str | None = None) -> str | None:
    """The ORNO of an existing customer order whose CUOR is ``cuor`` (the shop's order reference), or None.

    With ``cuno``: ``OIS100MI/LstHead`` for that customer, filtered on CUOR (M3 has no CUOR search key).
    Without: ``EXPORTMI/Select`` on OOHEAD. When several orders carry the CUOR, the lowest ORNO (the first
    one created) is returned so every caller agrees on one.
    """
    cuor = cuor.strip()
    if not cuor:
        raise ValueError("cuor must not be empty")
    if cuno:
        try:
            records = client.execute(OIS100, "LstHead", {"CUNO": cuno}, maxrecs=0, returncols="ORNO,CUOR")
        except ServerReturnedNOK as exc:
            if exc.field == "CUNO":  # no such customer yet: then it has no orders either
                return None
            raise
        matches = sorted(r["ORNO"] for r in records if r.get("CUOR", "").strip() == cuor and r.get("ORNO"))
        return matches[0] if matches else None
    query = (f"OAORNO,OACUOR from OOHEAD where OACONO = {int(client.cono)} "
             f"and OACUOR = {_quote_literal(cuor)}")
    records = client.execute("EXPORTMI", "Select", {"QERY": query, "SEPC": ";", "HDRS": "0"}, maxrecs=0)
    matches = sorted(row[0] for row in exportmi_rows(records) if len(row) >= 2 and row[1] == cuor and row[0])
    return matches[0] if matches else None


def _split_calls(calls: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    head, rest = split_head_and_follow_ups(calls, OIS100, "AddBatchHead", _BULK_TRANSACTIONS, "batch order")
    for call in (head, *(c["record"] for c in rest)):
        if "ORNO" in call:
            raise MappingError("a batch order call carries an ORNO: M3 gives the batch order number")
    if not any(c["transaction"] == "AddBatchLine" for c in rest):
        raise MappingError("an order without AddBatchLine cannot be created")
    return head, rest


def create_batch_order(client: M3Client, calls: Iterable[Mapping[str, Any]], *,
                       on_temporary: Callable[[str], object] | None = None) -> BatchOrderResult:
    """Create and confirm a customer order from the mapping engine's OIS100MI calls.

    Three Infor calls: head, one bulk of addresses/lines/charges, Confirm. A refused address or line raises
    ``BatchOrderRejected`` (permanent, with M3's message, field and the temporary ORNO in ``details``) and the
    order is not confirmed. A lost answer raises ``WriteOutcomeUnknown``: look up by CUOR before retrying.
    """
    head, rest = _split_calls(calls)
    created = client.execute_one(OIS100, "AddBatchHead", head)
    temporary = (created or {}).get("ORNO", "").strip()
    if not temporary:
        raise M3Error("AddBatchHead returned no ORNO", program=OIS100, transaction="AddBatchHead")
    if on_temporary is not None:  # the caller records it, so a lost answer later can be asked about in OIS275
        on_temporary(temporary)
    for call in rest:
        call["record"] = {"ORNO": temporary, **call["record"]}
    # One POST whatever the line count (the contract's call budget); a very large order then makes one big
    # request, which the bulk time-out (180 s by default) has to cover.
    results = client.bulk(rest, chunk_size=0)
    failed = [r for r in results if not r.ok]
    if failed:
        first = failed[0]
        reasons = [
            {"transaction": r.transaction, "line": r.record.get("ITNO"),
             "code": r.error.code if r.error else None, "field": r.error.field if r.error else None,
             "message": r.error.m3_message if r.error else "not processed"}
            for r in failed
        ]
        message = first.error.m3_message if first.error else "not processed by M3"
        raise BatchOrderRejected(
            message,
            code=first.error.code if first.error else None,
            field=first.error.field if first.error else None,
            program=OIS100, transaction=first.transaction,
            resolution=f"batch order {temporary} was not confirmed; fix the item/address in the shop or in M3, "
                       "delete the batch order in OIS275 and replay the order",
            details={"temporary_orno": temporary, "rejections": reasons},
        )
    confirmed = client.execute_one(OIS100, "Confirm", {"ORNO": temporary})
    final = (confirmed or {}).get("ORNO", "").strip()
    if not final:
        # Confirm ran but gave no number: ask OIS275 for it rather than guessing.
        final = get_temporary_order_status(client, temporary).get("ORNR", "").strip()
    if not final:
        raise M3Error(f"batch order {temporary} confirmed without a final order number", program=OIS100,
                      transaction="Confirm", details={"temporary_orno": temporary})
    return BatchOrderResult(orno=final, temporary_orno=temporary)


def get_temporary_order_status(client: M3Client, temporary_orno: str) -> Record:
    """OIS275MI/GetTmpOrderStat: ``STAT`` of a batch order (90 = customer order created) and ``ORNR``."""
    record = client.execute_one("OIS275MI", "GetTmpOrderStat", {"ORNO": temporary_orno})
    if record is None:
        raise NotFound(f"batch order {temporary_orno} not found in OIS275")
    return record


def batch_order_errors(client: M3Client, temporary_orno: str) -> list[Record]:
    """OIS100MI/LstErrMsgOrder: why a batch order was rejected (MSID, TX60 message, MDTA)."""
    return client.execute(OIS100, "LstErrMsgOrder", {"ORNO": temporary_orno}, maxrecs=0)


def get_order(client: M3Client, orno: str) -> Record | None:
    """OIS100MI/GetHead: the order head with ORSL (lowest line status) and ORST (highest), or None."""
    try:
        return client.execute_one(OIS100, "GetHead", {"ORNO": orno})
    except M3Error as exc:
        if exc.field in (None, "ORNO") and exc.error_type == "ServerReturnedNOK":
            return None
        raise


def list_order_lines(client: M3Client, orno: str) -> list[Record]:
    """OIS100MI/LstLine: every line with ITNO, ORQT, ORST, ALQT, DLQT, IVQT, SAPR."""
    return client.execute(OIS100, "LstLine", {"ORNO": orno}, maxrecs=0)


def order_status(head: Mapping[str, str]) -> tuple[str, str]:
    """(lowest, highest) line status of an order head, e.g. ("66", "66") when fully delivered."""
    return head.get("ORSL", "").strip(), head.get("ORST", "").strip()


def list_deliveries(client: M3Client, orno: str) -> list[Record]:
    """Delivery heads (MWS410MI/GetHead) of an order, each with ETRN tracking number, FWNO carrier, PGRS.

    The delivery numbers come from MWS411MI/LstDelLnByOrd (reference order category 3 = customer order).
    """
    lines = client.execute("MWS411MI", "LstDelLnByOrd", {"RORC": "3", "RIDN": orno}, maxrecs=0)
    dlixes = sorted({r["DLIX"] for r in lines if r.get("DLIX")})
    heads: list[Record] = []
    for dlix in dlixes:
        head = client.execute_one("MWS410MI", "GetHead", {"DLIX": dlix})
        if head is not None:
            heads.append(head)
    return heads


def tracking_numbers(deliveries: Iterable[Mapping[str, str]]) -> list[str]:
    """The non-empty ETRN values of the deliveries, in order, without repeats."""
    seen: list[str] = []
    for delivery in deliveries:
        etrn = delivery.get("ETRN", "").strip()
        if etrn and etrn not in seen:
            seen.append(etrn)
    return seen


def list_invoices(client: M3Client, orno: str) -> list[Record]:
    """OIS350MI/LstInvHeadByCo: invoices of an order (IVNO, IVDT, YEA4, CUCD, AMT1...)."""
    return client.execute("OIS350MI", "LstInvHeadByCo", {"ORNO": orno}, maxrecs=0)


def m3_decimal(value: str | None) -> Decimal | None:
    """An M3 numeric string as Decimal (None when empty); M3 numbers can carry spaces."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an M3 number: {text!r}") from None


@dataclass(frozen=True)
class OrderProgress:
    """Where an M3 order stands, for the return flows (status to the shop, tracking, invoices)."""

    orno: str
    lowest_status: str  # ORSL
    highest_status: str  # ORST
    tracking_numbers: tuple[str, ...]
    deliveries: tuple[Record, ...]
    invoices: tuple[Record, ...]


def order_progress(client: M3Client, orno: str) -> OrderProgress:
    """Head status, then deliveries only once something was delivered (ORST >= 66) and invoices only once
    something was invoiced (ORST >= 77): one call for an order still in the warehouse."""
    head = get_order(client, orno)
    if head is None:
        raise NotFound(f"customer order {orno} not found in M3")
    lowest, highest = order_status(head)
    deliveries: list[Record] = list_deliveries(client, orno) if highest >= "66" else []
    invoices: list[Record] = list_invoices(client, orno) if highest >= "77" else []
    return OrderProgress(orno, lowest, highest, tuple(tracking_numbers(deliveries)), tuple(deliveries),
                         tuple(invoices))
