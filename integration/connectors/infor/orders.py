"""Customer orders in M3: batch order entry (OIS100MI), its outcome (OIS275MI), look-ups, cancellation, status.

Sources (``shared/reference/infor-ion-m3.md`` §2.6-2.7 and the M3 MI REST v2 swagger of OIS100MI, whose
transactions and fields these calls use verbatim):

- Batch order entry: ``AddBatchHead`` (a temporary ORNO), ``AddBatchAddress``/``AddBatchLine``/
  ``AddBatchHeadChg``, then ``Confirm`` ("Confirm order (release batch order)", outputs ORNO and STAT). M3
  often creates the customer order later, in its batch job, so the Confirm answer is *read*, never assumed:
  ``create_batch_order`` returns a ``BatchStatus`` and the order exists only when it says ``created``.
- The outcome: ``OIS275MI/GetTmpOrderStat`` (temporary ORNO → STAT and ORNR, the customer order), the
  reasons of a stopped or rejected batch order ``OIS100MI/LstErrMsgOrder`` (MSID, TX60, MDTA, LEVL). Batch
  statuses per docs.infor.com (M3 16.x, "Correct and Complete Rejected Temporary Customer Order"): rejected
  batch orders stay in OIS275 with status 15, 20, 25, 30 or 55, header errors show as 15, and 90 means
  "Customer Order Created". How 20/25/30/55 split is not documented: this module reads 15/20/25 as refused
  data, 30 as the credit check's stop (the page names the credit check as a cause) and 55 like any other
  status as "not settled yet" (see ``BatchStatus.outcome``; unconfirmed on a real tenant).
- No orphans or twins: ``find_batch_orders`` (``OIS100MI/LstBatchHead``, one customer's batch orders with
  their status and ORNR) and ``find_order_by_customer_ref`` (``LstHead`` or ``EXPORTMI``) let the loader look
  before it writes; ``delete_batch_order`` (``DelBatchHead``) removes a batch order it abandons.
- Cancellation (``cancel_order``): ``DelLine`` per open line, optionally ``DelHead``; or ``CloLine`` per line.
  Refused once picking may have started (``picking_started``). The choice is explained in docs/contracts.md.

M3 does not enforce a unique customer order number (CUOR), so de-duplication is ours. ``create_batch_order``
makes three calls whatever the line count: head, one bulk POST for addresses/lines/charges, Confirm. When a
line or address is refused nothing is confirmed and ``BatchOrderRejected`` carries M3's messages and the
temporary ORNO (the batch order stays in OIS275 until ``delete_batch_order``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.connectors.infor.errors import (
    BatchOrderNotCreated,
    BatchOrderNotDeletable,
    BatchOrderRejected,
    M3Error,
    PickingStarted,
    ServerReturnedNOK,
)
from integration.connectors.infor.m3 import BulkResult, M3Client, Record, split_head_and_follow_ups
from integration.errors import MappingError, NotFound

OIS100 = "OIS100MI"
OIS275 = "OIS275MI"
_BULK_TRANSACTIONS = ("AddBatchAddress", "AddBatchLine", "AddBatchHeadChg", "AddBatchText")

# OIS275 batch order statuses (docs.infor.com, M3 16.x, slsmgmths/yql1567547577854).
BATCH_CREATED = "90"
BATCH_REJECTED = frozenset({"15", "20", "25"})
BATCH_CREDIT_STOP = "30"

# Customer order line status from which a cancellation is left to an operator. M3's line status: 2x left to
# allocate, 3x allocated, 4x printed on picking list (docs.infor.com M3 16.x, CO line status; reference §2.6).
# The picking list is 44, but an allocated line (33) can get its picking list any moment (auto-release), so the
# safe reading counts allocation as "picking started". Pass ``threshold="44"`` to cancel allocated lines too.
PICKING_STARTED_STATUS = "33"
CLOSED_LINE_STATUS = "90"  # 90 deleted, 99 completed without delivery: nothing left to cancel


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch order stands: OIS275's STAT, and the customer order number once M3 created it."""

    temporary_orno: str
    status: str  # STAT as M3 gave it ("" when it gave none)
    orno: str | None = None  # the customer order (ORNR), only when status is 90

    @property
    def outcome(self) -> str:
        """``created`` (90 with its ORNR), ``rejected`` (15/20/25: M3 refused data, see LstErrMsgOrder),
        ``credit_stop`` (30) or ``pending`` (not processed yet, 55, or anything else: look again later)."""
        if self.status == BATCH_CREATED and self.orno:
            return "created"
        if self.status in BATCH_REJECTED:
            return "rejected"
        if self.status == BATCH_CREDIT_STOP:
            return "credit_stop"
        return "pending"

    @property
    def created(self) -> bool:
        return self.outcome == "created"


@dataclass(frozen=True)
class BatchOrderResult:
    """What ``create_batch_order`` got: the batch order's status read back from OIS275 after Confirm, and
    Confirm's own answer, kept as a hint only (whether its STAT is the batch status or the new order's
    header status is not documented, so success is never read from it)."""

    batch: BatchStatus
    confirm_orno: str = ""
    confirm_status: str = ""

    @property
    def temporary_orno(self) -> str:
        return self.batch.temporary_orno

    @property
    def orno(self) -> str:
        """The customer order; ``BatchOrderNotCreated`` unless OIS275 says 90 (check ``created`` first)."""
        if self.batch.orno is None:
            raise BatchOrderNotCreated(
                f"batch order {self.temporary_orno} is not a customer order yet (status "
                f"{self.batch.status or 'unknown'}, {self.batch.outcome})",
                program=OIS275, transaction="GetTmpOrderStat", field="ORNO",
                resolution="read the outcome: pending batch orders are asked about again (get_batch_status), "
                           "rejected ones come with batch_order_messages",
                details={"temporary_orno": self.temporary_orno, "status": self.batch.status,
                         "outcome": self.batch.outcome})
        return self.batch.orno

    @property
    def status(self) -> str:
        return self.batch.status

    @property
    def outcome(self) -> str:
        return self.batch.outcome

    @property
    def created(self) -> bool:
        return self.batch.created


@dataclass(frozen=True)
class BatchMessage:
    """One reason M3 gives for a batch order (LstErrMsgOrder): message id, text, data, level."""

    message_id: str
    text: str
    data: str = ""
    level: str = ""

    def describe(self) -> str:
        return f"{self.message_id}: {self.text}" + (f" ({self.data})" if self.data else "")


@dataclass(frozen=True)
class BatchHead:
    """A batch order of a customer as LstBatchHead lists it."""

    temporary_orno: str
    status: str
    cuor: str
    orno: str | None  # ORNR once created

    @property
    def batch_status(self) -> BatchStatus:
        return BatchStatus(self.temporary_orno, self.status, self.orno)


def _clean(value: object) -> str:
    return str(value or "").strip()


def _quote_literal(value: str) -> str:
    """An SQL-ish string literal for EXPORTMI: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def exportmi_rows(records: Sequence[Record], separator: str = ";") -> list[list[str]]:
    """EXPORTMI answers one ``REPL`` string per row; split it into columns."""
    return [[col.strip() for col in rec.get("REPL", "").split(separator)] for rec in records]


# What the order look-ups read of OIS100MI's lists (LstHead, LstBatchHead): nothing else is asked for or kept.
_HEAD_COLUMNS = ("ORNO", "CUOR")
_BATCH_HEAD_COLUMNS = ("ORNO", "STAT", "CUOR", "ORNR")


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
            records = client.execute(OIS100, "LstHead", {"CUNO": cuno}, maxrecs=0, returncols=_HEAD_COLUMNS)
        except ServerReturnedNOK as exc:
            if exc.field == "CUNO":  # no such customer yet: then it has no orders either
                return None
            raise
        return _first_order_with(records, cuor)
    query = (f"OAORNO,OACUOR from OOHEAD where OACONO = {int(client.cono)} "
             f"and OACUOR = {_quote_literal(cuor)}")
    records = client.execute("EXPORTMI", "Select", {"QERY": query, "SEPC": ";", "HDRS": "0"}, maxrecs=0)
    matches = sorted(row[0] for row in exportmi_rows(records) if len(row) >= 2 and row[1] == cuor and row[0])
    return matches[0] if matches else None


def find_batch_orders(client: M3Client, cuno: str, cuor: str) -> list[BatchHead]:
    """The customer's batch orders carrying ``cuor``, oldest first, whatever their status (OIS100MI/LstBatchHead;
    CUNO is its one mandatory field). A customer M3 does not know has none. Use before ``AddBatchHead``: an
    unconfirmed or unprocessed batch order for the same shop order must be finished, not replaced."""
    cuor = cuor.strip()
    if not cuor:
        raise ValueError("cuor must not be empty")
    try:
        records = client.execute(OIS100, "LstBatchHead", {"CUNO": cuno}, maxrecs=0,
                                 returncols=_BATCH_HEAD_COLUMNS)
    except ServerReturnedNOK as exc:
        if exc.field == "CUNO":
            return []
        raise
    return _batch_orders_with(records, cuor)


def _first_order_with(records: Sequence[Record], cuor: str) -> str | None:
    """The lowest ORNO (the first created) among LstHead records carrying ``cuor``: every caller agrees on one."""
    matches = sorted(r["ORNO"] for r in records if r.get("CUOR", "").strip() == cuor and r.get("ORNO"))
    return matches[0] if matches else None


def _batch_orders_with(records: Sequence[Record], cuor: str) -> list[BatchHead]:
    found = [BatchHead(_clean(r.get("ORNO")), _clean(r.get("STAT")), _clean(r.get("CUOR")),
                       _clean(r.get("ORNR")) or None)
             for r in records if _clean(r.get("CUOR")) == cuor and _clean(r.get("ORNO"))]
    return sorted(found, key=lambda b: b.temporary_orno)


@dataclass(frozen=True)
class ShopOrderInM3:
    """What M3 holds of one shop order: a customer order carrying its reference, and its batch orders."""

    orno: str | None
    batch_orders: list[BatchHead]


_LONG_LISTS: OrderedDict[tuple[str, str, str], None] = OrderedDict()  # (M3, company, customer), oldest first
_LONG_LISTS_KEPT = 10_000
_LONG_LISTS_LOCK = threading.Lock()


def _has_long_lists(client: M3Client, cuno: str) -> bool:
    """Whether the customer's order lists were found as long as ``list_cap`` in this process."""
    with _LONG_LISTS_LOCK:
        return (client.base, client.cono, cuno) in _LONG_LISTS


def _remember_long_lists(client: M3Client, cuno: str) -> None:
    key = (client.base, client.cono, cuno)
    with _LONG_LISTS_LOCK:
        _LONG_LISTS[key] = None
        _LONG_LISTS.move_to_end(key)
        while len(_LONG_LISTS) > _LONG_LISTS_KEPT:
            _LONG_LISTS.popitem(last=False)


def find_shop_order(client: M3Client, cuno: str, cuor: str) -> ShopOrderInM3:
    """``find_order_by_customer_ref`` and ``find_batch_orders`` of one customer in one bulk POST (both are
    OIS100MI lists), so looking before creating costs one call, not two.

    A list as long as the client's ``list_cap`` may have been cut by M3 (its bulk cap is not documented), so it is
    read again alone, unlimited: the answer is never drawn from a part of the customer's orders. Such a customer
    (a business with many orders) is remembered in this process and read with the two unlimited calls directly,
    never three. A customer M3 does not know has neither list.
    """
    cuor = cuor.strip()
    if not cuor:
        raise ValueError("cuor must not be empty")
    if _has_long_lists(client, cuno):
        return ShopOrderInM3(find_order_by_customer_ref(client, cuor, cuno), find_batch_orders(client, cuno, cuor))
    head, batch = client.bulk([{"program": OIS100, "transaction": "LstHead", "record": {"CUNO": cuno},
                                "columns": _HEAD_COLUMNS},
                               {"program": OIS100, "transaction": "LstBatchHead", "record": {"CUNO": cuno},
                                "columns": _BATCH_HEAD_COLUMNS}],
                              max_records=0)
    for result in (head, batch):
        if result.error is not None and not (isinstance(result.error, ServerReturnedNOK)
                                             and result.error.field == "CUNO"):
            raise result.error
        if result.not_processed and result.error is None:
            raise M3Error("M3 did not process the order look-up", program=OIS100, transaction=result.transaction)
    head_cut, batch_cut = len(head.records) >= client.list_cap, len(batch.records) >= client.list_cap
    if head_cut or batch_cut:
        _remember_long_lists(client, cuno)
    orno = find_order_by_customer_ref(client, cuor, cuno) if head_cut else _first_order_with(head.records, cuor)
    earlier = find_batch_orders(client, cuno, cuor) if batch_cut else _batch_orders_with(batch.records, cuor)
    return ShopOrderInM3(orno, earlier)


def _split_calls(calls: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    head, rest = split_head_and_follow_ups(calls, OIS100, "AddBatchHead", _BULK_TRANSACTIONS, "batch order")
    for call in (head, *(c["record"] for c in rest)):
        if "ORNO" in call:
            raise MappingError("a batch order call carries an ORNO: M3 gives the batch order number")
    if not any(c["transaction"] == "AddBatchLine" for c in rest):
        raise MappingError("an order without AddBatchLine cannot be created")
    return head, rest


def _rejection(temporary: str, failed: Sequence[BulkResult]) -> BatchOrderRejected:
    first = failed[0]
    reasons = [
        {"transaction": r.transaction, "line": r.record.get("ITNO"),
         "code": r.error.code if r.error else None, "field": r.error.field if r.error else None,
         "message": r.error.m3_message if r.error else "not processed"}
        for r in failed
    ]
    return BatchOrderRejected(
        first.error.m3_message if first.error else "not processed by M3",
        code=first.error.code if first.error else None,
        field=first.error.field if first.error else None,
        program=OIS100, transaction=first.transaction,
        resolution=f"batch order {temporary} was not confirmed; fix the item/address in the shop or in M3, "
                   "delete the batch order (OIS275, or delete_batch_order) and replay the order",
        details={"temporary_orno": temporary, "rejections": reasons},
    )


def create_batch_order(client: M3Client, calls: Iterable[Mapping[str, Any]], *,
                       on_temporary: Callable[[str], object] | None = None,
                       on_confirm: Callable[[str], object] | None = None) -> BatchOrderResult:
    """Enter and release a batch order from the mapping engine's OIS100MI calls; return its status.

    Four calls whatever the line count: head, one bulk of addresses/lines/charges, Confirm, and
    ``OIS275MI/GetTmpOrderStat`` to read what M3 made of it. The order exists only when the result is
    ``created`` (90 with its ORNR); ``pending`` means M3's batch job has not settled it yet (ask
    ``get_batch_status`` again later), ``rejected``/``credit_stop`` come with ``batch_order_messages``.
    A refused address or line raises ``BatchOrderRejected`` (permanent, M3's messages and the temporary
    ORNO in ``details``) and nothing is confirmed. A lost answer raises ``WriteOutcomeUnknown``, and a status
    read that fails after Confirm an ``InforTransientError``: either way look up (``get_batch_status`` with the
    temporary ORNO ``on_temporary`` received, ``find_batch_orders``, ``find_order_by_customer_ref``) before
    anything is written again.
    """
    head, rest = _split_calls(calls)
    created = client.execute_one(OIS100, "AddBatchHead", head)
    temporary = _clean((created or {}).get("ORNO"))
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
        raise _rejection(temporary, failed)
    if on_confirm is not None:  # the caller records that Confirm may have reached M3 (a batch order to wait for)
        on_confirm(temporary)
    return confirm_batch_order(client, temporary)


def confirm_batch_order(client: M3Client, temporary_orno: str) -> BatchOrderResult:
    """``Confirm`` (release) one batch order, then read its status in OIS275: success is never assumed."""
    answer = client.execute_one(OIS100, "Confirm", {"ORNO": temporary_orno}) or {}
    status = get_batch_status(client, temporary_orno) or BatchStatus(temporary_orno, "")
    return BatchOrderResult(status, _clean(answer.get("ORNO")), _clean(answer.get("STAT")))


def get_batch_status(client: M3Client, temporary_orno: str) -> BatchStatus | None:
    """OIS275MI/GetTmpOrderStat: the batch order's status and, at 90, its customer order (ORNR); None when M3
    has no such batch order (never created, or deleted)."""
    try:
        record = client.execute_one(OIS275, "GetTmpOrderStat", {"ORNO": temporary_orno})
    except ServerReturnedNOK as exc:
        if exc.field in (None, "ORNO"):
            return None
        raise
    if record is None:
        return None
    status, ornr = _clean(record.get("STAT")), _clean(record.get("ORNR"))
    return BatchStatus(temporary_orno, status, ornr if status == BATCH_CREATED and ornr else None)


def get_temporary_order_status(client: M3Client, temporary_orno: str) -> Record:
    """OIS275MI/GetTmpOrderStat as M3's record (``STAT``, ``ORNR``); ``NotFound`` when M3 has no such batch
    order. Prefer ``get_batch_status``."""
    record = client.execute_one(OIS275, "GetTmpOrderStat", {"ORNO": temporary_orno})
    if record is None:
        raise NotFound(f"batch order {temporary_orno} not found in OIS275")
    return record


def batch_order_messages(client: M3Client, temporary_orno: str) -> list[BatchMessage]:
    """OIS100MI/LstErrMsgOrder: why M3 stopped or rejected a batch order, in M3's words."""
    return [BatchMessage(_clean(r.get("MSID")), _clean(r.get("TX60")), _clean(r.get("MDTA")),
                         _clean(r.get("LEVL")))
            for r in batch_order_errors(client, temporary_orno)]


def batch_order_errors(client: M3Client, temporary_orno: str) -> list[Record]:
    """OIS100MI/LstErrMsgOrder as M3's records (MSID, TX60 message, MDTA, LEVL)."""
    return client.execute(OIS100, "LstErrMsgOrder", {"ORNO": temporary_orno}, maxrecs=0)


def delete_batch_order(client: M3Client, temporary_orno: str) -> bool:
    """OIS100MI/DelBatchHead for a batch order the loader abandons; False when M3 no longer has it.

    Its status is read first: a batch order that became a customer order (90) is never deleted
    (``BatchOrderNotDeletable``). M3's own refusal (e.g. one its batch job is processing) propagates.
    """
    status = get_batch_status(client, temporary_orno)
    if status is None:
        return False
    if status.status == BATCH_CREATED:
        raise BatchOrderNotDeletable(
            f"batch order {temporary_orno} is customer order {status.orno or '?'}; it is not deleted",
            program=OIS100, transaction="DelBatchHead", field="ORNO",
            resolution="cancel the customer order instead (cancel_order)",
            details={"temporary_orno": temporary_orno, "orno": status.orno})
    try:
        client.execute(OIS100, "DelBatchHead", {"ORNO": temporary_orno})
    except ServerReturnedNOK as exc:
        if exc.field in (None, "ORNO") and get_batch_status(client, temporary_orno) is None:
            return False  # gone in between (a retried delete whose first answer was lost)
        raise
    return True


TEMPORARY = "<temporary ORNO>"


def load_plan(order_calls: Sequence[Mapping[str, Any]], customer_calls: Sequence[Mapping[str, Any]], *,
              cuno: str, cuor: str) -> list[dict[str, Any]]:
    """Every M3 call loading one order makes, in order, each with ``when`` it is made: what
    ``psinfor map preview`` shows and the sequence the order loader follows with this module's functions
    (``customers.get_customer``/``add_customer``, ``find_order_by_customer_ref``, ``find_batch_orders``,
    ``create_batch_order``, ``batch_order_messages``). Pure: nothing is sent.
    """
    plan: list[dict[str, Any]] = [
        {"program": "CRS610MI", "transaction": "GetBasicData", "record": {"CUNO": cuno},
         "when": "unless the customer is already known: is it in M3?"}]
    for index, call in enumerate(customer_calls):
        plan.append({"program": call["program"], "transaction": call["transaction"],
                     "record": dict(call["record"]), "bulk": index > 0,
                     "when": "only when M3 has no such customer" + (" (one bulk POST)" if index > 0 else "")})
    plan += [
        {"program": OIS100, "transaction": "LstHead", "record": {"CUNO": cuno},
         "when": f"is there a customer order with CUOR {cuor} already? then nothing else is sent"},
        {"program": OIS100, "transaction": "LstBatchHead", "record": {"CUNO": cuno},
         "when": f"is there a batch order with CUOR {cuor}? then it is finished (Confirm, status), not "
                 "replaced"},
    ]
    for index, call in enumerate(order_calls):
        record = dict(call["record"]) if index == 0 else {"ORNO": TEMPORARY, **call["record"]}
        plan.append({"program": call["program"], "transaction": call["transaction"], "record": record,
                     "bulk": index > 0, "when": "when neither exists" + (" (one bulk POST)" if index > 0 else "")})
    plan += [
        {"program": OIS100, "transaction": "Confirm", "record": {"ORNO": TEMPORARY},
         "when": "when every address and line was accepted: release it to M3's batch job"},
        {"program": OIS275, "transaction": "GetTmpOrderStat", "record": {"ORNO": TEMPORARY},
         "when": "after Confirm, and again until settled: 90 = customer order created (ORNR)"},
        {"program": OIS100, "transaction": "LstErrMsgOrder", "record": {"ORNO": TEMPORARY},
         "when": "when the batch status is 15, 20, 25 (refused) or 30 (credit stop): M3's reasons"},
    ]
    return plan


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


@dataclass(frozen=True)
class LineStatus:
    """One customer order line as LstLine lists it: line number, suffix, item, status, ordered quantity."""

    ponr: str
    posx: str
    itno: str
    status: str  # ORST, the line's status (22, 33, 44, 66, 77, 99...)
    quantity: str = ""

    @property
    def closed(self) -> bool:
        return self.status >= CLOSED_LINE_STATUS


def order_lines(client: M3Client, orno: str) -> list[LineStatus]:
    """The order's lines with their status (OIS100MI/LstLine); deleted lines are no longer listed."""
    return [LineStatus(_clean(r.get("PONR")), _clean(r.get("POSX")) or "0", _clean(r.get("ITNO")),
                       _clean(r.get("ORST")), _clean(r.get("ORQT")))
            for r in list_order_lines(client, orno)]


def picking_started(lines: Iterable[LineStatus], threshold: str = PICKING_STARTED_STATUS) -> bool:
    """True when any open line has reached ``threshold`` (allocated, by default: see PICKING_STARTED_STATUS)."""
    return any(not line.closed and line.status >= threshold for line in lines)


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel_order`` did: the lines it deleted or closed, whether the head went too, and whether there
    was nothing left to cancel (a repeat, or an order M3 no longer has)."""

    orno: str
    method: str  # "delete" (DelLine) or "close" (CloLine)
    lines: tuple[str, ...] = ()
    head_deleted: bool = False
    already_cancelled: bool = False


def cancel_order(client: M3Client, orno: str, *, method: str = "delete", delete_head: bool = False,
                 reason: str | None = None, lost_sales: bool | None = None,
                 threshold: str = PICKING_STARTED_STATUS) -> CancelResult:
    """Cancel a customer order M3 has not started picking; ``PickingStarted`` (held) when it has.

    ``method="delete"``: ``DelLine`` for every open line (required ORNO, PONR; POSX, RSCD reason, OT65 lost
    sales statistics as given), in one bulk, then ``DelHead`` when ``delete_head``; M3 shows a head without
    open lines as status 90 "Deleted customer order" (docs.infor.com, Status - Customer Order), which
    statuses.yaml maps to cancelled. ``method="close"``: ``CloLine`` per line (status 99, the line kept for
    statistics). The lines are read first and again after a refusal, so a picking list printed in between
    ends as ``PickingStarted`` naming the lines already cancelled. Safe to repeat: deleted and closed lines
    are not touched again.
    """
    if method not in ("delete", "close"):
        raise ValueError("method is 'delete' (DelLine) or 'close' (CloLine)")
    if get_order(client, orno) is None:
        return CancelResult(orno, method, head_deleted=True, already_cancelled=True)
    lines = order_lines(client, orno)
    if picking_started(lines, threshold):
        raise _picking_started(orno, lines, threshold, ())
    open_lines = [line for line in lines if not line.closed]
    transaction = "DelLine" if method == "delete" else "CloLine"
    done: list[str] = []
    if open_lines:
        extra: dict[str, str] = {}
        if reason:
            extra["RSCD"] = reason
        if lost_sales is not None:
            extra["OT65"] = "1" if lost_sales else "0"
        results = client.bulk([{"program": OIS100, "transaction": transaction,
                                "record": {"ORNO": orno, "PONR": line.ponr, "POSX": line.posx, **extra}}
                               for line in open_lines])
        done = [line.ponr for line, result in zip(open_lines, results, strict=True) if result.ok]
        failed = [result for result in results if not result.ok]
        if failed:
            now = order_lines(client, orno)
            if picking_started(now, threshold):
                raise _picking_started(orno, now, threshold, done)
            first = failed[0]
            if first.error is not None:
                first.error.details["cancelled_lines"] = done
                raise first.error
            raise M3Error(f"{transaction} was not processed", program=OIS100, transaction=transaction,
                          details={"orno": orno, "cancelled_lines": done})
    head_deleted = False
    if delete_head and method == "delete":
        client.execute(OIS100, "DelHead", {"ORNO": orno})
        head_deleted = True
    return CancelResult(orno, method, tuple(done), head_deleted, already_cancelled=not open_lines)


def _picking_started(orno: str, lines: Sequence[LineStatus], threshold: str,
                     done: Sequence[str]) -> PickingStarted:
    started = [line for line in lines if not line.closed and line.status >= threshold]
    shown = ", ".join(f"line {line.ponr} ({line.itno}) status {line.status}" for line in started)
    return PickingStarted(
        f"M3 order {orno} is already being picked ({shown}); it was not cancelled"
        + (f" (lines {', '.join(done)} were)" if done else ""),
        resolution="stop the order in the warehouse and cancel it in M3 (OIS100/OIS101), or refund it "
                   "after delivery; then release this event",
        details={"orno": orno, "threshold": threshold, "cancelled_lines": list(done),
                 "lines": [{"PONR": line.ponr, "ITNO": line.itno, "ORST": line.status} for line in lines]})


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
