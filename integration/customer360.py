"""Customer 360: one shop customer and its M3 customer side by side, with their orders, deliveries, invoices,
payments and the customer's event history, as one JSON-able dict (``psinfor customer show`` prints it; the
console renders it).

Reads only. The field comparison is made on M3 records, the way the sync compares them: what the mapping renders
from the shop's customer against what M3 holds, each field marked with its owner and whether the two differ.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integration.runtime import Runtime

# M3 fields of the customer head the view compares, with a readable name.
HEAD_FIELDS = {"CUNM": "name", "MAIL": "email", "PHNO": "phone", "CUA1": "address line 1", "CUA2": "address line 2",
               "CUA3": "address line 3", "CUA4": "address line 4", "PONO": "postcode", "TOWN": "city",
               "CSCD": "country", "ECAR": "state", "YREF": "contact"}


class CustomerNotFound(LookupError):
    """No shop customer has this id or e-mail."""


def find_customer(rt: Runtime, connection: str, key: str) -> dict[str, Any]:
    """The shop customer by id or e-mail (with several, the registered account before guests, then lowest id)."""
    from integration.connectors.prestashop.customers import find_customers_by_email, get_customer
    from integration.connectors.prestashop.errors import PrestaShopNotFound

    ps = rt.prestashop(connection)
    if key.strip().isdigit():
        try:
            return get_customer(ps, int(key))
        except PrestaShopNotFound:
            raise CustomerNotFound(f"no shop customer {key}") from None
    found = find_customers_by_email(ps, key.strip().lower())
    if not found:
        raise CustomerNotFound(f"no shop customer with the e-mail {key}")
    return sorted(found, key=lambda c: (bool(c.get("is_guest")), int(c["id"])))[0]


def customer_360(rt: Runtime, connection: str, key: str, *, history: int = 50) -> dict[str, Any]:
    """Everything known about one customer; see the module docstring."""
    from integration.connectors.infor.customers import get_customer as get_m3_customer
    from integration.connectors.infor.customers import list_addresses
    from integration.connectors.prestashop.customers import country, customer_addresses, state
    from integration.flows.customer_sync import ADDRESS, M3_CUSTOMER, _main_address
    from integration.flows.customers import ENTITY
    from integration.mapping.customer_fields import head_record, head_specs, owner

    ps = rt.prestashop(connection)
    shop = find_customer(rt, connection, key)
    ps_id = str(shop["id"])
    addresses = customer_addresses(ps, int(ps_id), include_deleted=True)
    row = rt.binder(connection, ENTITY).row(ps_id)
    cuno = row[0] if row and not row[0].startswith("~") else None
    data = row[1] if row else {}
    main = _main_address(addresses, data.get("main_address"))
    engine = rt.mapping
    canonical = engine.ps_customer_to_canonical(shop, main, country=country(ps, (main or {}).get("id_country")),
                                                state=state(ps, (main or {}).get("id_state")))
    m3_head = m3_addresses = None
    fields: list[dict[str, Any]] = []
    if cuno:
        m3 = rt.m3(connection)
        m3_head = get_m3_customer(m3, cuno)
        m3_addresses = list_addresses(m3, cuno) if m3_head else []
        rendered = head_record(engine, canonical, cuno)
        specs = head_specs(engine)
        for name, label in HEAD_FIELDS.items():
            if name not in specs:
                continue
            shop_value, m3_value = rendered.get(name, ""), (m3_head or {}).get(name, "")
            fields.append({"field": label, "m3_field": name, "shop": shop_value, "m3": m3_value,
                           "owner": owner(engine, specs[name]), "differs": shop_value.strip() != m3_value.strip()})
    address_binder = rt.binder(connection, ADDRESS)
    bound_addresses = {str(a["id"]): address_binder.get(a["id"]) for a in addresses}
    orders = _orders(rt, connection, int(ps_id))
    records = [(ENTITY, ps_id), *((ADDRESS, str(a["id"])) for a in addresses), *(("order", str(o["id"]))
                                                                                  for o in orders)]
    if cuno:
        records.append((M3_CUSTOMER, cuno))
    records += [("invoice", i["key"]) for o in orders for i in o["invoices"]]
    open_amount = sum((Decimal(str(i["open"])) for o in orders for i in o["invoices"] if i["open"] is not None),
                      Decimal(0))
    return {
        "customer": {"ps_id": int(ps_id), "cuno": cuno, "how_bound": data.get("how"), "kind": data.get("kind"),
                     "email": shop.get("email"), "name": canonical.name, "group": shop.get("id_default_group"),
                     "guest": bool(shop.get("is_guest")), "active": bool(shop.get("active", True)),
                     "credit_stop": bool(m3_head) and (m3_head or {}).get(
                         engine.config.customer_sync.credit_field, "") in engine.config.customer_sync.stopped_values},
        "shop": {"customer": shop,
                 "addresses": [{**a, "m3_address": bound_addresses.get(str(a["id"]))} for a in addresses]},
        "m3": {"customer": m3_head, "addresses": m3_addresses} if cuno else None,
        "fields": fields,
        "differences": [f["field"] for f in fields if f["differs"]],
        "orders": orders,
        "open_amount": open_amount,
        "events": rt.store.events_for_records(connection, records, limit=history),
    }


def _orders(rt: Runtime, connection: str, customer_id: int) -> list[dict[str, Any]]:
    """The customer's shop orders with their M3 number, status, deliveries, invoices and payments."""
    from integration.connectors.infor.invoices import order_invoices
    from integration.connectors.infor.orders import get_order, list_deliveries
    from integration.connectors.prestashop.customers import customer_orders, order_payments
    from integration.flows.invoices import receivable_of

    ps = rt.prestashop(connection)
    m3 = rt.m3(connection)
    states = ps.order_states()
    out = []
    for order in customer_orders(ps, customer_id):
        orno = rt.binder(connection, "order").get(order["id"])
        entry: dict[str, Any] = {
            "id": order["id"], "reference": order.get("reference"), "date": order.get("date_add"),
            "state": states.key_for(int(order.get("current_state") or 0)) or order.get("current_state"),
            "total": order.get("total_paid_tax_incl"), "orno": orno, "m3_status": None, "deliveries": [],
            "invoices": [],
            "payments": [{k: p.get(k) for k in ("amount", "payment_method", "transaction_id", "date_add")}
                         for p in order_payments(ps, str(order.get("reference") or ""))]}
        if orno:
            head = get_order(m3, orno) or {}
            entry["m3_status"] = f"{head.get('ORSL', '')}/{head.get('ORST', '')}" if head else None
            entry["m3_total"] = head.get("TOPY")
            if head.get("ORST", "") >= "66":
                entry["deliveries"] = [{"dlix": d.get("DLIX"), "tracking_number": d.get("ETRN"),
                                        "carrier": d.get("FWNO"), "status": d.get("PGRS")}
                                       for d in list_deliveries(m3, orno)]
            for invoice in order_invoices(m3, orno) if head.get("ORST", "") >= "77" else []:
                receivable = receivable_of(rt, connection, invoice)
                entry["invoices"].append({
                    "key": invoice.key, "number": invoice.number, "date": invoice.invoice_date,
                    "due_date": invoice.due_date, "amount": invoice.amount, "currency": invoice.currency,
                    "paid": receivable.paid if receivable else None, "open": receivable.open if receivable else None,
                    "status": receivable.status if receivable else "unknown"})
        out.append(entry)
    return out
