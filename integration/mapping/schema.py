"""Schemas of the mapping files in ``mappings/``: what each YAML file may contain.

Each file is checked with a marshmallow schema (structure, types, allowed values) and then by cross checks
that need more than one value (a field map naming an M3 field the transaction does not have, a path into the
canonical record that does not exist, a lookup that is not defined). ``loader.py`` turns every problem into
"file: key: what is wrong".
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from integration.ai.thresholds import DetectorsSchema, Thresholds
from integration.transform.enrichment import CONDITION_KEYS, TARGET_KEYS
from integration.transform.variants import STRATEGIES

from .fieldmap import FORMATS, TOO_LONG


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Scalar(fields.Field):
    """A YAML scalar used as an M3 value: strings, and numbers written without quotes (ORTP: 100)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("must be a string (quote it) or a whole number")
        return str(value)


class FieldSpecSchema(Strict):
    source = fields.String(data_key="from")
    const = Scalar()
    default = Scalar()
    lookup = fields.String()
    format = fields.String(validate=validate.OneOf(FORMATS), load_default="text")
    truncate = fields.Boolean(load_default=False)
    too_long = fields.String(validate=validate.OneOf(TOO_LONG))
    only_if = fields.String()
    omit_zero = fields.Boolean(load_default=False)

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if ("source" in data) == ("const" in data):
            raise ValidationError("give exactly one of 'from' (a path) or 'const' (a value)")
        if data.get("truncate") and data.get("too_long") not in (None, "truncate"):
            raise ValidationError("'truncate: true' and 'too_long' say different things: keep one")


FieldMap = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Z0-9]{4}$",
                                                                   error="M3 field names are 4 capitals")),
                       values=fields.Nested(FieldSpecSchema), required=True)


class LookupSchema(Strict):
    values = fields.Dict(keys=Scalar(), values=Scalar(), required=True)
    default = Scalar(allow_none=True, load_default=None)


class LookupsFile(Strict):
    lookups = fields.Dict(keys=fields.String(), values=fields.Nested(LookupSchema), required=True)


class PricesSchema(Strict):
    send = fields.Boolean(required=True)
    basis = fields.String(validate=validate.OneOf(["tax_excl", "tax_incl"]), required=True)


class AddressTypesSchema(Strict):
    delivery = Scalar(required=True)
    invoice = Scalar(required=True)


class OrderTransactions(Strict):
    AddBatchHead = FieldMap
    AddBatchAddress = FieldMap
    AddBatchLine = FieldMap
    AddBatchHeadChg = fields.Dict(keys=fields.String(validate=validate.Regexp(
        r"^[A-Z0-9]{4}$", error="M3 field names are 4 capitals")), values=fields.Nested(FieldSpecSchema))


class ChargeSchema(Strict):
    amount = fields.String(required=True, validate=validate.OneOf(["shipping", "wrapping"]))
    charge_id = Scalar(required=True)


class OrdersFile(Strict):
    customer_order_number = fields.String(required=True)
    shop_timezone = fields.String(required=True)
    prices = fields.Nested(PricesSchema, required=True)
    send_discount = fields.Boolean(load_default=False)
    address_types = fields.Nested(AddressTypesSchema, required=True)
    invoice_address = fields.String(validate=validate.OneOf(["always", "if_different", "never"]),
                                    load_default="if_different")
    charges = fields.List(fields.Nested(ChargeSchema), load_default=list)
    infor = fields.Nested(OrderTransactions, required=True)


class CustomerCallSchema(Strict):
    transaction = fields.String(required=True)
    skip_unless = fields.String()
    fields_ = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Z0-9]{4}$",
                                                                      error="M3 field names are 4 capitals")),
                          values=fields.Nested(FieldSpecSchema), required=True, data_key="fields")


class CustomersFile(Strict):
    customer_number = fields.String(required=True)
    calls = fields.List(fields.Nested(CustomerCallSchema), required=True, validate=validate.Length(min=1))
    update = fields.Nested(CustomerCallSchema, load_default=None)


class RangeSchema(Strict):
    lowest = fields.List(fields.Integer(validate=validate.Range(0, 99)), required=True,
                         validate=validate.Length(equal=2))
    highest = fields.List(fields.Integer(validate=validate.Range(0, 99)), required=True,
                          validate=validate.Length(equal=2))
    prestashop = fields.String(required=True, allow_none=True)
    label = fields.String(load_default="")

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        for name in ("lowest", "highest"):
            pair = data.get(name)
            if pair and pair[0] > pair[1]:
                raise ValidationError(f"{name}: the first bound must not exceed the second", name)


ACTIONS = ("open", "hold", "cancel", "ignore")


class FlagRuleSchema(Strict):
    when = fields.Dict(keys=fields.String(validate=validate.OneOf(
        ["paid", "shipped", "delivery", "logable", "invoice", "deleted", "hidden", "send_email",
         "pdf_invoice", "pdf_delivery", "unremovable"])), values=fields.Boolean(), required=True)
    infor = fields.String(required=True, validate=validate.OneOf(ACTIONS))


class PsToInforSchema(Strict):
    by_key = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^PS_OS_[A-Z0-9_]+$",
                                                                     error="expected a PS_OS_* configuration key")),
                         values=fields.String(validate=validate.OneOf(ACTIONS)), required=True)
    by_flags = fields.List(fields.Nested(FlagRuleSchema), load_default=list)


class StatusesFile(Strict):
    infor_to_prestashop = fields.List(fields.Nested(RangeSchema), required=True)
    prestashop_to_infor = fields.Nested(PsToInforSchema, required=True)


class CurrenciesFile(Strict):
    erp_currency = fields.String(required=True)  # an ISO code, or "order" to send each order in its currency
    shop_default_currency = fields.String(required=True)
    rate_source = fields.String(required=True, validate=validate.OneOf(["prestashop", "fixed", "infor"]))
    fixed_rates = fields.Dict(keys=fields.String(), values=fields.Decimal(), load_default=dict)
    rounding = fields.String(validate=validate.OneOf(["half_up", "half_even"]), load_default="half_up")
    max_difference = fields.Decimal(required=True, validate=validate.Range(min=0))


class VariantsFile(Strict):
    order = fields.List(fields.String(validate=validate.OneOf(STRATEGIES)), required=True,
                        validate=validate.Length(min=1))
    table = fields.Dict(keys=fields.String(validate=validate.Regexp(
        r"^\d+(:\d+)?$", error="keys are 'product_id' or 'product_id:combination_id'")),
        values=fields.String(validate=validate.Length(min=1, max=15)), load_default=dict)


class EnrichmentRuleSchema(Strict):
    name = fields.String(required=True)
    when = fields.Dict(keys=fields.String(validate=validate.OneOf(CONDITION_KEYS)),
                       values=fields.List(Scalar(), validate=validate.Length(min=1)), required=True)
    set = fields.Dict(keys=fields.String(validate=validate.OneOf(TARGET_KEYS)), values=Scalar(), required=True)


class EnrichmentFile(Strict):
    defaults = fields.Dict(keys=fields.String(validate=validate.OneOf(TARGET_KEYS)), values=Scalar(),
                           required=True)
    rules = fields.List(fields.Nested(EnrichmentRuleSchema), load_default=list)


class AddressesFile(Strict):
    transliterate = fields.Boolean(load_default=False)
    line_width = fields.Integer(load_default=36, validate=validate.Range(1, 36))
    max_lines = fields.Integer(load_default=4, validate=validate.Range(1, 4))
    country_aliases = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    state_codes = fields.Dict(keys=fields.String(validate=validate.Regexp(
        r"^[A-Za-z]{2}-[A-Za-z0-9]{1,7}$", error="keys are COUNTRY-STATE, e.g. AU-NSW")), values=Scalar(),
        load_default=dict)


class AnomaliesSchema(Strict):
    max_line_quantity = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    max_order_amount = fields.Decimal(load_default=None, allow_none=True)
    quantity_factor = fields.Decimal(load_default=None, allow_none=True)
    amount_factor = fields.Decimal(load_default=None, allow_none=True)
    countries_must_match = fields.Boolean(load_default=False)


class ValidationFile(Strict):
    max_line_quantity = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    blocked_customers = fields.List(Scalar(), load_default=list)
    allowed_countries = fields.List(fields.String(), load_default=list)
    anomalies = fields.Nested(AnomaliesSchema, load_default=dict)
    detectors = fields.Nested(DetectorsSchema, load_default=Thresholds)  # integration/ai/anomaly.py


OWNERS = ("prestashop", "infor")


ENTITIES = ("customer", "address", "order", "order_line", "item", "stock_level")


class OwnershipFile(Strict):
    defaults = fields.Dict(keys=fields.String(validate=validate.OneOf(ENTITIES)),
                           values=fields.String(validate=validate.OneOf(OWNERS)), required=True)
    fields_ = fields.Dict(
        keys=fields.String(validate=validate.OneOf(ENTITIES)),
        values=fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(OWNERS))),
        load_default=dict, data_key="fields",
    )


INBOUND_ENTITIES = ("item", "stock_level", "shipment", "invoice", "payment")


class InboundFile(Strict):
    erp_timezone = fields.String(required=True)
    entities = fields.Dict(
        keys=fields.String(validate=validate.OneOf(INBOUND_ENTITIES)),
        values=fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Regexp(
            r"^[A-Z0-9]{4}$", error="M3 field names are 4 capitals"))),
        required=True,
    )
    sellable_item_statuses = fields.List(Scalar(), load_default=list)


FILES: dict[str, type[Schema]] = {
    "orders.yaml": OrdersFile,
    "customers.yaml": CustomersFile,
    "lookups.yaml": LookupsFile,
    "statuses.yaml": StatusesFile,
    "currencies.yaml": CurrenciesFile,
    "variants.yaml": VariantsFile,
    "enrichment.yaml": EnrichmentFile,
    "addresses.yaml": AddressesFile,
    "validation.yaml": ValidationFile,
    "ownership.yaml": OwnershipFile,
    "inbound.yaml": InboundFile,
}
