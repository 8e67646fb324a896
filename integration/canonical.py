"""Canonical entities: the shape every record takes between PrestaShop and Infor.

Connectors speak their system's language; flows speak this one. A record crosses a boundary twice
(PrestaShop → canonical → Infor, or back), so each side only needs to know the canonical form, and a
snapshot between Celery steps is the canonical record dumped to JSON by its marshmallow schema:
``OrderSchema().dump(order)`` is JSON-able (Decimals as strings, datetimes ISO 8601 with their offset),
``OrderSchema().load(data)`` gives the dataclass back, equal to the original.

Money is ``Decimal``; every amount says which currency it is in (the order currency or the ERP currency).
Times are timezone-aware.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load

from integration.transform.address import display_name, person_name


@dataclass
class Address:
    """A postal address after standardisation (ISO country, E.164 phone, cleaned text)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street: list[str] = field(default_factory=list)  # address1, address2, other: cleaned, not yet wrapped
    postcode: str = ""
    city: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    state: str | None = None  # ISO 3166-2 subdivision part ("CA"), when the country has states
    phone: str | None = None  # E.164, None when the shop's text is not a valid number
    phone_raw: str = ""
    vat_number: str = ""
    ps_address_id: int | None = None

    @property
    def name(self) -> str:
        return display_name(self.company, self.first_name, self.last_name)


@dataclass
class Customer:
    ps_customer_id: int
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    group_id: int | None = None
    language_id: int | None = None
    is_guest: bool = False
    active: bool = True
    deleted: bool = False
    vat_number: str = ""
    address: Address | None = None
    infor_customer_number: str | None = None

    @property
    def person_name(self) -> str:
        return person_name(self.first_name, self.last_name)

    @property
    def name(self) -> str:
        """The company for a business customer, else the person: what M3 shows as the customer name."""
        return display_name(self.company, self.first_name, self.last_name)

    @property
    def blocked(self) -> bool:
        """A deleted or deactivated shop account must not be (re)created in the ERP."""
        return self.deleted or not self.active


@dataclass
class Totals:
    """An order's totals in one currency (``currency``), tax excluded and included."""

    currency: str
    products_tax_excl: Decimal = Decimal("0")
    products_tax_incl: Decimal = Decimal("0")
    shipping_tax_excl: Decimal = Decimal("0")
    shipping_tax_incl: Decimal = Decimal("0")
    wrapping_tax_excl: Decimal = Decimal("0")
    wrapping_tax_incl: Decimal = Decimal("0")
    discounts_tax_excl: Decimal = Decimal("0")
    discounts_tax_incl: Decimal = Decimal("0")
    paid_tax_excl: Decimal = Decimal("0")
    paid_tax_incl: Decimal = Decimal("0")


@dataclass
class ReconciliationLine:
    """One check of a total: ``difference`` = computed - expected, in ``currency``; never silently zeroed."""

    name: str
    currency: str
    expected: Decimal
    computed: Decimal
    difference: Decimal


@dataclass
class OrderLine:
    line_no: int
    product_id: int
    combination_id: int
    quantity: int
    item_number: str = ""  # the Infor ITNO, resolved from the variant
    resolved_by: str = ""  # table | reference | ean
    reference: str = ""
    ean13: str = ""
    name: str = ""
    ps_order_detail_id: int | None = None
    # In the order currency, as the shop charged them.
    unit_price_tax_excl: Decimal = Decimal("0")
    unit_price_tax_incl: Decimal = Decimal("0")
    total_tax_excl: Decimal = Decimal("0")
    total_tax_incl: Decimal = Decimal("0")
    # In the ERP currency, on the configured basis (tax excluded or included), rounded to its minor units.
    erp_unit_price: Decimal = Decimal("0")
    erp_total: Decimal = Decimal("0")
    warehouse: str = ""


@dataclass
class Order:
    ps_order_id: int
    reference: str
    customer: Customer
    delivery_address: Address
    invoice_address: Address
    order_date: datetime
    currency: str  # the order's currency (ISO 4217)
    erp_currency: str  # the currency sent to M3
    erp_rate: Decimal  # units of the order currency per one unit of the ERP currency
    rate_source: str  # prestashop | fixed | infor | identity
    price_basis: str  # tax_excl | tax_incl: what the ERP prices mean
    customer_order_number: str  # CUOR
    id_shop: int = 1
    ps_state_id: int | None = None
    payment_module: str = ""
    payment_name: str = ""
    carrier_id: int | None = None
    carrier_name: str = ""
    updated_at: datetime | None = None
    conversion_rate: Decimal = Decimal("1")  # PrestaShop's: order currency per shop default currency
    gift_message: str = ""
    lines: list[OrderLine] = field(default_factory=list)
    totals: Totals | None = None  # order currency
    erp_totals: Totals | None = None  # ERP currency
    reconciliation: list[ReconciliationLine] = field(default_factory=list)
    enrichment: dict[str, str] = field(default_factory=dict)
    enrichment_rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # standardisation remarks (truncations, invalid phone...)


@dataclass
class Item:
    item_number: str
    name: str = ""
    description: str = ""
    status: str = ""
    unit: str = ""
    ean13: str = ""
    item_group: str = ""
    weight: Decimal | None = None
    sales_price: Decimal | None = None
    currency: str = ""
    changed_at: datetime | None = None


@dataclass
class StockLevel:
    item_number: str
    warehouse: str
    quantity: Decimal
    as_of: datetime | None = None
    ps_product_id: int | None = None
    ps_combination_id: int | None = None


@dataclass
class ShipmentLine:
    item_number: str
    quantity: Decimal
    order_line_no: int | None = None


@dataclass
class Shipment:
    order_number: str  # M3 ORNO
    delivery_number: str = ""  # DLIX
    tracking_number: str = ""
    carrier: str = ""
    shipped_at: datetime | None = None
    customer_order_number: str = ""
    ps_order_id: int | None = None
    lines: list[ShipmentLine] = field(default_factory=list)


@dataclass
class Invoice:
    invoice_number: str
    order_number: str
    currency: str
    amount_tax_incl: Decimal
    amount_tax_excl: Decimal | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    remaining: Decimal | None = None
    ps_order_id: int | None = None


@dataclass
class Payment:
    order_reference: str
    amount: Decimal
    currency: str
    method: str = ""
    transaction_id: str = ""
    paid_at: datetime | None = None
    ps_order_id: int | None = None


# --- marshmallow schemas, generated from the dataclasses so the two can never drift apart ---------------


class CanonicalSchema(Schema):
    """Base: unknown keys are refused (a snapshot from another version fails loudly), load → dataclass."""

    __model__: type[Any]

    class Meta:
        unknown = RAISE

    @post_load
    def _make(self, data: dict[str, Any], **_kwargs: Any) -> Any:
        return self.__model__(**data)


_SCHEMAS: dict[type[Any], type[CanonicalSchema]] = {}


def _field_for(tp: Any, required: bool, default: Any) -> fields.Field:
    optional = False
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
        origin = typing.get_origin(tp)
    kwargs: dict[str, Any] = {"allow_none": optional, "required": required}
    if not required:
        kwargs["load_default"] = default
    if origin is list:
        (inner,) = typing.get_args(tp)
        return fields.List(_field_for(inner, True, None), **kwargs)
    if origin is dict:
        return fields.Dict(keys=fields.String(), values=fields.String(), **kwargs)
    if dataclasses.is_dataclass(tp):
        return fields.Nested(schema_for(tp), **kwargs)  # type: ignore[arg-type]
    simple: dict[Any, Any] = {
        str: lambda: fields.String(**kwargs),
        bool: lambda: fields.Boolean(**kwargs),
        int: lambda: fields.Integer(strict=True, **kwargs),
        Decimal: lambda: fields.Decimal(as_string=True, **kwargs),
        datetime: lambda: fields.AwareDateTime(**kwargs),
        date: lambda: fields.Date(**kwargs),
    }
    return typing.cast(fields.Field, simple[tp]())


def schema_for(model: type[Any]) -> type[CanonicalSchema]:
    """The schema class of a canonical dataclass (built once, from its annotations)."""
    if model not in _SCHEMAS:
        hints = typing.get_type_hints(model)
        attrs: dict[str, Any] = {"__model__": model}
        for f in dataclasses.fields(model):
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            default: Any = None
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory
            elif f.default is not dataclasses.MISSING:
                default = f.default
            attrs[f.name] = _field_for(hints[f.name], not has_default, default)
        _SCHEMAS[model] = typing.cast(
            type[CanonicalSchema], type(f"{model.__name__}Schema", (CanonicalSchema,), attrs)
        )
    return _SCHEMAS[model]


AddressSchema = schema_for(Address)
CustomerSchema = schema_for(Customer)
TotalsSchema = schema_for(Totals)
ReconciliationLineSchema = schema_for(ReconciliationLine)
OrderLineSchema = schema_for(OrderLine)
OrderSchema = schema_for(Order)
ItemSchema = schema_for(Item)
StockLevelSchema = schema_for(StockLevel)
ShipmentLineSchema = schema_for(ShipmentLine)
ShipmentSchema = schema_for(Shipment)
InvoiceSchema = schema_for(Invoice)
PaymentSchema = schema_for(Payment)
