"""Customers, shop → Infor: every shop customer is one M3 customer, found or created, never twice.

The machinery, shared by the order flow (``ensure_customer``) and the customer flows (``resolve_customer``):

1. the binding answers once a customer is known (no API call);
2. otherwise, under a per-customer Redis lock, the creation is *claimed in SQL* (a pending binding owned by the
   event, as the order flow's load does): a second event waits while the owner is active and takes over a
   claim whose owner has finished, so no two events decide at once, however long M3 takes;
3. the deterministic customer number (``customers.yaml``) is asked first: a customer we created before the
   binding was lost is bound again, and M3 itself refuses a second ``Add`` of that number;
4. then an M3 customer under another number is looked for, by e-mail or VAT number as ``customer_sync.yaml``
   says: one is bound, several (or one already bound to another shop customer) hold the event for review with
   every candidate, and nothing is created;
5. only then ``CRS610MI/Add``.

Guests order on their own customer, or on one shared M3 customer, as the mapping says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from integration.binder import is_pending
from integration.errors import HeldForReview, LockBusy
from integration.store import models as m

if TYPE_CHECKING:
    from integration.canonical import Customer
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.customers")
ENTITY = "customer"


@dataclass(frozen=True)
class Resolution:
    """The M3 customer of a shop customer and how it was found: bound (known), existing (our number, binding
    lost), matched (another number, by e-mail or VAT), created, or shared (the guests' customer)."""

    cuno: str
    how: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def new(self) -> bool:
        return self.how in ("existing", "matched", "created")


def kind_of(customer: Customer) -> str:
    """``guest``, ``b2b`` (a company or a VAT number) or ``b2c``: what customer_sync.yaml's ``kinds`` key on."""
    if customer.is_guest:
        return "guest"
    return "b2b" if customer.company or customer.vat_number else "b2c"


def ensure_customer(rt: Runtime, connection: str, bundle: dict[str, Any], *, event_id: int | None = None) -> str:
    """The Infor customer number (CUNO) of the order's customer, creating the customer when needed."""
    ps_id = str(bundle["customer"]["id"])
    known = rt.binder(connection, ENTITY).get(ps_id)
    if known:
        return known
    side = "invoice" if bundle.get("address_invoice") else "delivery"
    customer = rt.mapping.ps_customer_to_canonical(bundle["customer"], bundle.get(f"address_{side}"),
                                                   country=bundle.get(f"country_{side}"),
                                                   state=bundle.get(f"state_{side}"))
    main = bundle.get(f"address_{side}") or {}
    return resolve_customer(rt, connection, customer, event_id=event_id, main_address=main.get("id")).cuno


def resolve_customer(rt: Runtime, connection: str, customer: Customer, *, event_id: int | None,
                     main_address: int | str | None = None) -> Resolution:
    """Find or create the M3 customer of ``customer`` and bind it (see the module docstring for the order)."""
    ps_id = str(customer.ps_customer_id)
    customers = rt.binder(connection, ENTITY)
    known = customers.get(ps_id)
    if known:
        return Resolution(known, "bound", customers.data(ps_id))
    cfg = rt.mapping.config.customer_sync
    kind = kind_of(customer)
    if kind == "guest" and cfg.guest_mode == "shared":
        return Resolution(cfg.shared_customer, "shared")
    owner = int(event_id or 0)
    with rt.record_lock(f"{connection}:{ENTITY}:{ps_id}"):
        row = customers.row(ps_id)
        if row is not None and not is_pending(row[0]):
            return Resolution(row[0], "bound", row[1])
        if row is None:
            if not customers.claim(ps_id, owner, {"kind": kind}):
                raise LockBusy(f"customer {ps_id} was claimed by another event a moment ago",
                               retry_after=rt.settings.outcome_settle_seconds)
        else:
            claimant = int(row[1].get("event_id") or 0)
            if claimant != owner:
                other = rt.store.get_event(claimant) if claimant else None
                if other is not None and other.status in m.ACTIVE_STATUSES:
                    raise LockBusy(f"customer {ps_id} is being created by event {claimant}",
                                   retry_after=rt.settings.outcome_settle_seconds)
                customers.update(ps_id, event_id=owner, taken_over_from=claimant)
        try:
            found = _find_or_create(rt, connection, customer, kind)
        except HeldForReview:
            # Nothing was created: let the next event (after an operator's fix) decide afresh.
            rt.store.release_claim(connection, ENTITY, ps_id)
            raise
        data = {"kind": kind, "how": found.how, "event_id": owner, "main_address": str(main_address or "")}
        if found.how == "created":  # what the shop owns is in M3 now, as it was rendered: the next edit sends changes
            data["m3_sent"] = _owned_digests(rt, customer, found.cuno)
        customers.finalize(ps_id, found.cuno, data)
        log.info("customer bound", connection=connection, ps_customer=ps_id, cuno=found.cuno, how=found.how)
        return Resolution(found.cuno, found.how, data)


def _find_or_create(rt: Runtime, connection: str, customer: Customer, kind: str) -> Resolution:
    from integration.connectors.infor.customers import add_customer, find_customers, get_customer

    engine = rt.mapping
    m3 = rt.m3(connection)
    ps_id = str(customer.ps_customer_id)
    cuno = engine.cuno_for(customer.ps_customer_id)
    if get_customer(m3, cuno) is not None:
        return Resolution(cuno, "existing")
    match = engine.config.customer_sync.kind(kind).match
    value = customer.email if match == "email" else customer.vat_number if match == "vat_number" else ""
    if value:
        found = find_customers(m3, **{match: value})
        bound_to = rt.binder(connection, ENTITY).to_shop_many(c.cuno for c in found)
        candidates = [{"cuno": c.cuno, "name": c.name, "email": c.email, "vat_number": c.vat_number,
                       "status": c.status, "bound_to_shop_customer": bound_to.get(c.cuno)} for c in found]
        if len(found) == 1 and bound_to.get(found[0].cuno) in (None, ps_id):
            return Resolution(found[0].cuno, "matched", {"matched_by": match})
        if found:
            why = (f"{len(found)} M3 customers have this {match.replace('_', ' ')}" if len(found) > 1 else
                   f"M3 customer {found[0].cuno} has this {match.replace('_', ' ')} but is shop customer "
                   f"{bound_to.get(found[0].cuno)}'s already")
            raise HeldForReview(
                f"customer {ps_id}: {why}; not created, not bound",
                resolution="merge or correct the M3 customers (or the shop account), then replay the event",
                details={"ps_customer_id": ps_id, "matched_by": match, "candidates": candidates})
    calls = engine.customer_to_infor(customer, cuno=cuno)
    template = engine.config.customer_sync.kind(kind).template
    for call in calls:
        if call["transaction"] == "Add":
            call["record"]["CUTM"] = template
    add_customer(m3, calls)
    return Resolution(cuno, "created")


def _head_calls(rt: Runtime, customer: Customer, cuno: str) -> list[tuple[Any, dict[str, str]]]:
    """(field map, rendered record) of every call that may change an existing M3 customer."""
    from integration.mapping.customer_fields import address_context, render_fields

    engine = rt.mapping
    maps = [engine.config.customers.update] + [t for t in engine.config.customers.calls if t.transaction != "Add"]
    context = {"customer": customer, "cuno": cuno, "address": address_context(engine, customer.address)}
    return [(t, render_fields(engine, "CRS610MI", t.transaction, t.fields, context,
                              f"customer {customer.ps_customer_id}")) for t in maps if t is not None]


def _owned_digests(rt: Runtime, customer: Customer, cuno: str) -> dict[str, str]:
    """Digests of the shop-owned fields of every change call, as an Add has just written them."""
    from integration.mapping.customer_fields import PRESTASHOP, digests, owned_fields

    sent: dict[str, str] = {}
    for tmap, record in _head_calls(rt, customer, cuno):
        mine = owned_fields(rt.mapping, tmap.fields, PRESTASHOP)
        sent.update(digests({k: v for k, v in record.items() if k in mine}))
    return sent


def send_customer_changes(rt: Runtime, connection: str, customer: Customer, cuno: str) -> list[str]:
    """ChgBasicData / ChgFinancial with the shop-owned fields that changed since the last write; their names."""
    from integration.connectors.infor.customers import change_customer
    from integration.mapping.customer_fields import digests, shop_changes_for_m3

    ps_id = str(customer.ps_customer_id)
    customers = rt.binder(connection, ENTITY)
    sent = dict(customers.data(ps_id).get("m3_sent") or {})
    calls: list[dict[str, Any]] = []
    changed: dict[str, str] = {}
    for tmap, record in _head_calls(rt, customer, cuno):
        fields = shop_changes_for_m3(rt.mapping, tmap.fields, record, sent)
        fields.pop("CUNO", None)
        if fields:
            calls.append({"program": "CRS610MI", "transaction": tmap.transaction, "record": {"CUNO": cuno, **fields}})
            changed.update(fields)
    if calls:
        change_customer(rt.m3(connection), calls)
        customers.update(ps_id, m3_sent={**sent, **digests(changed)})
    return sorted(changed)
