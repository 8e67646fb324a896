"""Order progress, Infor → shop: M3's order status and tracking numbers become the PrestaShop order's state
(an ``order_histories`` row, the customer e-mailed as the state says) and its carrier's tracking number.

extract reads M3's progress (1 call while the order is in the warehouse), transform maps the status range to a
``PS_OS_*`` state through ``mappings/statuses.yaml``, validate drops what the shop already has, load writes it.
Once an order is invoiced or cancelled in full its binding is closed and the poller stops asking.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.maintenance import enqueue_new_event
from integration.store import models as m
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.order_status")
ENTITY = "order_status"
ORDER = "order"
TRACKING_MAX = 64  # order_carriers.tracking_number


def _closed(lowest: str, highest: str, state_key: str | None) -> bool:
    return lowest >= "77" or state_key == "PS_OS_CANCELED"


def extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.infor.orders import order_progress

    orno = rt.binder(event.connection, ORDER).get(event.source_id)
    if orno is None:
        raise SkipEvent(f"order {event.source_id} is not in Infor yet")
    progress = order_progress(rt.m3(event.connection), orno)
    return {"orno": orno, "lowest": progress.lowest_status, "highest": progress.highest_status,
            "tracking": list(progress.tracking_numbers)}


def transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    state_key = rt.mapping.ps_state_for_infor_status(extracted["lowest"], extracted["highest"])
    state_id = rt.prestashop(event.connection).order_states().id(state_key) if state_key else None
    tracking = ", ".join(extracted["tracking"])[:TRACKING_MAX]
    return {**extracted, "state_key": state_key, "state_id": state_id, "tracking_number": tracking}


def validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    """Nothing to send when the shop already has this state and tracking number (from our last write)."""
    orders = rt.binder(event.connection, ORDER)
    data = orders.data(event.source_id)
    same_state = not transformed["state_key"] or transformed["state_key"] == data.get("ps_state")
    same_tracking = not transformed["tracking_number"] or transformed["tracking_number"] == data.get("tracking")
    if same_state and same_tracking:
        if _closed(transformed["lowest"], transformed["highest"], transformed["state_key"]):
            orders.close(event.source_id)
        raise SkipEvent(f"Infor status {transformed['lowest']}-{transformed['highest']}: nothing new for the shop")
    return transformed


# How far along the shop's own states are: the flow never moves an order back (a merchant's "Delivered" or a
# refund in the shop wins over an M3 status that is behind).
STATE_RANK = {"PS_OS_PREPARATION": 1, "PS_OS_SHIPPING": 2, "PS_OS_DELIVERED": 3}
SHOP_FINAL = frozenset({"PS_OS_DELIVERED", "PS_OS_CANCELED", "PS_OS_REFUND", "PS_OS_ERROR"})


def load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Tracking number first (the shipped e-mail carries it), then the state; both are guarded by the client.

    The shop's current state is read first: an order the shop has already finished (delivered, cancelled,
    refunded) or taken further than M3's status is left as it is, and its follow-up is closed."""
    ps = rt.prestashop(event.connection)
    orders = rt.binder(event.connection, ORDER)
    order_id = int(event.source_id)
    target = validated["state_key"]
    states = ps.order_states()
    current_id = int(ps.get("orders", order_id)["current_state"])
    current = states.key_for(current_id)
    if current in SHOP_FINAL:
        orders.close(event.source_id)
        raise SkipEvent(f"the shop's order is already {current}: no more updates from Infor")
    if target and STATE_RANK.get(current or "", 0) > STATE_RANK.get(target, 0):
        raise SkipEvent(f"the shop's order is already {current}, further than Infor's {target}")
    if validated["tracking_number"]:
        ps.set_tracking_number(order_id, validated["tracking_number"])
    posted = False
    held_back = None
    state_id = int(validated["state_id"]) if validated["state_id"] else None
    if state_id and states.is_paid(state_id) and not states.is_paid(current_id):
        # PrestaShop records a payment for the unpaid balance when an order enters a "paid" state from an
        # unpaid one: never do that on the shop's behalf (a cash-on-delivery order stays as the shop has it).
        held_back = f"{target} would mark the unpaid order as paid in the shop; left to the merchant"
        state_id = None
    if state_id:
        posted = ps.add_order_history(order_id, state_id, send_email=True)
    sent: dict[str, Any] = {"tracking": validated["tracking_number"] or None}
    if target and not held_back:
        sent["ps_state"] = target
    orders.update(event.source_id, **sent)
    closed = _closed(validated["lowest"], validated["highest"], validated["state_key"])
    if closed:
        orders.close(event.source_id)
    return {"orno": validated["orno"], "state": validated["state_key"], "state_posted": posted,
            "tracking_number": validated["tracking_number"], "closed": closed, "state_held_back": held_back}


def poll_order_status(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None,
                      interval: float = 300.0) -> list[int]:
    """One status check per open bound order and poll period (the period is part of the dedupe key, so a
    slow poll and the next one never double a check)."""
    bucket = int((now or datetime.now(UTC)).timestamp() // max(1.0, interval))
    enqueued: list[int] = []
    for ps_id, orno in rt.binder(connection, ORDER).open():
        # Only a check in flight holds the next one back: a failed check must not stop the order's updates.
        if rt.store.open_event_for(connection, ENTITY, ps_id, waiting=m.ACTIVE_STATUSES):
            continue
        new = NewEvent(connection=connection, source_system="poller", entity=ENTITY, source_id=ps_id,
                       event_type="order_status.polled", dedupe_key=f"status:{ps_id}:{bucket}",
                       payload={"id_order": int(ps_id), "orno": orno})
        event_id, created = enqueue_new_event(rt.store, new, enqueue)
        if created:
            enqueued.append(event_id)
    log.info("polled order status", connection=connection, enqueued=len(enqueued))
    return enqueued


def _poll(rt: Runtime, connection: str, enqueue: Enqueue, interval: float) -> dict[str, Any]:
    return {"enqueued": len(poll_order_status(rt, connection, enqueue, interval=interval))}


FLOW = Flow(
    entity=ENTITY,
    queue="status",
    steps=(("extract", extract), ("transform", transform), ("validate", validate), ("load", load)),
    pollers=(Poller("order_status", _poll, "PSINFOR_STATUS_POLL_INTERVAL", 300.0),),
)
