"""Customers both ways, each field from the system that owns it (``mappings/ownership.yaml``), never back.

Shop → M3 (flows ``customer`` and ``address``, queue ``customers``): the ``customer.*`` and ``address.*``
webhooks, and a ``date_upd`` poller as the safety net, create the M3 customer once (``flows.customers``: claim,
deterministic number, match by e-mail or VAT) with its addresses (CRS610MI AddAddress), and later send what the
shop owns and changed (ChgBasicData, ChgFinancial, ChgAddress). "Changed" is against digests of what was last
written to M3, kept in the binding: the webhook PrestaShop sends for our own write of an M3-owned field finds
nothing the shop owns changed, so a change made in M3 never travels back to M3.

M3 → shop (flow ``m3_customer``): CRS610MI LstByNumber with LMTS names the customers changed since the last poll;
the fields M3 owns (the credit stop, shown as the customer's group; the postal part of addresses, from the
customer head and its OCUSAD addresses) are written to the shop when M3's value changed since it was last seen
(digests again) and differs from the shop's. Our own writes to M3 come back as LMTS changes and find nothing M3
owns to write, so nothing travels back to the shop either.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from integration.errors import NotFound, PermanentError
from integration.flows.base import Enqueue, EventView, Flow, Poller, SkipEvent
from integration.flows.customers import ENTITY, kind_of, resolve_customer, send_customer_changes
from integration.flows.maintenance import enqueue_new_event, shop_datetime
from integration.store import models as m
from integration.store.repository import NewEvent

if TYPE_CHECKING:
    from integration.canonical import Address, Customer
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.customer_sync")
ADDRESS = "address"
M3_CUSTOMER = "m3_customer"
QUEUE = "customers"
CUSTOMERS_WATERMARK = "prestashop.customers.date_upd"
ADDRESSES_WATERMARK = "prestashop.addresses.date_upd"
M3_WATERMARK = "infor.customers.lmts"
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@cache
def _customer_schema() -> Any:
    from integration.canonical import CustomerSchema

    return CustomerSchema()


@cache
def _address_schema() -> Any:
    from integration.canonical import AddressSchema

    return AddressSchema()


def address_id(ps_address_id: int | str) -> str:
    """ADID (6 characters) of a shop address: ``W`` and the id in base 36 (60 million ids), so it never meets
    the numbers a tenant gives its own addresses (digits)."""
    n = int(ps_address_id)
    digits = ""
    while n:
        n, rest = divmod(n, 36)
        digits = _B36[rest] + digits
    if len(digits) > 5:
        raise PermanentError(f"shop address id {ps_address_id} does not fit M3's 6-character address id")
    return "W" + digits.rjust(5, "0")


def _not_found(what: str, exc: Exception) -> NotFound:
    return NotFound(f"{what} does not exist in the shop ({exc})",
                    resolution="nothing was written; check the id (a test event or a deleted record?), then "
                               "discard the dead letter or replay it once the record exists")


def _shop_refs(rt: Runtime, connection: str, addresses: list[dict[str, Any]]) -> dict[str, Any]:
    from integration.connectors.prestashop.customers import country, state

    ps = rt.prestashop(connection)
    return {"countries": {str(a["id"]): country(ps, a.get("id_country")) for a in addresses},
            "states": {str(a["id"]): state(ps, a.get("id_state")) for a in addresses}}


def _canonical_customer(rt: Runtime, customer: dict[str, Any], main: dict[str, Any] | None,
                        refs: dict[str, Any]) -> Customer:
    key = str((main or {}).get("id", ""))
    return rt.mapping.ps_customer_to_canonical(customer, main, country=refs["countries"].get(key),
                                               state=refs["states"].get(key))


def _main_address(addresses: list[dict[str, Any]], preferred: object) -> dict[str, Any] | None:
    """The address the M3 customer head was made from: the one recorded at creation while it lives, else the
    shop customer's first address."""
    for address in addresses:
        if str(address["id"]) == str(preferred or "") and not address.get("deleted"):
            return address
    live = [a for a in addresses if not a.get("deleted")]
    return min(live, key=lambda a: int(a["id"])) if live else None


def _check(rt: Runtime, customer: Customer, addresses: list[Address], what: str) -> None:
    """Business rules before anything goes to M3: the shop's customer rules and well-formed VAT numbers."""
    from integration.validation.rules import ValidationFailure, check_customer, raise_if_failed
    from integration.validation.vat import vat_problem

    level = rt.mapping.config.customer_sync.vat_check
    failures = check_customer(customer, blocked_customers=rt.mapping.config.validation.blocked_customers)
    for address in addresses:
        problem = vat_problem(address.vat_number, address.country, level)
        if problem:
            failures.append(ValidationFailure(f"address {address.ps_address_id}", "vat_number", "vat_number",
                                              f"{what}: {problem}", address.vat_number))
    raise_if_failed(failures, what)


# -- shop → M3: the customer --------------------------------------------------------------------------------


def customer_extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.prestashop.customers import customer_addresses, get_customer
    from integration.connectors.prestashop.errors import PrestaShopNotFound

    ps = rt.prestashop(event.connection)
    try:
        customer = get_customer(ps, int(event.source_id))
    except PrestaShopNotFound as exc:
        raise _not_found(f"customer {event.source_id}", exc) from None
    addresses = customer_addresses(ps, int(event.source_id))
    return {"customer": customer, "addresses": addresses, **_shop_refs(rt, event.connection, addresses)}


def customer_transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    data = rt.binder(event.connection, ENTITY).data(event.source_id)
    main = _main_address(extracted["addresses"], data.get("main_address"))
    customer = _canonical_customer(rt, extracted["customer"], main, extracted)
    return {**extracted, "canonical": _customer_schema().dump(customer), "kind": kind_of(customer),
            "main_address": main["id"] if main else None}


def customer_validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    customer = _customer_schema().load(transformed["canonical"])
    if customer.blocked:
        raise SkipEvent(f"the shop account {event.source_id} is {'deleted' if customer.deleted else 'inactive'}: "
                        "its M3 customer is left as it is")
    cfg = rt.mapping.config.customer_sync
    if transformed["kind"] == "guest" and cfg.guest_mode == "shared":
        raise SkipEvent(f"guests order on the shared M3 customer {cfg.shared_customer}")
    if transformed["main_address"] is None and not rt.binder(event.connection, ENTITY).get(event.source_id):
        # PrestaShop registers accounts without an address; M3 needs one (CUA1): the first address's event
        # (or the first order) creates the customer.
        raise SkipEvent(f"customer {event.source_id} has no address yet: M3 gets it with its first address")
    addresses = [rt.mapping.ps_address_to_canonical(a, transformed["countries"].get(str(a["id"])),
                                                    transformed["states"].get(str(a["id"])))
                 for a in transformed["addresses"]]
    _check(rt, customer, addresses, f"customer {event.source_id}")
    return transformed


def customer_load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    """Create (or find) the M3 customer, then send what the shop owns and changed; addresses go with a new one."""
    customer = _customer_schema().load(validated["canonical"])
    resolution = resolve_customer(rt, event.connection, customer, event_id=event.id,
                                  main_address=validated["main_address"])
    cuno = resolution.cuno
    changed = [] if resolution.how == "created" else send_customer_changes(rt, event.connection, customer, cuno)
    addresses: dict[str, str] = {}
    customers = rt.binder(event.connection, ENTITY)
    if resolution.new or not customers.data(event.source_id).get("addresses_synced"):
        # Its addresses come along the first time (also when an order created the customer); later, each
        # address's own events carry its changes.
        for raw in validated["addresses"]:
            addresses[str(raw["id"])] = sync_address(
                rt, event.connection, cuno, customer, raw, validated["countries"].get(str(raw["id"])),
                validated["states"].get(str(raw["id"])))
        customers.update(event.source_id, addresses_synced=True)
    if not changed and not any(v in ("added", "changed", "ended") for v in addresses.values()):
        raise SkipEvent(f"customer {event.source_id} (M3 {cuno}): nothing the shop owns changed since the last "
                        "write to M3 (a change made in M3 coming back is not sent back)")
    return {"cuno": cuno, "how": resolution.how, "changed": changed, "addresses": addresses}


# -- shop → M3: addresses ------------------------------------------------------------------------------------


def sync_address(rt: Runtime, connection: str, cuno: str, customer: Customer, raw: dict[str, Any],
                 country: dict[str, Any] | None, state: dict[str, Any] | None) -> str:
    """One shop address as an M3 customer address: ``added``, ``changed``, ``unchanged`` or ``ended`` (a
    deleted shop address gets a valid-to date in M3: CRS610MI has no delete for addresses here)."""
    from integration.connectors.infor.customers import add_address, change_address
    from integration.mapping.customer_fields import (
        PRESTASHOP,
        address_record,
        digests,
        owned_fields,
        shop_changes_for_m3,
    )

    engine = rt.mapping
    cfg = engine.config.customer_sync.addresses
    ps_id = str(raw["id"])
    binder = rt.binder(connection, ADDRESS)
    address = engine.ps_address_to_canonical(raw, country, state)
    record = address_record(engine, address, customer, cuno)
    m3 = rt.m3(connection)
    with rt.record_lock(f"{connection}:{ADDRESS}:{ps_id}"):
        row = binder.row(ps_id)
        if raw.get("deleted"):
            if row is None:
                return "unchanged"
            owner_cuno, adrt, adid = row[0].split("/")
            ended = date.today().strftime("%Y%m%d")
            change_address(m3, {"CUNO": owner_cuno, "ADRT": adrt, "ADID": adid, "LVDT": ended})
            binder.close(ps_id)
            return "ended"
        if row is None:
            adid = address_id(ps_id)
            add_address(m3, {"CUNO": cuno, "ADRT": cfg.type, "ADID": adid, **record})
            mine = owned_fields(engine, cfg.fields, PRESTASHOP)
            binder.finalize(ps_id, f"{cuno}/{cfg.type}/{adid}",
                            {"m3_sent": digests({k: v for k, v in record.items() if k in mine})})
            return "added"
        key, data = row
        sent = dict(data.get("m3_sent") or {})
        changed = shop_changes_for_m3(engine, cfg.fields, record, sent)
        if not changed:
            return "unchanged"
        owner_cuno, adrt, adid = key.split("/")
        change_address(m3, {"CUNO": owner_cuno, "ADRT": adrt, "ADID": adid, **changed})
        binder.update(ps_id, m3_sent={**sent, **digests(changed)})
        return "changed"


def address_extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.prestashop.customers import customer_addresses, get_address, get_customer
    from integration.connectors.prestashop.errors import PrestaShopNotFound

    ps = rt.prestashop(event.connection)
    try:
        address = get_address(ps, int(event.source_id))
    except PrestaShopNotFound as exc:
        raise _not_found(f"address {event.source_id}", exc) from None
    owner = int(address.get("id_customer") or 0)
    if not owner:
        raise SkipEvent(f"address {event.source_id} belongs to no customer (a brand's or a supplier's)")
    try:
        customer = get_customer(ps, owner)
    except PrestaShopNotFound as exc:
        raise _not_found(f"customer {owner} of address {event.source_id}", exc) from None
    addresses = customer_addresses(ps, owner)
    if not any(str(a["id"]) == str(address["id"]) for a in addresses):
        addresses.append(address)
    return {"address": address, "customer": customer, "addresses": addresses,
            **_shop_refs(rt, event.connection, addresses)}


def address_transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    owner = str(extracted["customer"]["id"])
    data = rt.binder(event.connection, ENTITY).data(owner)
    main = _main_address(extracted["addresses"], data.get("main_address"))
    customer = _canonical_customer(rt, extracted["customer"], main, extracted)
    key = str(extracted["address"]["id"])
    address = rt.mapping.ps_address_to_canonical(extracted["address"], extracted["countries"].get(key),
                                                 extracted["states"].get(key))
    return {**extracted, "canonical": _customer_schema().dump(customer), "kind": kind_of(customer),
            "main_address": main["id"] if main else None, "canonical_address": _address_schema().dump(address)}


def address_validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    customer = _customer_schema().load(transformed["canonical"])
    cfg = rt.mapping.config.customer_sync
    if transformed["kind"] == "guest" and cfg.guest_mode == "shared":
        raise SkipEvent(f"guests order on the shared M3 customer {cfg.shared_customer}")
    if customer.blocked:
        raise SkipEvent(f"the shop account {customer.ps_customer_id} is deleted or inactive")
    address = _address_schema().load(transformed["canonical_address"])
    _check(rt, customer, [address], f"address {event.source_id}")
    return transformed


def address_load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    customer = _customer_schema().load(validated["canonical"])
    resolution = resolve_customer(rt, event.connection, customer, event_id=event.id,
                                  main_address=validated["main_address"])
    key = event.source_id
    outcome = sync_address(rt, event.connection, resolution.cuno, customer, validated["address"],
                           validated["countries"].get(key), validated["states"].get(key))
    if outcome == "unchanged":
        raise SkipEvent(f"address {key} (M3 customer {resolution.cuno}): nothing the shop owns changed since the "
                        "last write to M3 (a change made in M3 coming back is not sent back)")
    return {"cuno": resolution.cuno, "how": resolution.how, "address": outcome}


# -- M3 → shop ------------------------------------------------------------------------------------------------


def m3_extract(rt: Runtime, event: EventView, _previous: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.infor.customers import get_customer, list_addresses
    from integration.connectors.prestashop.customers import get_address
    from integration.connectors.prestashop.customers import get_customer as get_shop_customer
    from integration.connectors.prestashop.errors import PrestaShopNotFound

    cuno = event.source_id
    ps_id = rt.binder(event.connection, ENTITY).to_shop(cuno)
    if ps_id is None:
        raise SkipEvent(f"M3 customer {cuno} is no shop customer")
    m3 = rt.m3(event.connection)
    head = get_customer(m3, cuno)
    if head is None:
        raise NotFound(f"M3 customer {cuno} (shop customer {ps_id}) does not exist in M3 any more",
                       resolution="check CRS610 for the customer; the binding is kept")
    m3_addresses = list_addresses(m3, cuno)
    keys = {f"{cuno}/{a.get('ADRT', '')}/{a.get('ADID', '')}": a for a in m3_addresses}
    bound = rt.binder(event.connection, ADDRESS).to_shop_many(keys)
    ps = rt.prestashop(event.connection)
    try:
        customer = get_shop_customer(ps, int(ps_id))
    except PrestaShopNotFound:
        raise SkipEvent(f"shop customer {ps_id} (M3 {cuno}) is gone from the shop") from None
    data = rt.binder(event.connection, ENTITY).data(ps_id)
    wanted = {str(i) for i in bound.values()} | ({str(data["main_address"])} if data.get("main_address") else set())
    addresses = []
    for address_id_ in sorted(wanted, key=int):
        try:
            addresses.append(get_address(ps, int(address_id_)))
        except PrestaShopNotFound:
            continue
    linked = [{"key": k, "ps_address_id": bound[k], "record": keys[k]} for k in sorted(bound)]
    return {"cuno": cuno, "ps_id": ps_id, "head": head, "linked": linked, "customer": customer,
            "addresses": addresses, "main_address": data.get("main_address"),
            **_shop_refs(rt, event.connection, addresses)}


def m3_transform(rt: Runtime, event: EventView, extracted: dict[str, Any]) -> dict[str, Any]:
    """What the shop must get: M3-owned values that changed in M3 since last seen and differ from the shop."""
    from integration.mapping.customer_fields import (
        address_record,
        digest,
        head_record,
        head_specs,
        m3_changes_for_shop,
    )

    engine = rt.mapping
    cfg = engine.config.customer_sync
    cuno = extracted["cuno"]
    data = rt.binder(event.connection, ENTITY).data(extracted["ps_id"])
    seen: dict[str, str] = dict(data.get("m3_seen") or {})
    new_seen = dict(seen)
    by_id = {str(a["id"]): a for a in extracted["addresses"]}
    main = by_id.get(str(extracted.get("main_address") or ""))
    customer = _canonical_customer(rt, extracted["customer"], main, extracted)
    customer_fields: dict[str, Any] = {}
    address_changes: dict[str, dict[str, list[str]]] = {}

    def fresh(source: str, changes: dict[str, list[str]], record: dict[str, str]) -> dict[str, list[str]]:
        """Keep the changes whose M3 values moved since last seen (all of them the first time)."""
        kept = {}
        for field_name, values in changes.items():
            mark = f"{source}:{field_name}"
            if seen.get(mark) != digest(values):
                kept[field_name] = values
        for field_name in ("street", "postcode", "city", "country", "state", "phone", "vat_number", "company",
                           "email"):
            new_seen[f"{source}:{field_name}"] = digest(_values_of(record, field_name, source, engine))
        return kept

    head = extracted["head"]
    head_changes = m3_changes_for_shop(engine, head_specs(engine), head_record(engine, customer, cuno), head)
    head_changes = fresh("head", head_changes, head)
    if "email" in head_changes:
        customer_fields["email"] = head_changes.pop("email")[0].lower()
    if main is not None and head_changes:
        address_changes[str(main["id"])] = head_changes
    for link in extracted["linked"]:
        shop_address = by_id.get(str(link["ps_address_id"]))
        if shop_address is None or shop_address.get("deleted"):
            continue
        address = engine.ps_address_to_canonical(shop_address, extracted["countries"].get(str(shop_address["id"])),
                                                 extracted["states"].get(str(shop_address["id"])))
        rendered = address_record(engine, address, customer, cuno)
        changes = m3_changes_for_shop(engine, cfg.addresses.fields, rendered, link["record"])
        changes = fresh(link["key"], changes, link["record"])
        if changes:  # the address record itself wins over the head's copy of it
            address_changes[str(shop_address["id"])] = {**address_changes.get(str(shop_address["id"]), {}),
                                                        **changes}
    group = _credit_stop_group(rt, head, extracted["customer"], data)
    if group:
        customer_fields.update(group)
    writes = []
    if customer_fields:
        writes.append({"resource": "customers", "id": extracted["ps_id"], "fields": customer_fields})
    for ps_address_id, changes in address_changes.items():
        fields = _shop_address_fields(rt, event.connection, changes, by_id[ps_address_id])
        if fields:
            writes.append({"resource": "addresses", "id": ps_address_id, "fields": fields})
    return {"cuno": cuno, "ps_id": extracted["ps_id"], "writes": writes, "m3_seen": new_seen,
            "stopped": _is_stopped(rt, head)}


def _values_of(record: dict[str, str], field_name: str, source: str, engine: Any) -> list[str]:
    """The M3 values a canonical field comes from in ``record`` (for the last-seen digest)."""
    from integration.mapping.customer_fields import _fields_of, head_specs

    specs = head_specs(engine) if source == "head" else engine.config.customer_sync.addresses.fields
    entity = "customer" if field_name == "email" else "address"
    return [(record.get(n) or "").strip() for n in _fields_of(specs, entity, field_name)]


def _is_stopped(rt: Runtime, head: dict[str, str]) -> bool:
    cfg = rt.mapping.config.customer_sync
    return (head.get(cfg.credit_field) or "").strip() in cfg.stopped_values


def _credit_stop_group(rt: Runtime, head: dict[str, str], shop: dict[str, Any],
                       data: dict[str, Any]) -> dict[str, Any]:
    """The customer's group as M3's credit stop says (only when M3 owns ``customer.group_id``)."""
    cfg = rt.mapping.config.customer_sync
    if cfg.stop_group is None or rt.mapping.owner_of("customer", "group_id") != "infor":
        return {}
    current = int(shop.get("id_default_group") or 0)
    if _is_stopped(rt, head):
        return {} if current == cfg.stop_group else {"id_default_group": cfg.stop_group}
    before = int(data.get("group_before_stop") or 0)
    if current == cfg.stop_group and before:
        return {"id_default_group": before}
    return {}


def _shop_address_fields(rt: Runtime, connection: str, changes: dict[str, list[str]],
                         shop: dict[str, Any]) -> dict[str, Any]:
    """Canonical field → M3 values, as PrestaShop address fields."""
    from integration.connectors.prestashop.customers import country_id, state_id
    from integration.mapping.customer_fields import street_for_shop

    ps = rt.prestashop(connection)
    addresses = rt.mapping.config.addresses
    fields: dict[str, Any] = {}
    for name, values in changes.items():
        value = values[0] if values else ""
        if name == "street":
            current = [s for s in (shop.get("address1") or "", shop.get("address2") or "") if s]
            fields["address1"], fields["address2"] = street_for_shop(values, current, addresses.line_width,
                                                                     addresses.max_lines)
        elif name == "country":
            found = country_id(ps, value) if value else None
            if found:
                fields["id_country"] = found
        elif name == "state":
            country = fields.get("id_country") or shop.get("id_country")
            found = state_id(ps, int(country), value) if value and country else None
            fields["id_state"] = found or 0
        elif name in ("postcode", "city", "phone", "vat_number", "company"):
            fields[name] = value
    return {k: v for k, v in fields.items() if str(shop.get(k) or "") != str(v or "")}


def m3_validate(rt: Runtime, event: EventView, transformed: dict[str, Any]) -> dict[str, Any]:
    customers = rt.binder(event.connection, ENTITY)
    if not transformed["writes"]:
        customers.update(transformed["ps_id"], m3_seen=transformed["m3_seen"])
        raise SkipEvent(f"M3 customer {transformed['cuno']}: nothing M3 owns changed for the shop (a change the "
                        "shop made, or our own write to M3, coming back)")
    return transformed


def m3_load(rt: Runtime, event: EventView, validated: dict[str, Any]) -> dict[str, Any]:
    from integration.connectors.prestashop.customers import get_customer, update_address, update_customer
    from integration.mapping.customer_fields import digests

    ps = rt.prestashop(event.connection)
    customers = rt.binder(event.connection, ENTITY)
    ps_id = validated["ps_id"]
    written = []
    extra: dict[str, Any] = {}
    for write in validated["writes"]:
        fields = dict(write["fields"])
        if write["resource"] == "customers":
            if "id_default_group" in fields:
                current = get_customer(ps, int(ps_id))
                if validated["stopped"]:
                    extra["group_before_stop"] = current.get("id_default_group")
                else:
                    extra["group_before_stop"] = None
            update_customer(ps, int(write["id"]), fields)
        else:
            update_address(ps, int(write["id"]), fields)
        written.append({"resource": write["resource"], "id": write["id"], "fields": sorted(fields)})
    customers.update(ps_id, m3_seen=validated["m3_seen"],
                     shop_written={**(customers.data(ps_id).get("shop_written") or {}),
                                   **{f"{w['resource']}/{w['id']}": digests(w["fields"])
                                      for w in validated["writes"]}}, **extra)
    return {"cuno": validated["cuno"], "ps_customer": ps_id, "written": written}


# -- pollers ----------------------------------------------------------------------------------------------


def poll_shop_changes(rt: Runtime, connection: str, enqueue: Enqueue, resource: str, *,
                      now: datetime | None = None, initial_lookback: timedelta = timedelta(days=1)) -> dict[str, Any]:
    """Customers or addresses changed since the watermark (minus the overlap): one event each, as a webhook
    would have made (the flow finds out whether anything the shop owns changed)."""
    from integration.connectors.prestashop.customers import changed_since

    entity, mark_name = (ENTITY, CUSTOMERS_WATERMARK) if resource == "customers" else (ADDRESS, ADDRESSES_WATERMARK)
    tz = ZoneInfo(rt.connection(connection).prestashop.timezone)
    now_utc = now or datetime.now(UTC)
    mark = rt.store.get_watermark(connection, mark_name)
    since = datetime.fromisoformat(mark) if mark else now_utc - initial_lookback
    since -= timedelta(seconds=rt.settings.poll_overlap_seconds)
    enqueued, seen, newest = 0, 0, None
    for row in changed_since(rt.prestashop(connection), resource, since, now_utc + timedelta(minutes=1)):
        seen += 1
        changed = shop_datetime(row["date_upd"], tz)
        newest = changed if newest is None or changed > newest else newest
        if resource == "addresses" and not row.get("id_customer"):
            continue
        source_id = str(row["id"])
        if rt.store.open_event_for(connection, entity, source_id, waiting=m.ACTIVE_STATUSES):
            continue
        new = NewEvent(connection=connection, source_system="poller", entity=entity, source_id=source_id,
                       event_type=f"{entity}.poller", dedupe_key=f"poller:{entity}:{source_id}:{changed.isoformat()}",
                       payload={"id": int(source_id), "date_upd": changed.isoformat()})
        _, created = enqueue_new_event(rt.store, new, enqueue)
        enqueued += created
    if newest is not None:
        rt.store.set_watermark(connection, mark_name, newest.astimezone(UTC).isoformat())
    return {"seen": seen, "enqueued": enqueued}


def poll_m3_customers(rt: Runtime, connection: str, enqueue: Enqueue) -> dict[str, Any]:
    """The bound customers M3 changed since the last poll (CRS610MI LstByNumber with LMTS)."""
    from integration.connectors.infor.customers import changed_customer_numbers
    from integration.connectors.infor.items import server_lmts

    m3 = rt.m3(connection)
    mark = rt.store.get_watermark(connection, M3_WATERMARK)
    if mark is None:  # the first poll starts the feed from now: customers bound later are created by us
        rt.store.set_watermark(connection, M3_WATERMARK, server_lmts(m3))
        return {"started": True}
    changes = changed_customer_numbers(m3, mark)
    bound = rt.binder(connection, ENTITY).to_shop_many(changes.cunos)
    enqueued = 0
    for cuno in changes.cunos:
        if cuno not in bound or rt.store.open_event_for(connection, M3_CUSTOMER, cuno, waiting=m.ACTIVE_STATUSES):
            continue
        new = NewEvent(connection=connection, source_system="infor", entity=M3_CUSTOMER, source_id=cuno,
                       event_type="m3_customer.changed", dedupe_key=f"lmts:{cuno}:{changes.next_lmts}",
                       payload={"cuno": cuno, "since_lmts": mark})
        _, created = enqueue_new_event(rt.store, new, enqueue)
        enqueued += created
    rt.store.set_watermark(connection, M3_WATERMARK, changes.next_lmts.rjust(len(mark), "0"))
    log.info("polled M3 customers", connection=connection, changed=len(changes.cunos), enqueued=enqueued)
    return {"changed": len(changes.cunos), "enqueued": enqueued}


def _poll_customers(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_shop_changes(rt, connection, enqueue, "customers")


def _poll_addresses(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_shop_changes(rt, connection, enqueue, "addresses")


def _poll_m3(rt: Runtime, connection: str, enqueue: Enqueue, _interval: float) -> dict[str, Any]:
    return poll_m3_customers(rt, connection, enqueue)


CUSTOMER_FLOW = Flow(
    entity=ENTITY,
    queue=QUEUE,
    steps=(("extract", customer_extract), ("transform", customer_transform), ("validate", customer_validate),
           ("load", customer_load)),
    events={"customer.created": "id_customer", "customer.updated": "id_customer"},
    pollers=(Poller("customers", _poll_customers, "PSINFOR_CUSTOMER_POLL_INTERVAL", 300.0),),
)

ADDRESS_FLOW = Flow(
    entity=ADDRESS,
    queue=QUEUE,
    steps=(("extract", address_extract), ("transform", address_transform), ("validate", address_validate),
           ("load", address_load)),
    events={"address.created": "id_address", "address.updated": "id_address", "address.deleted": "id_address"},
    pollers=(Poller("addresses", _poll_addresses, "PSINFOR_CUSTOMER_POLL_INTERVAL", 300.0),),
)

M3_CUSTOMER_FLOW = Flow(
    entity=M3_CUSTOMER,
    queue=QUEUE,
    steps=(("extract", m3_extract), ("transform", m3_transform), ("validate", m3_validate), ("load", m3_load)),
    pollers=(Poller("m3_customers", _poll_m3, "PSINFOR_M3_CUSTOMER_POLL_INTERVAL", 120.0),),
)
