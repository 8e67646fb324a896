"""Invoices and payments, Infor → shop: each M3 invoice of a shop order is written on that order once, and the
order shows paid once M3's receivable is settled; partial and mismatched payments are reported.

Producers (beat): the invoice feed (``OIS350MI/LstInvHead`` from the last invoice number read, per year; only
invoices of orders the shop sent, found through the order bindings), the payment checks (one per invoice whose
receivable is not settled yet, per period) and the nightly reconciliation run (``integration.reconcile``).

One event per invoice (``<YEA4>-<IVNO>``): extract reads the invoice, the order(s) behind it on both sides, the
receivable (ARS200MI or OIS350MI, as ``mappings/invoices.yaml`` says) and the shop's payments; transform decides
what the shop still needs (the invoice message, the paid or invoiced state) and how the payment matches; load
writes it. Nothing is written twice: the follow-up binding (entity ``invoice``) remembers the message and the
states posted, the shop's messages are looked at before posting one, every write happens under a lock on the
(order, invoice) pair, and a state is never posted over the one the order has (``add_order_history``).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import NotFound
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.maintenance import enqueue_new_event
from integration.store import models as m
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.connectors.infor.invoices import Invoice, Receivable
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.invoices")
ENTITY = "invoice"
ORDER = "order"
QUEUE = "finance"
FEED_WATERMARK = "infor.invoices.{year}"
SHOP_FINAL = frozenset({"PS_OS_CANCELED", "PS_OS_REFUND", "PS_OS_ERROR"})


def receivable_of(rt: Runtime, connection: str, invoice: Invoice) -> Receivable | None:
    """The invoice's receivable from the source the mapping names (None: accounts receivable has no entry)."""
    from integration.connectors.infor.invoices import receivable_from_invoice, receivable_from_ledger

    cfg = rt.mapping.config.invoices
    if cfg.receivable_source == "OIS350MI":
        return receivable_from_invoice(invoice)
    number = invoice.number if cfg.invoice_key == "IVNO" else invoice.extended_number
    return receivable_from_ledger(rt.m3(connection), invoice.customer, number, invoice.year)


def follow_up_id(ps_order_id: int | str, key: str) -> tuple[str, str]:
    """(shop id, Infor id) of the invoice follow-up binding: one per order and invoice."""
    return f"{ps_order_id}:{key}", f"{key}@{ps_order_id}"


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.infor.invoices import invoice_orders, order_invoices, split_invoice_key
    from integration.connectors.prestashop.customers import order_messages, order_payments

    key = event.source_id
    year, number = split_invoice_key(key)
    m3 = rt.m3(event.connection)
    ornos = invoice_orders(m3, year, number)
    if not ornos:
        raise NotFound(f"M3 invoice {key} names no customer order", resolution="check the invoice in OIS350")
    bound = rt.binder(event.connection, ORDER).to_shop_many(ornos)
    if not bound:
        raise NotFound(
            f"M3 invoice {key} is for M3 order {', '.join(ornos)}, which no shop order is bound to",
            resolution="if the order came from the shop, sync it (psinfor resync order ID) and replay this dead "
                       "letter; an order entered in M3 itself has no shop order: discard it",
            details={"invoice": key, "orders": ornos})
    ps = rt.prestashop(event.connection)
    targets = []
    for orno, ps_order_id in sorted(bound.items()):
        invoice = next((i for i in order_invoices(m3, orno) if i.key == key), None)
        if invoice is None:
            raise NotFound(f"M3 invoice {key} is not among order {orno}'s invoices (OIS350MI/LstInvHeadByCo)")
        receivable = receivable_of(rt, event.connection, invoice)
        order = ps.get("orders", int(ps_order_id))
        reference = str(order.get("reference") or "")
        targets.append({
            "orno": orno, "ps_order_id": ps_order_id, "invoice": asdict(invoice),
            "receivable": {**asdict(receivable), "paid": receivable.paid, "status": receivable.status}
            if receivable else None,
            "order": {k: order.get(k) for k in ("id", "reference", "current_state", "total_paid_tax_incl",
                                                "id_customer", "id_currency")},
            "payments": [{k: p.get(k) for k in ("id", "amount", "payment_method", "transaction_id", "date_add")}
                         for p in order_payments(ps, reference)],
            "messages": [{"id": msg.get("id"), "message": msg.get("message")}
                         for msg in order_messages(ps, int(ps_order_id))]})
    return {"key": key, "targets": targets}


def _message(template: str, invoice: dict[str, Any], reference: str) -> str:
    from integration.transform.money import quantize

    amount = invoice.get("amount")
    currency = invoice.get("currency") or ""
    shown = format(quantize(Decimal(str(amount)), currency), "f") if amount not in (None, "") and currency else "?"
    return template.format(number=invoice["number"], date=invoice.get("invoice_date") or "?", amount=shown,
                           currency=currency, due_date=invoice.get("due_date") or "?", order=invoice["order"],
                           reference=reference)


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """Per order: the message still to write, the state still to post, and how the payment matches."""
    from integration.reconcile import same_amount

    cfg = rt.mapping.config.invoices
    ps = rt.prestashop(event.connection)
    states = ps.order_states()
    binder = rt.binder(event.connection, ENTITY)
    plans = []
    for target in extracted["targets"]:
        ps_id, _ = follow_up_id(target["ps_order_id"], extracted["key"])
        data = binder.data(ps_id)
        invoice, receivable = target["invoice"], target["receivable"]
        text = _message(cfg.message, invoice, str(target["order"]["reference"] or ""))
        written = bool(data.get("message_id")) or any(msg["message"] == text for msg in target["messages"])
        current = states.key_for(int(target["order"]["current_state"] or 0))
        posted = dict(data.get("states_posted") or {})
        wanted: str | None = None
        status = receivable["status"] if receivable else "unknown"
        if current not in SHOP_FINAL:
            paid_now = states.is_paid(int(target["order"]["current_state"] or 0))
            if status == "paid" and cfg.paid_state and not paid_now and not posted.get(cfg.paid_state):
                wanted = cfg.paid_state
            elif cfg.invoiced_state and not posted.get(cfg.invoiced_state) and current != cfg.invoiced_state:
                wanted = cfg.invoiced_state
        currency = invoice.get("currency") or ""
        shop_paid = sum((Decimal(str(p["amount"] or 0)) for p in target["payments"]), Decimal(0))
        m3_paid = Decimal(str(receivable["paid"])) if receivable else None
        mismatch = None
        if m3_paid is not None and m3_paid > 0 and currency and not same_amount(shop_paid, m3_paid, currency):
            mismatch = {"shop_paid": shop_paid, "m3_paid": m3_paid, "difference": m3_paid - shop_paid,
                        "transactions": [p["transaction_id"] for p in target["payments"]]}
        plans.append({**target, "follow_up": ps_id, "message": None if written else text, "state": wanted,
                      "payment": {"status": status, "shop_paid": shop_paid, "m3_paid": m3_paid,
                                  "open": receivable["open"] if receivable else None, "mismatch": mismatch},
                      "known_status": data.get("payment_status")})
    return {"key": extracted["key"], "plans": plans}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    if all(p["message"] is None and p["state"] is None and p["payment"]["status"] == p["known_status"]
           for p in transformed["plans"]):
        raise SkipEvent(f"M3 invoice {transformed['key']}: the shop has it already "
                        f"({', '.join(sorted({p['payment']['status'] for p in transformed['plans']}))})")
    return transformed


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.prestashop.customers import add_order_message, order_messages

    cfg = rt.mapping.config.invoices
    ps = rt.prestashop(event.connection)
    binder = rt.binder(event.connection, ENTITY)
    key = validated["key"]
    results = []
    for plan in validated["plans"]:
        ps_id, infor_id = follow_up_id(plan["ps_order_id"], key)
        order_id = int(plan["ps_order_id"])
        with rt.record_lock(f"{event.connection}:{ENTITY}:{ps_id}"):
            if binder.row(ps_id) is None:
                binder.finalize(ps_id, infor_id, {"orno": plan["orno"], "event_id": event.id})
            data = binder.data(ps_id)
            message_posted = False
            if plan["message"] and not data.get("message_id"):
                existing = [msg for msg in order_messages(ps, order_id) if msg.get("message") == plan["message"]]
                if existing:
                    binder.update(ps_id, message_id=existing[0]["id"])
                else:
                    created = add_order_message(ps, order_id, plan["message"], private=cfg.message_private,
                                                customer_id=plan["order"].get("id_customer"))
                    binder.update(ps_id, message_id=created.get("id"))
                    message_posted = True
            state_posted = False
            if plan["state"] and not (data.get("states_posted") or {}).get(plan["state"]):
                state_id = ps.order_states().id(plan["state"])
                state_posted = ps.add_order_history(order_id, state_id, send_email=True)
                binder.update(ps_id, states_posted={**(data.get("states_posted") or {}), plan["state"]: True})
            payment = plan["payment"]
            binder.update(ps_id, payment_status=payment["status"], m3_paid=payment["m3_paid"],
                          shop_paid=payment["shop_paid"], mismatch=payment["mismatch"])
            if payment["status"] == "paid":
                binder.close(ps_id)  # settled: no more payment checks
        if payment["mismatch"]:
            log.warning("payment mismatch", invoice=key, order=order_id, **{k: str(v) for k, v in
                                                                          payment["mismatch"].items()
                                                                          if k != "transactions"})
        elif payment["status"] == "partial":
            log.warning("invoice partly paid", invoice=key, order=order_id, open=str(payment["open"]))
        results.append({"order": order_id, "orno": plan["orno"], "message_posted": message_posted,
                        "state": plan["state"], "state_posted": state_posted, "payment": payment["status"],
                        "mismatch": payment["mismatch"]})
    return {"invoice": key, "orders": results}


# -- producers ------------------------------------------------------------------------------------------------


def poll_invoices(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None) -> dict[str, Any]:
    """New M3 invoices of the shop's orders, one event each (this year's, and last year's in January)."""
    from integration.connectors.infor.invoices import invoice_key, invoice_orders, new_invoices

    today = now or datetime.now(UTC)
    years = [today.year - 1, today.year] if today.month == 1 else [today.year]
    m3 = rt.m3(connection)
    orders = rt.binder(connection, ORDER)
    enqueued, other = 0, 0
    for year in years:
        mark_name = FEED_WATERMARK.format(year=year)
        mark = rt.store.get_watermark(connection, mark_name)
        for head in new_invoices(m3, year, int(mark) if mark else None):
            number = head["IVNO"].strip()
            key = invoice_key(year, number)
            ornos = invoice_orders(m3, year, number)
            if not orders.to_shop_many(ornos):
                other += 1  # an order entered in M3 itself, not the shop's
            else:
                new = NewEvent(connection=connection, source_system="infor", entity=ENTITY, source_id=key,
                               event_type="invoice.created", dedupe_key=f"invoice:{key}",
                               payload={"year": year, "number": number, "orders": ornos})
                enqueued += enqueue_new_event(rt.store, new, enqueue)[1]
            rt.store.set_watermark(connection, mark_name, f"{int(number):09d}")
    log.info("polled M3 invoices", connection=connection, enqueued=enqueued, other_channels=other)
    return {"enqueued": enqueued, "other_channels": other}


def poll_payments(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None,
                  interval: float = 900.0) -> dict[str, Any]:
    """One payment check per invoice whose receivable is not settled yet, per period."""
    bucket = int((now or datetime.now(UTC)).timestamp() // max(1.0, interval))
    enqueued = 0
    for _ps_id, infor_id in rt.binder(connection, ENTITY).open():
        key = infor_id.split("@", 1)[0]
        if rt.store.open_event_for(connection, ENTITY, key, waiting=m.ACTIVE_STATUSES):
            continue
        new = NewEvent(connection=connection, source_system="poller", entity=ENTITY, source_id=key,
                       event_type="invoice.payment_check", dedupe_key=f"payment:{key}:{bucket}",
                       payload={"invoice": key})
        enqueued += enqueue_new_event(rt.store, new, enqueue)[1]
    return {"enqueued": enqueued}


def run_reconciliation(rt: Runtime, connection: str, *, days: float | None = None,
                       now: datetime | None = None) -> dict[str, Any]:
    """The nightly reconciliation of the orders of the last ``PSINFOR_RECONCILE_DAYS`` days (7), kept in the store."""
    from integration.reconcile import run, summary

    until = now or datetime.now(UTC)
    window = days if days is not None else float(os.environ.get("PSINFOR_RECONCILE_DAYS") or 7)
    lines = run(rt, connection, until - timedelta(days=window), until, keep=True)
    counts = summary(lines)
    if counts.get("difference"):
        log.warning("reconciliation found differences", connection=connection, **counts)
    return counts


def _poll_invoices(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_invoices(rt, connection, enqueue)


def _poll_payments(rt: Runtime, connection: str, enqueue: Enqueue, interval: float) -> dict[str, Any]:
    return poll_payments(rt, connection, enqueue, interval=interval)


def _reconcile(rt: Runtime, connection: str, _enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return run_reconciliation(rt, connection)


FLOW = Flow(
    entity=ENTITY,
    queue=QUEUE,
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
    pollers=(Poller("invoices", _poll_invoices, "PSINFOR_INVOICE_POLL_INTERVAL", 300.0),
             Poller("payments", _poll_payments, "PSINFOR_PAYMENT_POLL_INTERVAL", 900.0),
             Poller("reconcile", _reconcile, "PSINFOR_RECONCILE_INTERVAL", 86400.0, lock_seconds=3600.0)),
)
