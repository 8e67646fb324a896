"""The flow registry: the one list of flows. Adding a flow is its module, its mapping YAML, and one line here.

Everything else is generated from it: the Celery task names and routes, the beat schedule and the worker's
queues (``tasks/routing.py``), and the webhook events the receiver accepts (``accepted_events``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from integration.connectors.prestashop import webhooks
from integration.flows import customer_sync, inventory, invoices, items, order_status, orders
from integration.flows.base import Flow

FLOWS: dict[str, Flow] = {flow.entity: flow for flow in (
    orders.FLOW,
    order_status.FLOW,
    customer_sync.CUSTOMER_FLOW,
    customer_sync.ADDRESS_FLOW,
    customer_sync.M3_CUSTOMER_FLOW,
    invoices.FLOW,
    inventory.FLOW,
    items.FLOW,
)}


@dataclass(frozen=True)
class AcceptedEvent:
    """A webhook event the receiver takes: the body field with the record's id, and the flow that runs it
    (None: kept in the inbox as ``pending_flow`` until a flow handles it)."""

    id_field: str
    entity: str | None


def accepted_events(flows: Iterable[Flow] | None = None) -> Mapping[str, AcceptedEvent]:
    """The shop module's event catalogue, with each event routed to the flow that declares it."""
    chosen = list(FLOWS.values() if flows is None else flows)
    events = {name: AcceptedEvent(id_field, None) for name, id_field in webhooks.EVENTS.items()}
    for flow in chosen:
        for name, id_field in flow.events.items():
            if events.get(name) and events[name].entity is not None:
                raise ValueError(f"webhook event {name!r} is declared by two flows")
            events[name] = AcceptedEvent(id_field, flow.entity)
    return events
