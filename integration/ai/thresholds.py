"""Thresholds of the anomaly detectors: the ``detectors`` section of ``mappings/validation.yaml``.

One dataclass per detector, with defaults that ``make eval`` measured (bench/results/eval-latest.json);
``DetectorsSchema`` checks the YAML section at start-up like every other mapping file and loads it into
``Thresholds``. A detector is switched off with ``enabled: false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load, validate


@dataclass(frozen=True)
class OrderValue:
    enabled: bool = True
    min_history: int = 6          # earlier accepted orders of the customer needed to judge
    max_robust_z: float = 1.5     # robust z-score of log(value) against the customer's history
    min_ratio: Decimal = Decimal("10")  # and at least this many times the customer's median value
    log_mad_floor: float = 0.25   # the spread is never taken as smaller (a customer who always spends the same)


@dataclass(frozen=True)
class LinePrice:
    enabled: bool = True
    max_below: Decimal = Decimal("0.45")  # a line price more than 45 % under M3's price for that customer
    max_above: Decimal = Decimal("0.30")  # or more than 30 % over it


@dataclass(frozen=True)
class Quantity:
    enabled: bool = True
    min_history: int = 8          # earlier lines (the customer's, else the item's, else the group's) to judge
    max_robust_z: float = 3.5     # robust z-score of log(quantity) against them
    min_ratio: Decimal = Decimal("6")   # and at least this many times their median quantity
    min_quantity: int = 5         # never for a quantity this small
    log_mad_floor: float = 0.35
    personal_factor: Decimal = Decimal("2")  # within this factor of what the customer bought before: usual


@dataclass(frozen=True)
class Combination:
    enabled: bool = True
    min_support: int = 100        # orders of a country before its usual currencies and carriers are known
    max_share: float = 0.001      # a currency or carrier seen on at most this share of the country's orders
    first_order_countries: bool = True   # billing and delivery countries differ on a first order, rarely seen


@dataclass(frozen=True)
class Velocity:
    enabled: bool = True
    customer_window_minutes: int = 60
    max_customer_orders: int = 2  # orders of one customer within the window, this one included
    address_window_hours: int = 24
    max_address_customers: int = 2  # distinct customers shipping to one address within the window


@dataclass(frozen=True)
class Thresholds:
    order_value: OrderValue = field(default_factory=OrderValue)
    line_price: LinePrice = field(default_factory=LinePrice)
    quantity: Quantity = field(default_factory=Quantity)
    combination: Combination = field(default_factory=Combination)
    velocity: Velocity = field(default_factory=Velocity)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _schema(model: type[Any], spec: dict[str, fields.Field]) -> type[Schema]:
    def make(self: Any, data: dict[str, Any], **_: Any) -> Any:
        return model(**data)

    return type(f"{model.__name__}Schema", (_Strict,), {**spec, "make": post_load(make)})


_positive = validate.Range(min=0, min_inclusive=False)
OrderValueSchema = _schema(OrderValue, {
    "enabled": fields.Boolean(), "min_history": fields.Integer(validate=validate.Range(min=1)),
    "max_robust_z": fields.Float(validate=_positive), "min_ratio": fields.Decimal(validate=_positive),
    "log_mad_floor": fields.Float(validate=_positive)})
LinePriceSchema = _schema(LinePrice, {
    "enabled": fields.Boolean(), "max_below": fields.Decimal(validate=validate.Range(0, 1, min_inclusive=False)),
    "max_above": fields.Decimal(validate=_positive)})
QuantitySchema = _schema(Quantity, {
    "enabled": fields.Boolean(), "min_history": fields.Integer(validate=validate.Range(min=1)),
    "max_robust_z": fields.Float(validate=_positive), "min_ratio": fields.Decimal(validate=_positive),
    "min_quantity": fields.Integer(validate=validate.Range(min=1)), "log_mad_floor": fields.Float(validate=_positive),
    "personal_factor": fields.Decimal(validate=_positive)})
CombinationSchema = _schema(Combination, {
    "enabled": fields.Boolean(), "min_support": fields.Integer(validate=validate.Range(min=1)),
    "max_share": fields.Float(validate=validate.Range(0, 1, min_inclusive=False)),
    "first_order_countries": fields.Boolean()})
VelocitySchema = _schema(Velocity, {
    "enabled": fields.Boolean(), "customer_window_minutes": fields.Integer(validate=validate.Range(min=1)),
    "max_customer_orders": fields.Integer(validate=validate.Range(min=1)),
    "address_window_hours": fields.Integer(validate=validate.Range(min=1)),
    "max_address_customers": fields.Integer(validate=validate.Range(min=1))})


class DetectorsSchema(_Strict):
    """``validation.yaml`` → ``detectors``: every key optional, defaults as in the dataclasses."""

    order_value = fields.Nested(OrderValueSchema, load_default=OrderValue)
    line_price = fields.Nested(LinePriceSchema, load_default=LinePrice)
    quantity = fields.Nested(QuantitySchema, load_default=Quantity)
    combination = fields.Nested(CombinationSchema, load_default=Combination)
    velocity = fields.Nested(VelocitySchema, load_default=Velocity)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Thresholds:
        return Thresholds(**data)


def load_thresholds(section: dict[str, Any] | None) -> Thresholds:
    """The ``detectors`` section (a dict from YAML) as ``Thresholds``; marshmallow's ValidationError if wrong."""
    result: Thresholds = DetectorsSchema().load(section or {})
    return result
