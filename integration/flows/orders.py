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
from integration.errors import LockBusy, NotFound, PermanentError, TransientError, ValidationFailed
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.customers import ensure_customer
from integration.flows.maintenance import PollResult, enqueue_new_event, shop_datetime
from integration.store import models as m
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.orders")
ENTITY = "order"
ORDERS_WATERMARK = "prestashop.orders.date_upd"


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """Read the order and everything it refers to from the shop (ids only came with the event)."""
    from integration.connectors.prestashop.bundles import fetch_order_bundle

    orno = rt.binder(event.connection, ENTITY).get(event.source_id)
    if orno:
        raise SkipEvent(f"order {event.source_id} is already Infor order {orno}")
    bundle = fetch_order_bundle(rt.prestashop(event.connection), int(event.source_id))
    return {"bundle": bundle}  # the store writes it as JSON (Decimals as strings, ISO dates)


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """Canonical order and the Infor transactions it becomes; the customer is ensured first."""
    bundle = extracted["bundle"]
    engine = rt.mapping
    order = engine.ps_order_to_canonical(bundle)
    cuno = ensure_customer(rt, event.connection, bundle, event_id=event.id)
    calls = engine.order_to_infor(order, cuno=cuno)
    return {"canonical": _order_schema().dump(order), "cuno": cuno, "calls": calls}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    """Business rules before the write; anomalies hold the order for review."""
    from integration.validation.rules import raise_if_failed

    engine = rt.mapping
    order = _order_schema().load(transformed["canonical"])
    raise_if_failed(engine.validate_order(order, transformed["calls"], cuno=transformed["cuno"]),
                    f"order {event.source_id}")
    engine.check_anomalies(order)  # raises HeldForReview
    return transformed


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Create the Infor order once, and bind it.

    The creation is claimed in SQL first (a pending binding owned by this event), so no other event can
    create the order meanwhile, however long M3 takes. A claim this event left behind (a dead worker, a lost
    answer) is resolved from what M3 knows: the temporary batch order's status in OIS275, then the CUOR.
    """
    from integration.connectors.infor.errors import WriteOutcomeUnknown
    from integration.connectors.infor.orders import create_batch_order, find_order_by_customer_ref

    connection, ps_id = event.connection, event.source_id
    binder = rt.binder(connection, ENTITY)
    calls = validated["calls"]
    facts = {"cuor": _cuor(calls), "cuno": validated["cuno"], "event_id": event.id}
    with rt.record_lock(f"{connection}:{ENTITY}:{ps_id}"):
        m3 = rt.m3(connection)
        row = binder.row(ps_id)
        if row is None:
            orno = find_order_by_customer_ref(m3, facts["cuor"], facts["cuno"])
            if orno is not None:  # created before we kept bindings, or the store lost it
                binder.finalize(ps_id, orno, facts)
                return {"orno": orno, **facts, "recovered": True}
            if not binder.claim(ps_id, event.id, facts):
                raise LockBusy(f"order {ps_id} was claimed by another event a moment ago",
                               retry_after=rt.settings.outcome_settle_seconds)
        else:
            infor_id, data = row
            if not is_pending(infor_id):
                if data.get("event_id") == event.id:  # ours, interrupted before it could say so
                    return {"orno": infor_id, **facts, "recovered": True}
                raise SkipEvent(f"order {ps_id} is already Infor order {infor_id}")
            recovered = _resolve_claim(rt, m3, event, data, facts)
            if recovered is not None:
                return recovered
        temporaries: list[str] = []

        def remember(temporary: str) -> None:
            temporaries.append(temporary)
            binder.update(ps_id, temporary_orno=temporary)

        try:
            result = create_batch_order(m3, calls, on_temporary=remember)
        except PermanentError:
            raise  # a definite rejection: M3 said no
        except Exception as exc:
            if isinstance(exc, WriteOutcomeUnknown) or temporaries:
                # The outcome is unknown (a lost answer, a time limit mid-call): M3 may still be working on
                # it, so ask OIS275 only once it has had time to finish. A wait, not an attempt of ours.
                settle = max(rt.settings.outcome_settle_seconds, getattr(exc, "retry_after", 0.0) or 0.0)
                raise TransientError(f"order {ps_id}: M3's answer to the batch order was lost ({exc})",
                                     retry_after=settle, counts_as_attempt=False,
                                     details={"temporary_orno": temporaries[-1] if temporaries else None}) from exc
            raise
        binder.finalize(ps_id, result.orno, {**facts, "temporary_orno": result.temporary_orno})
    return {"orno": result.orno, **facts, "recovered": False}


def _resolve_claim(rt: Runtime, m3: Any, event: EventView, claim: dict[str, Any],
                   facts: dict[str, Any]) -> dict[str, Any] | None:
    """A pending claim: wait for a live owner, take over a finished one, and find an order it already made."""
    from integration.connectors.infor.orders import find_order_by_customer_ref, get_temporary_order_status

    ps_id = event.source_id
    binder = rt.binder(event.connection, ENTITY)
    owner = int(claim.get("event_id") or 0)
    if owner != event.id:
        owner_event = rt.store.get_event(owner)
        if owner_event is not None and owner_event.status in m.ACTIVE_STATUSES:
            raise LockBusy(f"order {ps_id} is being created by event {owner}",
                           retry_after=rt.settings.outcome_settle_seconds)
        binder.update(ps_id, event_id=event.id, taken_over_from=owner)
    temporary = claim.get("temporary_orno")
    orno: str | None = None
    if temporary:
        try:
            status = get_temporary_order_status(m3, str(temporary))
        except NotFound:
            status = {}
        if str(status.get("STAT", "")).strip() == "90" and str(status.get("ORNR", "")).strip():
            orno = str(status["ORNR"]).strip()
    if orno is None:
        orno = find_order_by_customer_ref(m3, facts["cuor"], facts["cuno"])
    if orno is not None:
        binder.finalize(ps_id, orno, {**facts, "temporary_orno": temporary})
        return {"orno": orno, **facts, "recovered": True}
    if temporary:  # never confirmed: a new batch order replaces it (the old one stays unconfirmed in OIS275)
        log.warning("abandoning an unconfirmed batch order", order=ps_id, temporary_orno=temporary,
                    resolution="delete it in OIS275 when convenient")
        abandoned = [*claim.get("abandoned", []), temporary]
        binder.update(ps_id, temporary_orno=None, abandoned=abandoned)
    return None


@cache
def _order_schema() -> Any:
    """One schema instance: building a marshmallow schema deep-copies its fields, so it is not done per order."""
    from integration.canonical import OrderSchema

    return OrderSchema()


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
    events={"order.created": "id_order", "order.status_changed": "id_order"},
    # The safety net for missed webhooks: orders changed since the watermark (minus an overlap).
    pollers=(Poller("orders", _poll, "PSINFOR_POLL_INTERVAL", 60.0),),
)
