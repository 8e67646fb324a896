"""The flows, by the entity their events carry."""

from __future__ import annotations

from integration.flows.base import Flow
from integration.flows.order_status import FLOW as ORDER_STATUS_FLOW
from integration.flows.orders import FLOW as ORDER_FLOW

FLOWS: dict[str, Flow] = {ORDER_FLOW.entity: ORDER_FLOW, ORDER_STATUS_FLOW.entity: ORDER_STATUS_FLOW}

# Which flow handles which webhook event; events without one are kept in the inbox as ``pending_flow``.
EVENT_FLOWS: dict[str, str] = {"order.created": "order", "order.status_changed": "order"}
