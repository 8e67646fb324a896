"""Customer and address records field by field, for syncs both ways: pure functions over the mapping engine.

Both directions compare *M3 records*: what the mapping renders from the shop's record (the same rendering that
created the M3 record) against what M3 holds. A field whose canonical source the shop owns (ownership.yaml) may
only travel shop → M3; one M3 owns only M3 → shop. Comparing rendered records (not raw values) means a value
M3 holds shortened (a 25-character town in a 20-character TOWN) is not a difference.

Each side's last written values are kept as digests (never the values: they are personal data) in the
binding's data, so a change that comes back from the other side is recognised without asking anyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from integration.canonical import Address, Customer
from integration.mapping.engine import MappingEngine, _canonical_sources
from integration.mapping.fieldmap import FieldSpec, render
from integration.transform.address import split_street

INFOR = "infor"
PRESTASHOP = "prestashop"
# The canonical address fields a shop write can set from M3, and the M3 fields they come from.
WRITABLE_ADDRESS_FIELDS = ("street", "postcode", "city", "country", "state", "phone", "vat_number", "company")
WRITABLE_CUSTOMER_FIELDS = ("email",)


def digest(value: object) -> str:
    """A short, stable digest of one value (what was last written, without keeping the value itself)."""
    return hashlib.sha256(str("" if value is None else value).encode()).hexdigest()[:16]


def digests(record: Mapping[str, object]) -> dict[str, str]:
    return {k: digest(v) for k, v in record.items()}


def address_context(engine: MappingEngine, address: Address | None, address_type: str = "") -> dict[str, Any]:
    return engine._address_context(address, address_type)


def render_fields(engine: MappingEngine, program: str, transaction: str, specs: Mapping[str, FieldSpec],
                  context: Mapping[str, Any], where: str) -> dict[str, str]:
    """The M3 record a field map gives for ``context`` (fields left out when empty), lengths fitted."""
    from integration.mapping import m3fields

    lengths = m3fields.field_lengths(program, transaction)
    cfg = engine.config
    record: dict[str, str] = {}
    for name, spec in specs.items():
        value = render(spec, context, lookups=cfg.lookups, options=cfg.orders.options, max_length=lengths.get(name),
                       where=f"{where} {transaction}.{name}", tz=cfg.orders.timezone,
                       ascii_only=cfg.addresses.transliterate)
        if value is not None:
            record[name] = value
    return record


def head_specs(engine: MappingEngine) -> dict[str, FieldSpec]:
    """The field map of CRS610MI/Add (customers.yaml): what the M3 customer head holds of the shop's record."""
    for tmap in engine.config.customers.calls:
        if tmap.transaction == "Add":
            return dict(tmap.fields)
    return {}


def head_record(engine: MappingEngine, customer: Customer, cuno: str) -> dict[str, str]:
    context = {"customer": customer, "cuno": cuno, "address": address_context(engine, customer.address)}
    return render_fields(engine, "CRS610MI", "Add", head_specs(engine), context, f"customer {customer.ps_customer_id}")


def address_record(engine: MappingEngine, address: Address, customer: Customer, cuno: str) -> dict[str, str]:
    """The CRS610MI AddAddress fields (customer_sync.yaml) of one shop address, without the keys."""
    cfg = engine.config.customer_sync.addresses
    context = {"customer": customer, "cuno": cuno, "address": address_context(engine, address, cfg.type)}
    return render_fields(engine, "CRS610MI", "AddAddress", cfg.fields, context,
                         f"address {address.ps_address_id}")


def sources(spec: FieldSpec) -> list[tuple[str, str]]:
    """(entity, canonical field) pairs an M3 field is made of (``address.lines.0`` → address.street)."""
    return _canonical_sources(spec.source or "") if spec.source else []


def owner(engine: MappingEngine, spec: FieldSpec) -> str | None:
    """Who owns an M3 field: ``prestashop``, ``infor``, or None for constants and keys (nobody syncs them).
    A field made of several canonical fields belongs to M3 as soon as one of them does."""
    found = sources(spec)
    if not found:
        return None
    return INFOR if any(engine.owner_of(e, f) == INFOR for e, f in found) else PRESTASHOP


def owned_fields(engine: MappingEngine, specs: Mapping[str, FieldSpec], who: str) -> set[str]:
    return {name for name, spec in specs.items() if owner(engine, spec) == who}


def shop_changes_for_m3(engine: MappingEngine, specs: Mapping[str, FieldSpec], rendered: Mapping[str, str],
                        sent: Mapping[str, str]) -> dict[str, str]:
    """The shop-owned M3 fields whose rendered value differs from what was last written to M3 (``sent``:
    digests). An empty result means nothing the shop owns changed: an event caused by our own write to the shop
    (or a change of a field M3 owns) is not sent back."""
    mine = owned_fields(engine, specs, PRESTASHOP)
    return {k: v for k, v in rendered.items() if k in mine and sent.get(k) != digest(v)}


def m3_changes_for_shop(engine: MappingEngine, specs: Mapping[str, FieldSpec], rendered: Mapping[str, str],
                        m3_record: Mapping[str, str]) -> dict[str, list[str]]:
    """The M3-owned M3 fields where M3 differs from the shop: canonical field → the M3 values it comes from
    (``street`` → every CUAn line). Only fields the shop can be written with are reported."""
    theirs = owned_fields(engine, specs, INFOR)
    changed: dict[str, list[str]] = {}
    for name in sorted(theirs):
        if (m3_record.get(name) or "").strip() == (rendered.get(name) or "").strip():
            continue
        for entity, field in sources(specs[name]):
            if engine.owner_of(entity, field) != INFOR:
                continue
            allowed = WRITABLE_ADDRESS_FIELDS if entity == "address" else WRITABLE_CUSTOMER_FIELDS
            if field in allowed:
                changed[field] = [(m3_record.get(n) or "").strip() for n in _fields_of(specs, entity, field)]
    return changed


def _fields_of(specs: Mapping[str, FieldSpec], entity: str, field: str) -> list[str]:
    """The M3 fields made from one canonical field, in field-map order (CUA1..CUA4 for the street)."""
    return sorted(n for n, spec in specs.items() if (entity, field) in sources(spec))


def street_for_shop(lines: Iterable[str], current: list[str], width: int, max_lines: int) -> tuple[str, str]:
    """address1/address2 from M3's address lines, keeping the shop's split where it can: address1 gets as many
    lines as it takes in M3 today."""
    kept = [line for line in lines if line]
    first = len(split_street(current[:1], width, max_lines).lines) if current else 1
    first = max(1, min(first, len(kept)))
    return " ".join(kept[:first])[:128], " ".join(kept[first:])[:128]
