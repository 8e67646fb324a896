"""``psinfor map preview``: what an order becomes, shown before anything is sent.

A deployment tunes its mapping files against real orders; the preview shows the canonical record, the
M3 transactions, every call the load would make in order (the customer's creation when it is missing, the
CUOR and batch-order look-ups, Confirm and the status read-back: ``orders.load_plan``) and the validation
result of the order and of the customer record, for one order read from the shop or from saved webservice
XML, and never writes anywhere. A mapping error is part of the result (a validation entry with rule
``mapping``), not a crash, because that is exactly what the operator is looking for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from integration.canonical import OrderSchema
from integration.connectors.infor.orders import load_plan
from integration.errors import MappingError, ValidationFailed
from integration.jsonutil import to_jsonable

from .engine import MappingEngine


def read_bundle_from_file(path: str | Path) -> dict[str, Any]:
    """The bundle of ``…/orders/ID.xml`` with its related objects beside it (the PrestaShop connector's seam)."""
    from integration.connectors.prestashop.bundles import read_order_bundle

    return read_order_bundle(path)


def read_bundle_from_shop(order_id: int, connection: str = "default") -> dict[str, Any]:
    """The bundle of one order, live from the configured shop (the sandbox included); reads only."""
    from integration.config import load_settings
    from integration.connectors.prestashop.bundles import fetch_order_bundle
    from integration.connectors.prestashop.client import PrestaShopClient

    ps = load_settings().connection(connection).prestashop
    client = PrestaShopClient(ps.url, ps.key, timezone=ps.timezone, use_ws_key_param=ps.use_ws_key_param,
                              id_shop=ps.id_shop, id_group_shop=ps.id_group_shop, timeout=ps.timeout)
    return fetch_order_bundle(client, order_id)


def preview_order(engine: MappingEngine, bundle: Mapping[str, Any], *,
                  known_item: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """``{"canonical", "infor", "validation", "anomalies", "notes"}`` for one order bundle, JSON-able."""
    try:
        order = engine.ps_order_to_canonical(bundle, known_item=known_item)
    except ValidationFailed as exc:
        return {"canonical": None, "infor": [], "validation": [_entry(f) for f in exc.failures],
                "anomalies": [], "notes": []}
    except MappingError as exc:
        return {"canonical": None, "infor": [], "anomalies": [], "notes": [],
                "validation": [{"record": f"order {(bundle.get('order') or {}).get('id', '?')}", "field": "",
                                "rule": "mapping", "message": str(exc), "value": None}]}
    cuno = engine.cuno_for(order.customer.ps_customer_id)
    try:
        calls = engine.order_to_infor(order, cuno=cuno)
    except MappingError as exc:
        return {"canonical": OrderSchema().dump(order), "infor": [], "anomalies": [], "notes": order.notes,
                "validation": [{"record": f"order {order.ps_order_id}", "field": exc.details.get("field", ""),
                                "rule": "mapping", "message": str(exc), "value": exc.details.get("value")}]}
    failures = engine.validate_order(order, calls, known_item=known_item, cuno=cuno)
    try:
        customer_calls = engine.customer_to_infor(order.customer, cuno=cuno)
    except MappingError as exc:
        customer_calls = []
        failures.append(_mapping_failure(f"customer {order.customer.ps_customer_id}", exc))
    else:  # the load creates a missing customer first: its record must pass too
        failures += engine.validate_customer(order.customer, customer_calls, cuno=cuno)
    return {
        "canonical": OrderSchema().dump(order),
        "infor": [dict(c) for c in calls],
        "customer": [dict(c) for c in customer_calls],
        "load": load_plan(calls, customer_calls, cuno=cuno, cuor=order.customer_order_number),
        "validation": [to_jsonable(f.to_dict()) for f in failures],
        "anomalies": [to_jsonable(a.to_dict()) for a in engine.anomalies(order)],
        "notes": list(order.notes),
    }


def _mapping_failure(record: str, exc: MappingError) -> Any:
    from integration.validation.rules import ValidationFailure

    return ValidationFailure(record, str(exc.details.get("field", "")), "mapping", str(exc), exc.details.get("value"))


def _entry(failure: Mapping[str, Any]) -> dict[str, Any]:
    return {"record": failure.get("record", ""), "field": failure.get("field", ""),
            "rule": failure.get("rule", ""), "message": failure.get("message", ""),
            "value": to_jsonable(failure.get("value"))}


def render_text(result: Mapping[str, Any]) -> str:
    """The preview for a terminal: the order at a glance, each M3 call on one line, then the verdict."""
    out: list[str] = []
    order = result.get("canonical")
    if order:
        delivery = order["delivery_address"]
        out.append(f"Order {order['ps_order_id']}  {order['reference']}  CUOR {order['customer_order_number']}  "
                   f"{order['order_date']}")
        customer = order["customer"]
        out.append(f"  customer {customer['ps_customer_id']}  {customer['first_name']} {customer['last_name']}"
                   f"{'  (' + customer['company'] + ')' if customer['company'] else ''}  {customer['email']}")
        where = ", ".join([*delivery["street"], f"{delivery['postcode']} {delivery['city']}", delivery["country"]])
        out.append(f"  deliver to {where}  phone {delivery['phone'] or delivery['phone_raw'] or '-'}")
        out.append(f"  currency {order['currency']} → ERP {order['erp_currency']} at {order['erp_rate']} "
                   f"({order['rate_source']}), prices {order['price_basis'].replace('_', ' ')}")
        out.append("  lines:")
        for line in order["lines"]:
            out.append(f"    {line['line_no']:>3}  {line['quantity']:>5} x {line['item_number'] or '?':<16} "
                       f"{line['erp_unit_price']:>10} {order['erp_currency']}  ({line['resolved_by']}) {line['name']}")
        out.append("  totals (computed - expected = difference):")
        for check in order["reconciliation"]:
            out.append(f"    {check['name']:<24} {check['computed']:>12} - {check['expected']:>12} = "
                       f"{check['difference']:>6} {check['currency']}")
        enrichment = ", ".join(f"{k}={v}" for k, v in order["enrichment"].items())
        rules = ", ".join(order["enrichment_rules"]) or "defaults only"
        out.append(f"  enrichment: {enrichment}  (rules: {rules})")
    for note in result.get("notes") or []:
        out.append(f"  note: {note}")
    if result.get("load"):
        out.append("Load: every M3 call, in order (ORNO is given by M3 at AddBatchHead):")
        for n, call in enumerate(result["load"], start=1):
            fields = "  ".join(f"{k}={v}" for k, v in call["record"].items())
            out.append(f"  {n:>2}. {call['program']}/{call['transaction']}: {fields}")
            out.append(f"      when {call['when']}")
    elif result.get("infor"):
        out.append("Infor transactions (ORNO is added by M3):")
        for call in result["infor"]:
            fields = "  ".join(f"{k}={v}" for k, v in call["record"].items())
            out.append(f"  {call['program']}/{call['transaction']}: {fields}")
    failures = result.get("validation") or []
    if failures:
        out.append(f"Validation: {len(failures)} failure(s)")
        for f in failures:
            out.append(f"  [{f['rule']}] {f['field'] or '-'}: {f['message']}")
    else:
        out.append("Validation: OK")
    anomalies = result.get("anomalies") or []
    for a in anomalies:
        out.append(f"  would be held for review [{a['rule']}]: {a['message']}")
    return "\n".join(out)
