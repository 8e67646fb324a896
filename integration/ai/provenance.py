"""What the deployment's mappings already do, said in order-bundle terms, with one transaction left out.

``mappings/orders.yaml`` and ``customers.yaml`` map M3 fields from *canonical* paths (``address.city``,
``order.customer_order_number``); the mapping engine fills those paths from bundle fields. ``CANONICAL``
says which bundle fields each path comes from (the engine's ``ps_order_to_canonical`` and
``ps_address_to_canonical``), so "CRS610MI/Add maps TOWN from address.city" becomes evidence that TOWN is
filled from ``address_invoice.city`` / ``address_delivery.city`` elsewhere.

Invariant: ``mapped_sources(config, exclude=[(program, transaction)])`` never reads an excluded transaction's
own field map, so a suggestion for a transaction is not its existing mapping read back (no leakage).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_ADDRESS_FIELDS = {
    "name": ("company", "lastname"), "person": ("firstname", "lastname"), "first_name": ("firstname",),
    "last_name": ("lastname",), "company": ("company",), "lines.0": ("address1",), "lines.1": ("address2",),
    "lines.2": ("other",), "postcode": ("postcode",), "city": ("city",), "phone": ("phone", "phone_mobile"),
    "phone_raw": ("phone", "phone_mobile"), "vat_number": ("vat_number",),
}
_ADDRESS_SIDES = ("address_delivery", "address_invoice")


def _address(path: str, sides: tuple[str, ...] = _ADDRESS_SIDES) -> tuple[str, ...]:
    if path == "country":
        return tuple(f"country_{s.split('_')[1]}.iso_code" for s in sides)
    if path == "state":
        return tuple(f"state_{s.split('_')[1]}.iso_code" for s in sides)
    return tuple(f"{side}.{f}" for side in sides for f in _ADDRESS_FIELDS.get(path, ()))


# canonical path -> bundle sources (the engine's reading of the bundle)
CANONICAL: dict[str, tuple[str, ...]] = {
    "cuno": ("customer.id",),
    "customer.name": ("customer.company", "customer.lastname"),
    "customer.person_name": ("customer.firstname", "customer.lastname"),
    "customer.first_name": ("customer.firstname",), "customer.last_name": ("customer.lastname",),
    "customer.company": ("customer.company",), "customer.email": ("customer.email",),
    "customer.vat_number": ("address_invoice.vat_number",), "customer.group_id": ("customer.id_default_group",),
    "customer.language_id": ("customer.id_lang",), "customer.ps_customer_id": ("customer.id",),
    "order.ps_order_id": ("order.id",), "order.reference": ("order.reference",),
    "order.customer_order_number": ("order.reference", "order.id"), "order.order_date": ("order.date_add",),
    "order.updated_at": ("order.date_upd",), "order.currency": ("currency.iso_code",),
    "order.erp_currency": ("currency.iso_code",), "order.payment_module": ("order.module",),
    "order.payment_name": ("order.payment",), "order.carrier_id": ("order.id_carrier",),
    "order.carrier_name": ("carrier.name",), "order.gift_message": ("order.gift_message",),
    "order.id_shop": ("order.id_shop",), "order.conversion_rate": ("order.conversion_rate",),
    "order.erp_totals.discounts_tax_excl": ("order.total_discounts_tax_excl",),
    "order.erp_totals.discounts_tax_incl": ("order.total_discounts_tax_incl",),
    "order.erp_totals.shipping_tax_excl": ("order.total_shipping_tax_excl",),
    "order.erp_totals.shipping_tax_incl": ("order.total_shipping_tax_incl",),
    "order.erp_totals.paid_tax_incl": ("order.total_paid_tax_incl",),
    "order.erp_totals.paid_tax_excl": ("order.total_paid_tax_excl",),
    "line.item_number": ("order_rows[].product_reference",), "line.reference": ("order_rows[].product_reference",),
    "line.quantity": ("order_rows[].product_quantity",), "line.name": ("order_rows[].product_name",),
    "line.ean13": ("order_rows[].product_ean13",), "line.product_id": ("order_rows[].product_id",),
    "line.combination_id": ("order_rows[].product_attribute_id",),
    "line.erp_unit_price": ("order_rows[].unit_price_tax_excl",),
    "line.unit_price_tax_excl": ("order_rows[].unit_price_tax_excl",),
    "line.unit_price_tax_incl": ("order_rows[].unit_price_tax_incl",),
    "charge.amount": ("order.total_shipping_tax_excl", "order.total_wrapping_tax_excl"),
}
for _path in (*_ADDRESS_FIELDS, "country", "state"):
    CANONICAL[f"address.{_path}"] = _address(_path)
    CANONICAL[f"order.invoice_address.{_path}"] = _address(_path, ("address_invoice",))
    CANONICAL[f"order.delivery_address.{_path}"] = _address(_path, ("address_delivery",))
    CANONICAL[f"customer.address.{_path}"] = _address(_path, ("address_invoice",))


@dataclass(frozen=True)
class MappedField:
    program: str
    transaction: str
    field: str
    sources: tuple[str, ...]


def bundle_sources_of(path: str | None) -> tuple[str, ...]:
    """The bundle fields behind a canonical path (empty for constants, enrichment and unknown paths)."""
    return CANONICAL.get(path or "", ())


def _maps(config: Any) -> Iterable[Any]:
    orders = config.orders
    yield from (orders.head, orders.address, orders.line)
    if orders.charge is not None:
        yield orders.charge
    yield from config.customers.calls
    if config.customers.update is not None:
        yield config.customers.update


def mapped_sources(config: Any, *, exclude: Iterable[tuple[str, str]] = ()) -> list[MappedField]:
    """Every (program, transaction, field) the loaded mappings fill from the shop, in bundle terms,
    leaving out the ``exclude`` transactions entirely. ``config`` is a ``MappingConfig``."""
    excluded = set(exclude)
    out: list[MappedField] = []
    for tmap in _maps(config):
        if (tmap.program, tmap.transaction) in excluded:
            continue
        for name, spec in tmap.fields.items():
            sources = bundle_sources_of(spec.source)
            if sources:
                out.append(MappedField(tmap.program, tmap.transaction, name, sources))
    return out


def item_mapped_sources(inbound: Any, *, exclude_program: str | None = None) -> list[MappedField]:
    """The item direction: ``inbound.yaml``'s item entity (canonical item field ← M3 field), in product terms.

    It serves MMS200MI's item reads, so it is left out whenever the target is an MMS200MI transaction.
    """
    if exclude_program == "MMS200MI":
        return []
    product = {"item_number": "reference", "name": "name", "description": "description", "status": "active",
               "weight": "weight", "changed_at": "date_upd", "ean13": "ean13", "sales_price": "price",
               "unit": "unity", "item_group": "id_category_default"}
    item = (inbound.entities if inbound is not None else {}).get("item", {})
    return [MappedField("MMS200MI", "*", product[k], (v,)) for k, v in item.items() if k in product]
