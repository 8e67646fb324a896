"""Orders, shop → Infor: extract → transform → validate → load, each a plain function.

Nothing is done twice: extract skips an order that already has a binding; load takes a per-order lock,
looks again, then asks Infor for an order already carrying the shop's reference (CUOR) before it creates
one, so a crash between "created in Infor" and "binding saved" cannot double an order.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from integration.errors import ValidationFailed
from integration.flows.base import EventView, Flow, SkipEvent
from integration.flows.customers import ensure_customer
from integration.jsonutil import to_jsonable

if TYPE_CHECKING:
    from integration.runtime import Runtime

ENTITY = "order"


def _already_synced(rt: Runtime, event: EventView) -> None:
    orno = rt.store.get_binding(event.connection, ENTITY, event.source_id)
    if orno:
        raise SkipEvent(f"order {event.source_id} is already Infor order {orno}")


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    """Read the order and everything it refers to from the shop (ids only came with the event)."""
    from integration.connectors.prestashop.bundles import fetch_order_bundle

    _already_synced(rt, event)
    bundle = fetch_order_bundle(rt.prestashop(event.connection), int(event.source_id))
    return {"bundle": to_jsonable(bundle)}


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
    engine = rt.mapping
    order = _order_schema().load(transformed["canonical"])
    failures = engine.validate_order(order, transformed["calls"], cuno=transformed["cuno"])
    if failures:
        rows = [to_jsonable(f) for f in failures]
        summary = "; ".join(str(r.get("message", r)) for r in rows[:5])
        raise ValidationFailed(
            f"order {event.source_id} failed validation: {summary}", failures=rows,
            resolution="correct the order or the mapping files, then `psinfor dlq replay`",
        )
    hold = getattr(engine, "check_anomalies", None)
    if hold is not None:
        hold(order)  # raises HeldForReview
    return transformed


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Create the Infor order once, and bind it."""
    from integration.connectors.infor.orders import create_batch_order, find_order_by_customer_ref

    connection = event.connection
    with rt.record_lock(f"{connection}:{ENTITY}:{event.source_id}"):
        bound = rt.store.binding_data(connection, ENTITY, event.source_id)
        if bound is not None and bound.get("event_id") == event.id:
            # This event created the order and was interrupted before it could say so (a dead worker).
            orno = rt.store.get_binding(connection, ENTITY, event.source_id)
            return {"orno": orno, "cuor": bound.get("cuor"), "cuno": bound.get("cuno"), "recovered": True}
        _already_synced(rt, event)
        m3 = rt.m3(connection)
        calls = validated["calls"]
        cuor = _cuor(calls)
        orno = find_order_by_customer_ref(m3, cuor, validated["cuno"])
        recovered = orno is not None
        if orno is None:
            orno = create_batch_order(m3, calls).orno
        rt.store.save_binding(connection, ENTITY, event.source_id, orno,
                              {"cuor": cuor, "cuno": validated["cuno"], "event_id": event.id})
    return {"orno": orno, "cuor": cuor, "cuno": validated["cuno"], "recovered": recovered}


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
