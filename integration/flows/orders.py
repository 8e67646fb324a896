"""Orders, shop → Infor: extract → transform → validate → load, each a plain function.

Nothing is done twice: extract skips an order that already has a binding; load takes a per-order lock,
looks again, then asks Infor for an order already carrying the shop's reference (CUOR) before it creates
one, so a crash between "created in Infor" and "binding saved" cannot double an order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from integration.binder import is_pending
from integration.errors import (
    AwaitingPayment,
    HeldByErp,
    HeldForReview,
    LockBusy,
    PermanentError,
    TransientError,
    ValidationFailed,
)
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.customers import ensure_customer
from integration.flows.maintenance import PollResult, enqueue_new_event, shop_datetime
from integration.store import models as m
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.orders")
ENTITY = "order"
CUSTOMER = "customer"
CUSTOMER_PARTS = ("address_", "country_", "state_")  # the bundle's parts ensure_customer reads
# Events about an order's changes in the shop: for an order Infor already has, these are read (a cancellation,
# a refund, a changed address); any other event of a bound order is skipped without an API call.
SHOP_CHANGE_EVENTS = frozenset({"order.status_changed", "order.refunded"})
ORDERS_WATERMARK = "prestashop.orders.date_upd"


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """Read the order and everything it refers to from the shop (ids only came with the event), and decide by
    the shop's state (``statuses.yaml`` ``prestashop_to_infor``) whether it goes to Infor now: only paid (or
    otherwise releasable) orders do; an unpaid one waits, at no cost, until its state changes."""
    from integration.connectors.prestashop.bundles import fetch_order_bundle

    orders = rt.binder(event.connection, ENTITY)
    orno = orders.get(event.source_id)
    if orno and event.event_type not in SHOP_CHANGE_EVENTS:
        raise SkipEvent(f"order {event.source_id} is already Infor order {orno}")
    ps = rt.prestashop(event.connection)
    bundle = fetch_order_bundle(ps, int(event.source_id))
    action, state = shop_action(rt, ps, bundle["order"])
    if orno:
        return _after_sync(event, orno, orders.data(event.source_id), bundle, action, state)
    if action == "hold":
        raise AwaitingPayment(f"order {event.source_id} is {state} in the shop: waiting for its payment",
                              resolution="nothing to do: it goes to Infor once the shop marks it paid",
                              details={"shop_state": state})
    if action != "open":
        raise SkipEvent(f"order {event.source_id} is {state} in the shop: {action}, not sent to Infor")
    return {"bundle": bundle}  # the store writes it as JSON (Decimals as strings, ISO dates)


def _after_sync(event: EventView, orno: str, bound: dict[str, Any], bundle: dict[str, Any], action: str,
                state: str) -> dict[str, Any]:
    """A change in the shop to an order Infor already has: a cancellation or full refund cancels it in M3 (load);
    a partial refund or a changed address or quantity is held for an operator, never silently dropped."""
    if bound.get("cancelled"):
        raise SkipEvent(f"Infor order {orno} is already cancelled")
    if action == "cancel":
        return {"cancel": {"orno": orno, "shop_state": state}}
    sent = bound.get("fingerprint") or {}
    changed = [part for part, value in fingerprint(bundle).items() if sent.get(part, value) != value]
    if changed:
        raise HeldForReview(f"order {event.source_id} changed in the shop ({', '.join(changed)}) after it became "
                            f"Infor order {orno}", resolution=f"apply the change to order {orno} in M3 (OIS300), "
                            "then skip this event", details={"orno": orno, "changed": changed})
    if event.event_type == "order.refunded":
        slip = event.payload.get("id_order_slip")
        raise HeldForReview(f"order {event.source_id} was partly refunded in the shop (credit slip {slip}); "
                            f"Infor order {orno} is unchanged", resolution="credit the customer in M3 if it is "
                            "not done there, then skip this event", details={"orno": orno, "id_order_slip": slip})
    raise SkipEvent(f"order {event.source_id} is already Infor order {orno} (shop state {state})")


def fingerprint(bundle: dict[str, Any]) -> dict[str, str]:
    """What M3 got that the shop could still change: the delivery address and the lines (hashed per part)."""
    import hashlib
    import json

    from integration.mapping.records import order_rows

    address = bundle.get("address_delivery") or {}
    parts = {
        "delivery address": [str(address.get(k) or "") for k in
                             ("address1", "address2", "postcode", "city", "id_country", "id_state")],
        "lines": sorted((str(r.get("product_id")), str(r.get("product_attribute_id")), str(r.get("product_quantity")))
                        for r in order_rows(bundle["order"])),
    }
    return {k: hashlib.sha256(json.dumps(v).encode()).hexdigest()[:16] for k, v in parts.items()}


def shop_action(rt: Runtime, ps: Any, order: dict[str, Any]) -> tuple[str, str]:
    """(open | hold | cancel | ignore, the state's key or name) for the order's current shop state."""
    states = ps.order_states()
    state_id = int(order["current_state"])
    key = states.key_for(state_id)
    state = states.get(state_id)
    flags = {f: bool(getattr(state, f, False)) for f in ("paid", "shipped", "delivery", "logable")} if state else {}
    return rt.mapping.infor_status_for_ps_state(key, flags), key or states.name(state_id)


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """Canonical order and the Infor transactions it becomes. Nothing is written anywhere: the customer number
    is the bound one or the deterministic one (``cuno_for``); the customer is created, when missing, in load, so
    an order refused by validation leaves nothing in M3."""
    if "cancel" in extracted:
        return extracted
    bundle = extracted["bundle"]
    engine = rt.mapping
    order = engine.ps_order_to_canonical(bundle)
    ps_customer = str(bundle["customer"]["id"])
    cuno = rt.binder(event.connection, CUSTOMER).get(ps_customer) or engine.cuno_for(int(ps_customer))
    calls = engine.order_to_infor(order, cuno=cuno)
    customer = {k: v for k, v in bundle.items() if k == "customer" or k.startswith(CUSTOMER_PARTS)}
    return {"canonical": _order_schema().dump(order), "cuno": cuno, "calls": calls, "customer": customer,
            "fingerprint": fingerprint(bundle)}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    """Business rules before the write; anomalies hold the order for review (``HeldForReview``, findings in its
    details) until an operator releases it (the release flag in the payload) or skips it. The order's compact
    history row is kept either way: accepted when it goes on, not accepted while held."""
    from integration.validation.rules import raise_if_failed

    if "cancel" in transformed:
        return transformed
    engine = rt.mapping
    order = _order_schema().load(transformed["canonical"])
    raise_if_failed(engine.validate_order(order, transformed["calls"], cuno=transformed["cuno"]),
                    f"order {event.source_id}")
    if not event.payload.get(m.REVIEW_RELEASED):  # an operator released it: the anomalies were seen
        _check_anomalies(rt, event, order, transformed["cuno"])
    _remember(rt, event, order, accepted=True)
    # What load needs: the canonical order was for the checks, and transform's snapshot keeps it.
    return {k: v for k, v in transformed.items() if k != "canonical"}


def _check_anomalies(rt: Runtime, event: EventView, order: Any, cuno: str) -> None:
    """Fixed limits and the detectors against the order's history; a held order is remembered (velocity)."""
    from integration.ai import history

    try:
        rt.mapping.check_anomalies(order, context=history.context_for(rt, event.connection, order, cuno))
    except HeldForReview:
        _remember(rt, event, order, accepted=False)
        raise


def _remember(rt: Runtime, event: EventView, order: Any, *, accepted: bool) -> None:
    from integration.ai import history

    history.record(rt, event.connection, order, accepted=accepted, event_id=event.id)


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Create the Infor order once, bind it only when M3 says it exists, and never leave or double a batch order.

    The creation is claimed in SQL first (a pending binding owned by this event), so no other event can
    create the order meanwhile, however long M3 takes. Before anything is entered, M3 is asked (one bulk call)
    for a customer order with the shop's reference (CUOR) and for a batch order already carrying it (OIS100MI
    LstHead, LstBatchHead): an earlier batch order is finished, never replaced. M3's answer is read back from
    OIS275 (GetTmpOrderStat), never assumed: 90 binds the order; 15/20/25 dead-letter with M3's own messages; 30
    (credit stop) waits as ``held_by_erp`` and is re-checked; not yet processed is asked again with backoff, then
    dead-lettered.
    """
    from integration.connectors.infor.orders import find_shop_order

    if "cancel" in validated:
        return _cancel(rt, event, validated["cancel"])
    connection, ps_id = event.connection, event.source_id
    binder = rt.binder(connection, ENTITY)
    # The customer first (found, bound or created once); its number may differ from transform's guess when an
    # existing M3 customer was matched, so the calls carry the one ensure_customer answers.
    cuno = ensure_customer(rt, connection, validated["customer"], event_id=event.id)
    calls = _with_customer(validated["calls"], cuno)
    facts: dict[str, Any] = {"cuor": _cuor(calls), "cuno": cuno, "event_id": event.id,
                             "fingerprint": validated.get("fingerprint")}
    with rt.record_lock(f"{connection}:{ENTITY}:{ps_id}"):
        m3 = rt.m3(connection)
        row = binder.row(ps_id)
        if row is None:
            if not binder.claim(ps_id, event.id, facts):
                raise LockBusy(f"order {ps_id} was claimed by another event a moment ago",
                               retry_after=rt.settings.outcome_settle_seconds)
            claim: dict[str, Any] = {}
        else:
            infor_id, claim = row
            if not is_pending(infor_id):
                if claim.get("event_id") == event.id:  # ours, interrupted before it could say so
                    return {"orno": infor_id, **facts, "recovered": True}
                raise SkipEvent(f"order {ps_id} is already Infor order {infor_id}")
            _take_over(rt, event, claim)
        temporary = claim.get("temporary_orno")
        if temporary:
            return _settle(rt, m3, event, str(temporary), claim, calls, facts)
        in_m3 = find_shop_order(m3, cuno, facts["cuor"])  # the customer order and batch orders, in one call
        if in_m3.orno is not None:  # created before we kept bindings, or the store lost it
            binder.finalize(ps_id, in_m3.orno, facts)
            return {"orno": in_m3.orno, **facts, "recovered": True}
        earlier = in_m3.batch_orders
        created = [b for b in earlier if b.orno]
        if created:
            binder.finalize(ps_id, str(created[-1].orno), {**facts, "temporary_orno": created[-1].temporary_orno})
            return {"orno": created[-1].orno, **facts, "recovered": True}
        # Batch orders of this shop order whose number no attempt of ours ever received (AddBatchHead's answer
        # was lost): nothing was added to them nor confirmed, so they are deleted, never left behind.
        for orphan in earlier:
            _abandon(rt, m3, event, orphan.temporary_orno)
        return _create(rt, m3, event, calls, facts)


def _cancel(rt: Runtime, event: EventView, cancel: dict[str, Any]) -> dict[str, Any]:
    """Cancel the M3 order the shop cancelled or refunded in full, unless M3 has started picking it: then it is
    held for an operator (``PickingStarted``). DelLine for every open line (docs/contracts.md says why)."""
    from integration.connectors.infor.orders import cancel_order

    orders = rt.binder(event.connection, ENTITY)
    with rt.record_lock(f"{event.connection}:{ENTITY}:{event.source_id}"):
        done = cancel_order(rt.m3(event.connection), cancel["orno"], method="delete")
        orders.update(event.source_id, cancelled=True, cancelled_lines=list(done.lines))
        orders.close(event.source_id)
    return {"orno": cancel["orno"], "cancelled": True, "lines": list(done.lines), "shop_state": cancel["shop_state"],
            "already_cancelled": done.already_cancelled}


def _take_over(rt: Runtime, event: EventView, claim: dict[str, Any]) -> None:
    """A pending claim of another event: wait while that event is active, take it over once it has finished."""
    owner = int(claim.get("event_id") or 0)
    if owner == event.id:
        return
    owner_event = rt.store.get_event(owner)
    if owner_event is not None and owner_event.status in m.ACTIVE_STATUSES:
        raise LockBusy(f"order {event.source_id} is being created by event {owner}",
                       retry_after=rt.settings.outcome_settle_seconds)
    rt.binder(event.connection, ENTITY).update(event.source_id, event_id=event.id, taken_over_from=owner)


def _create(rt: Runtime, m3: Any, event: EventView, calls: list[dict[str, Any]],
            facts: dict[str, Any]) -> dict[str, Any]:
    """Enter and release a new batch order, then read what M3 made of it."""
    from integration.connectors.infor.errors import BatchOrderRejected, WriteOutcomeUnknown
    from integration.connectors.infor.orders import create_batch_order

    binder = rt.binder(event.connection, ENTITY)
    temporaries: list[str] = []

    def remember(temporary: str) -> None:
        temporaries.append(temporary)
        binder.update(event.source_id, temporary_orno=temporary, confirm_sent=False)

    def confirming(_temporary: str) -> None:
        binder.update(event.source_id, confirm_sent=True, confirmed_at=datetime.now(UTC).isoformat())

    try:
        result = create_batch_order(m3, calls, on_temporary=remember, on_confirm=confirming)
    except BatchOrderRejected as exc:
        # Addresses or lines refused before Confirm: this batch order is abandoned, so it is deleted (a replay
        # enters a new one once the cause is fixed), and the dead letter carries M3's reasons.
        abandoned = exc.details.get("temporary_orno") or (temporaries[-1] if temporaries else None)
        if abandoned:
            deleted = _abandon(rt, m3, event, str(abandoned), quietly=True)
            binder.update(event.source_id, temporary_orno=None)
            exc.details["batch_order_deleted"] = deleted
            if deleted:
                exc.resolution = (f"batch order {abandoned} was deleted, nothing is left in M3; fix the item or "
                                  "address in the shop or in M3, then replay the order")
        raise
    except PermanentError:
        raise  # a definite rejection: M3 said no
    except Exception as exc:
        if isinstance(exc, WriteOutcomeUnknown) or temporaries:
            # The outcome is unknown (a lost answer, a time limit mid-call): M3 may still be working on it, so
            # ask OIS275 only once it has had time to finish. A wait, not an attempt of ours.
            settle = max(rt.settings.outcome_settle_seconds, getattr(exc, "retry_after", 0.0) or 0.0)
            raise TransientError(f"order {event.source_id}: M3's answer to the batch order was lost ({exc})",
                                 retry_after=settle, counts_as_attempt=False,
                                 details={"temporary_orno": temporaries[-1] if temporaries else None}) from exc
        raise
    return _outcome(rt, m3, event, result.batch, facts, recovered=False)


def _settle(rt: Runtime, m3: Any, event: EventView, temporary: str, claim: dict[str, Any],
            calls: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """An earlier attempt's batch order: read its status and finish it. A new one is entered only when M3 no
    longer has it, or when it was never confirmed (then it is deleted first: never two for one shop order).
    One still *entered* (status 10) well after its Confirm was sent is confirmed again: that Confirm may have
    failed at the gateway before M3 ran it, and waiting would only end in a dead letter."""
    from integration.connectors.infor.orders import get_batch_status

    status = get_batch_status(m3, temporary)
    confirm_sent = bool(claim.get("confirm_sent"))
    if status is not None and confirm_sent and status.status == BATCH_ENTERED and _confirm_is_old(rt, claim):
        status = _confirm_again(rt, m3, event, temporary) or status
    if status is not None and not confirm_sent and not status.created:
        _abandon(rt, m3, event, temporary)  # entered but never confirmed: it is ours to delete
        status = None
    if status is None:  # deleted in OIS275 (by an operator, or just now): a new one may be entered
        rt.binder(event.connection, ENTITY).update(event.source_id, temporary_orno=None, confirm_sent=False)
        return _create(rt, m3, event, calls, facts)
    return _outcome(rt, m3, event, status, facts, recovered=True)


# OIS275's status of a batch order entered (or released and not yet processed by the batch job).
BATCH_ENTERED = "10"


def _confirm_is_old(rt: Runtime, claim: dict[str, Any]) -> bool:
    sent = claim.get("confirmed_at")
    if not sent:
        return True  # recorded before confirmed_at existed: old enough
    age = datetime.now(UTC) - datetime.fromisoformat(str(sent))
    return age.total_seconds() >= rt.settings.outcome_settle_seconds


def _confirm_again(rt: Runtime, m3: Any, event: EventView, temporary: str) -> Any:
    """Send Confirm once more for a batch order still entered; M3's refusal (unconfirmed how a tenant answers a
    second Confirm) leaves it pending, never a dead letter. Returns the status read after it, or None."""
    from integration.connectors.infor.errors import M3Error
    from integration.connectors.infor.orders import confirm_batch_order

    rt.binder(event.connection, ENTITY).update(event.source_id, confirmed_at=datetime.now(UTC).isoformat())
    try:
        result = confirm_batch_order(m3, temporary)
    except M3Error as exc:
        log.warning("a second Confirm was refused; the batch order is left pending", temporary_orno=temporary,
                    error=exc.message)
        return None
    log.info("confirmed a batch order again (the first Confirm never reached M3)", order=event.source_id,
             temporary_orno=temporary)
    return result.batch


def _abandon(rt: Runtime, m3: Any, event: EventView, temporary: str, *, quietly: bool = False) -> bool | None:
    """Delete a batch order of ours that will never be confirmed and note it in the binding. If M3 refuses, the
    load stops and names it; ``quietly`` (a dead letter is being written anyway, naming it) notes it all the same
    and answers None."""
    from integration.connectors.infor.orders import delete_batch_order

    try:
        deleted: bool | None = bool(delete_batch_order(m3, temporary))
    except Exception:
        if not quietly:
            raise
        log.warning("could not delete an abandoned batch order", temporary_orno=temporary, exc_info=True)
        deleted = None
    orders = rt.binder(event.connection, ENTITY)
    orders.update(event.source_id, abandoned=[*orders.data(event.source_id).get("abandoned", []), temporary])
    if deleted:
        log.info("deleted a batch order that will never be confirmed", order=event.source_id,
                 temporary_orno=temporary)
    return deleted


def _outcome(rt: Runtime, m3: Any, event: EventView, status: Any, facts: dict[str, Any], *,
             recovered: bool) -> dict[str, Any]:
    from integration.connectors.infor.orders import batch_order_messages

    ps_id, temporary = event.source_id, status.temporary_orno
    facts = {**facts, "temporary_orno": temporary, "batch_status": status.status}
    if status.outcome == "created":
        rt.binder(event.connection, ENTITY).finalize(ps_id, status.orno, facts)
        return {"orno": status.orno, **facts, "recovered": recovered}
    if status.outcome == "pending":
        # Confirmed but not processed yet (M3's batch job runs later), or stopped at 55: ask again with backoff;
        # once the retry budget is spent the event is dead-lettered with the batch order named.
        raise TransientError(
            f"order {ps_id}: batch order {temporary} is not processed yet (OIS275 status {status.status or '?'})",
            retry_after=rt.settings.outcome_settle_seconds,
            resolution=f"check batch order {temporary} in OIS275: confirm it, or delete it (DelBatchHead) and "
                       "replay the order", details=facts)
    reasons = [{"id": msg.message_id, "message": msg.text, "data": msg.data}
               for msg in batch_order_messages(m3, temporary)]
    text = "; ".join(r["message"] for r in reasons if r["message"]) or f"OIS275 status {status.status}"
    if status.outcome == "credit_stop":
        raise HeldByErp(f"order {ps_id}: M3 holds batch order {temporary} (credit stop): {text}",
                        resolution="release the customer's credit stop in M3; the order is checked again "
                                   "every PSINFOR_ERP_HOLD_RECHECK_SECONDS and goes on by itself",
                        details={**facts, "m3_messages": reasons})
    raise PermanentError(
        f"order {ps_id}: M3 refused batch order {temporary} (status {status.status}): {text}",
        resolution=f"correct the cause in M3 or the shop, then re-release batch order {temporary} in OIS275, or "
                   "delete it (DelBatchHead) and replay the order: a new one is never entered while it exists",
        details={**facts, "m3_messages": reasons})


@cache
def _order_schema() -> Any:
    """One schema instance: building a marshmallow schema deep-copies its fields, so it is not done per order."""
    from integration.canonical import OrderSchema

    return OrderSchema()


def _with_customer(calls: list[dict[str, Any]], cuno: str) -> list[dict[str, Any]]:
    return [{**c, "record": {**c["record"], "CUNO": cuno}} if "CUNO" in c.get("record", {}) else c for c in calls]


def _cuor(calls: list[dict[str, Any]]) -> str:
    for call in calls:
        if call.get("transaction") == "AddBatchHead":
            return str(call["record"]["CUOR"])
    raise ValidationFailed("the order's Infor transactions carry no AddBatchHead with a CUOR")


def poll_orders(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None,
                since: datetime | None = None, initial_lookback: timedelta = timedelta(days=1),
                source: str = "poller") -> PollResult:
    """Orders changed since the watermark (minus an overlap) that have no binding and no open event.

    With an explicit ``since`` (an operator's resync) the watermark is neither read nor moved.
    """
    settings = rt.settings
    tz = ZoneInfo(rt.connection(connection).prestashop.timezone)
    binder = rt.binder(connection, ENTITY)
    now_utc = now or datetime.now(UTC)
    if since is None:
        mark = rt.store.get_watermark(connection, ORDERS_WATERMARK)
        since_utc = datetime.fromisoformat(mark) if mark else now_utc - initial_lookback
        since_utc -= timedelta(seconds=settings.poll_overlap_seconds)
    else:
        since_utc = since if since.tzinfo else since.replace(tzinfo=tz)
    until_utc = now_utc + timedelta(minutes=1)
    result = PollResult(connection, since_utc.isoformat(), until_utc.isoformat())
    client = rt.prestashop(connection)
    newest: datetime | None = None
    # The client writes datetimes in the shop's local time, as PrestaShop compares them.
    for row in client.list("orders", display="[id,date_upd]", filters={"date_upd": (since_utc, until_utc)},
                           sort="[date_upd_ASC,id_ASC]", date=True):
        result.seen += 1
        order_id = str(row["id"])
        changed = shop_datetime(row["date_upd"], tz)
        newest = changed if newest is None or changed > newest else newest
        if binder.get(order_id):
            result.skipped_bound += 1
            continue
        if rt.store.open_event_for(connection, ENTITY, order_id):
            result.skipped_open += 1
            continue
        new = NewEvent(connection=connection, source_system=source, entity=ENTITY, source_id=order_id,
                       event_type=f"order.{source}", dedupe_key=f"{source}:order:{order_id}:{changed.isoformat()}",
                       payload={"id_order": int(order_id), "date_upd": changed.isoformat()})
        event_id, created = enqueue_new_event(rt.store, new, enqueue)
        if created:
            result.enqueued.append(event_id)
    if newest is not None and since is None:
        result.watermark = newest.astimezone(UTC).isoformat()
        rt.store.set_watermark(connection, ORDERS_WATERMARK, result.watermark)
    log.info("polled orders", connection=connection, seen=result.seen, enqueued=len(result.enqueued),
             since=result.since)
    return result


def _poll(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    result = poll_orders(rt, connection, enqueue)
    return {"seen": result.seen, "enqueued": len(result.enqueued), "watermark": result.watermark}


FLOW = Flow(
    entity=ENTITY,
    queue="orders",
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
    events={"order.created": "id_order", "order.status_changed": "id_order", "order.refunded": "id_order"},
    # The safety net for missed webhooks: orders changed since the watermark (minus an overlap).
    pollers=(Poller("orders", _poll, "PSINFOR_POLL_INTERVAL", 60.0),),
)
