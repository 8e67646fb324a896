"""Customers, shop → Infor. Ensured as a dependency of an order: found or created, never twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integration.runtime import Runtime

ENTITY = "customer"


def ensure_customer(rt: Runtime, connection: str, bundle: dict[str, Any]) -> str:
    """The Infor customer number (CUNO) of the order's customer, creating the customer when needed.

    The binding table answers without an API call once a customer is known. The first time, a per-customer
    lock and a deterministic CUNO make a race between two workers harmless: the second finds the
    customer the first created (CRS610MI GetBasicData) and only records the binding.
    """
    from integration.connectors.infor.customers import add_customer, get_customer

    ps_id = str(bundle["customer"]["id"])
    customers = rt.binder(connection, ENTITY)
    cuno = customers.get(ps_id)
    if cuno:
        return cuno
    with rt.record_lock(f"{connection}:{ENTITY}:{ps_id}"):
        cuno = customers.get(ps_id)
        if cuno:
            return cuno
        engine = rt.mapping
        cuno = engine.cuno_for(int(ps_id))
        m3 = rt.m3(connection)
        if get_customer(m3, cuno) is None:
            side = "invoice" if bundle.get("address_invoice") else "delivery"
            customer = engine.ps_customer_to_canonical(bundle["customer"], bundle.get(f"address_{side}"),
                                                       country=bundle.get(f"country_{side}"),
                                                       state=bundle.get(f"state_{side}"))
            add_customer(m3, engine.customer_to_infor(customer, cuno=cuno))
        return customers.bind(ps_id, cuno)
