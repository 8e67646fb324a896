"""Orders, shop → Infor: extract → transform → validate → load, each a plain function.

Nothing is done twice: extract skips an order that already has a binding; load takes a per-order lock,
looks again, then asks Infor for an order already carrying the shop's reference (CUOR) before it creates
one, so a crash between "created in Infor" and "binding saved" cannot double an order.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import structlog

from integration.errors import LockBusy, NotFound, PermanentError, ValidationFailed
from integration.flows.base import EventView, Flow, SkipEvent
from integration.flows.customers import ensure_customer
from integration.store import models as m
from integration.store.models import PENDING_PREFIX

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.orders")
ENTITY = "order"


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """Read the order and everything it refers to from the shop (ids only came with the event)."""
    from integration.connectors.prestashop.bundles import fetch_order_bundle

    orno = rt.store.get_binding(event.connection, ENTITY, event.source_id)
    if orno:
        raise SkipEvent(f"order {event.source_id} is already Infor order {orno}")
    bundle = fetch_order_bundle(rt.prestashop(event.connection), int(event.source_id))
    return {"bundle": bundle}  # the store writes it as JSON (Decimals as strings, ISO dates)


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """Canonical order and the Infor transactions it becomes; the customer is ensured first."""
    bundle = extracted["bundle"]
    engine = rt.mapping
    order = engine.ps_order_to_canonical(bundle)
    cuno = ensure_customer(rt, event.connection, bundle)
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
    calls = validated["calls"]
    facts = {"cuor": _cuor(calls), "cuno": validated["cuno"], "event_id": event.id}
    with rt.record_lock(f"{connection}:{ENTITY}:{ps_id}"):
        m3 = rt.m3(connection)
        row = rt.store.binding_row(connection, ENTITY, ps_id)
        if row is None:
            orno = find_order_by_customer_ref(m3, facts["cuor"], facts["cuno"])
            if orno is not None:  # created before we kept bindings, or the store lost it
                rt.store.finalize_binding(connection, ENTITY, ps_id, orno, facts)
                return {"orno": orno, **facts, "recovered": True}
            if not rt.store.claim(connection, ENTITY, ps_id, event.id, facts):
                busy = LockBusy(f"order {ps_id} was claimed by another event a moment ago")
                busy.retry_after = rt.settings.outcome_settle_seconds
                raise busy
        else:
            infor_id, data = row
            if not infor_id.startswith(PENDING_PREFIX):
                if data.get("event_id") == event.id:  # ours, interrupted before it could say so
                    return {"orno": infor_id, **facts, "recovered": True}
                raise SkipEvent(f"order {ps_id} is already Infor order {infor_id}")
            recovered = _resolve_claim(rt, m3, event, data, facts)
            if recovered is not None:
                return recovered
        temporaries: list[str] = []

        def remember(temporary: str) -> None:
            temporaries.append(temporary)
            rt.store.update_binding_data(connection, ENTITY, ps_id, temporary_orno=temporary)

        try:
            result = create_batch_order(m3, calls, on_temporary=remember)
        except PermanentError:
            raise  # a definite rejection: M3 said no
        except BaseException as exc:
            if isinstance(exc, WriteOutcomeUnknown) or temporaries:
                # The outcome is unknown (a lost answer, a time limit mid-call): M3 may still be working on
                # it, so ask OIS275 only once it has had time to finish.
                settle = rt.settings.outcome_settle_seconds
                exc.retry_after = max(float(getattr(exc, "retry_after", 0) or 0), settle)  # type: ignore[attr-defined]
            raise
        rt.store.finalize_binding(connection, ENTITY, ps_id, result.orno,
                                  {**facts, "temporary_orno": result.temporary_orno})
    return {"orno": result.orno, **facts, "recovered": False}


def _resolve_claim(rt: Runtime, m3: Any, event: EventView, claim: dict[str, Any],
                   facts: dict[str, Any]) -> dict[str, Any] | None:
    """A pending claim: wait for a live owner, take over a finished one, and find an order it already made."""
    from integration.connectors.infor.orders import find_order_by_customer_ref, get_temporary_order_status

    connection, ps_id = event.connection, event.source_id
    owner = int(claim.get("event_id") or 0)
    if owner != event.id:
        owner_event = rt.store.get_event(owner)
        if owner_event is not None and owner_event.status in m.ACTIVE_STATUSES:
            busy = LockBusy(f"order {ps_id} is being created by event {owner}")
            busy.retry_after = rt.settings.outcome_settle_seconds  # a wait, not an attempt of ours
            raise busy
        rt.store.update_binding_data(connection, ENTITY, ps_id, event_id=event.id, taken_over_from=owner)
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
        rt.store.finalize_binding(connection, ENTITY, ps_id, orno, {**facts, "temporary_orno": temporary})
        return {"orno": orno, **facts, "recovered": True}
    if temporary:  # never confirmed: a new batch order replaces it (the old one stays unconfirmed in OIS275)
        log.warning("abandoning an unconfirmed batch order", order=ps_id, temporary_orno=temporary,
                    resolution="delete it in OIS275 when convenient")
        abandoned = [*claim.get("abandoned", []), temporary]
        rt.store.update_binding_data(connection, ENTITY, ps_id, temporary_orno=None, abandoned=abandoned)
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


FLOW = Flow(
    entity=ENTITY,
    queue="orders",
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
)
