"""Load and check ``mappings/*.yaml`` once, at start-up.

A deployment edits these files, so every mistake has to surface before the first order, and name the file,
the key and what is wrong ("orders.yaml: infor.AddBatchHead.CUOX: OIS100MI/AddBatchHead has no field CUOX").
All problems of all files are reported together, so an operator fixes them in one pass.

Every mapped M3 field fits: where the source can give a value longer than the field (PrestaShop's column
sizes in ``SOURCE_LENGTHS``, a lookup's longest value, a number's widest form), the field map must say what
happens (``truncate: true`` or ``too_long: truncate | refuse | omit``), or loading (``psinfor map check``)
fails naming the field, its length and the source's.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from marshmallow import ValidationError

from integration.ai.thresholds import Thresholds
from integration.canonical import (
    Address,
    Customer,
    Invoice,
    Item,
    Order,
    OrderLine,
    Payment,
    Shipment,
    StockLevel,
)
from integration.errors import ConfigurationError, MappingError
from integration.transform.enrichment import EnrichmentRule
from integration.transform.money import minor_units
from integration.transform.status import FlagRule, InforRangeRule, StatusMap

from . import m3fields
from .fieldmap import FieldSpec, Lookup, Roots, check_path
from .schema import FILES

ENRICHMENT_ROOT: dict[str, Any] = {k: None for k in (
    "order_type", "warehouse", "facility", "cost_centre", "project", "delivery_method", "delivery_terms",
    "payment_terms")}
ADDRESS_ROOT: dict[str, Any] = {
    "type": None, "name": None, "person": None, "first_name": None, "last_name": None, "company": None,
    "lines": list, "postcode": None, "city": None, "country": None, "state": None, "m3_state": None,
    "phone": None, "phone_raw": None, "vat_number": None,
}
HEAD_ROOTS: Roots = {"order": Order, "cuno": None, "enrichment": ENRICHMENT_ROOT}
ADDRESS_ROOTS: Roots = {**HEAD_ROOTS, "address": ADDRESS_ROOT}
LINE_ROOTS: Roots = {**HEAD_ROOTS, "line": OrderLine}
CHARGE_ROOTS: Roots = {**HEAD_ROOTS, "charge": {"id": None, "name": None, "amount": None}}
CUSTOMER_ROOTS: Roots = {"customer": Customer, "address": ADDRESS_ROOT, "cuno": None}
ORDER_OPTIONS = ("send_prices", "send_discount")
CUOR_PLACEHOLDERS = ("reference", "id_order", "id_shop")
ENTITY_CLASSES: dict[str, type[Any]] = {
    "customer": Customer, "address": Address, "order": Order, "order_line": OrderLine, "item": Item,
    "stock_level": StockLevel,
}
INBOUND_CLASSES: dict[str, type[Any]] = {
    "item": Item, "stock_level": StockLevel, "shipment": Shipment, "invoice": Invoice, "payment": Payment,
}
ENRICHMENT_LENGTHS = {"order_type": 3, "warehouse": 3, "facility": 3, "project": 7, "delivery_method": 3,
                      "delivery_terms": 3, "payment_terms": 3}

# The longest value a source path can give, from PrestaShop's column sizes (Address: postcode 12, city 64,
# firstname/lastname/company 255, address1/2 128; State iso_code 7; Country iso_code 3; Customer email 255;
# Order reference 9, module 255; order_detail product_reference 64, product_ean13 13) and from what this
# engine makes of them (E.164 phones: '+' and at most 15 digits; CUOR and CUNO checked below). A path not
# listed has no known maximum. ``address.*`` covers ``order.delivery_address.*``, ``order.invoice_address.*``
# and ``customer.address.*``; ``address.lines.N`` is ``line_width`` (addresses.yaml).
SOURCE_LENGTHS: dict[str, int] = {
    "cuno": 10, "order.customer_order_number": 20, "order.reference": 9, "order.currency": 3,
    "order.erp_currency": 3, "order.payment_module": 255, "order.rate_source": 8, "order.price_basis": 8,
    "address.type": 2, "address.first_name": 255, "address.last_name": 255, "address.company": 255,
    "address.person": 511, "address.street.0": 128, "address.street.1": 128, "address.postcode": 12,
    "address.city": 64, "address.country": 3, "address.state": 7, "address.m3_state": 7, "address.phone": 16,
    "address.phone_raw": 32, "customer.email": 255, "customer.first_name": 255, "customer.last_name": 255,
    "customer.company": 255, "customer.person_name": 511, "line.item_number": 64, "line.reference": 64,
    "line.ean13": 13, "line.warehouse": 3, "charge.id": 6, "charge.name": 8,
    **{f"enrichment.{k}": v for k, v in ENRICHMENT_LENGTHS.items()},
}
# Sources that are ASCII already, so transliteration cannot lengthen them.
ASCII_SOURCES = frozenset({"cuno", "order.customer_order_number", "order.reference", "order.currency",
                           "order.erp_currency", "address.type", "address.country", "address.phone",
                           "line.ean13", "line.warehouse", "charge.id",
                           *(f"enrichment.{k}" for k in ENRICHMENT_LENGTHS)})
# The widest text a number format can give: a date as YYYYMMDD; an integer (PrestaShop's INT(10) quantities,
# with a sign); a decimal (PrestaShop's DECIMAL(20,6) amounts: sign, 14 digits, point, 6 decimals).
FORMAT_LENGTHS = {"date": 8, "integer": 11, "decimal": 22}
_ADDRESS_PREFIXES = ("order.delivery_address.", "order.invoice_address.", "customer.address.")


@dataclass(frozen=True)
class TransactionMap:
    program: str
    transaction: str
    fields: dict[str, FieldSpec]
    skip_unless: str | None = None


@dataclass(frozen=True)
class OrdersConfig:
    customer_order_number: str
    timezone: ZoneInfo
    send_prices: bool
    price_basis: str
    send_discount: bool
    address_types: dict[str, str]
    invoice_address: str
    head: TransactionMap
    address: TransactionMap
    line: TransactionMap
    charge: TransactionMap | None = None
    charges: tuple[tuple[str, str], ...] = ()  # (amount name, CRID)

    @property
    def options(self) -> dict[str, bool]:
        return {"send_prices": self.send_prices, "send_discount": self.send_discount}


@dataclass(frozen=True)
class CustomersConfig:
    customer_number: str
    calls: list[TransactionMap]
    update: TransactionMap | None = None


@dataclass(frozen=True)
class CurrencyConfig:
    erp_currency: str  # ISO code, or "ORDER"
    shop_default_currency: str
    rate_source: str
    fixed_rates: dict[str, Decimal]
    rounding: str
    max_difference: Decimal


@dataclass(frozen=True)
class AddressConfig:
    transliterate: bool = False
    line_width: int = 36
    max_lines: int = 4
    country_aliases: dict[str, str] = field(default_factory=dict)
    state_codes: dict[str, str] = field(default_factory=dict)  # "AU-NSW" -> the tenant's 2-character ECAR


@dataclass(frozen=True)
class AnomalyConfig:
    max_line_quantity: int | None = None
    max_order_amount: Decimal | None = None
    quantity_factor: Decimal | None = None
    amount_factor: Decimal | None = None
    countries_must_match: bool = False


@dataclass(frozen=True)
class ValidationConfig:
    max_line_quantity: int | None = None
    blocked_customers: frozenset[str] = frozenset()
    allowed_countries: frozenset[str] = frozenset()
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    detectors: Thresholds = field(default_factory=Thresholds)  # integration.ai.anomaly.detect


@dataclass(frozen=True)
class InboundConfig:
    timezone: ZoneInfo
    entities: dict[str, dict[str, str]]
    sellable_item_statuses: frozenset[str]


@dataclass(frozen=True)
class MappingConfig:
    directory: Path
    orders: OrdersConfig
    customers: CustomersConfig
    lookups: dict[str, Lookup]
    statuses: StatusMap
    currencies: CurrencyConfig
    variant_order: list[str]
    variant_table: dict[str, str]
    enrichment_defaults: dict[str, str]
    enrichment_rules: list[EnrichmentRule]
    addresses: AddressConfig
    validation: ValidationConfig
    ownership_defaults: dict[str, str]
    ownership: dict[str, dict[str, str]]
    inbound: InboundConfig


class _Problems:
    def __init__(self, directory: Path):
        self.directory = directory
        self.items: list[dict[str, str]] = []

    def add(self, file: str, key: str, problem: str) -> None:
        self.items.append({"file": str(self.directory / file), "key": key, "problem": problem})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [f"{p['file']}: {p['key'] or '(top level)'}: {p['problem']}" for p in self.items]
        raise ConfigurationError(
            "invalid mapping files:\n  " + "\n  ".join(lines),
            resolution="correct the keys named above; the comments in each mapping file describe its keys",
            details={"problems": self.items},
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; in a mapping file that hides a mistake."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict → [(dotted key, message)]; Dict-field 'key'/'value' levels dropped."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "value":
                out.extend(_flatten(value, prefix))
            elif key == "key":
                out.extend((prefix, f"(the key itself) {m}") for _, m in _flatten(value, ""))
            elif key == "_schema":
                out.extend(_flatten(value, prefix))
            else:
                out.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list):
        for message in messages:
            out.extend(_flatten(message, prefix))
    else:
        out.append((prefix, str(messages)))
    return out


def _read(directory: Path, problems: _Problems) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {}
    if not directory.is_dir():
        raise ConfigurationError(f"mappings directory {directory} does not exist",
                                 resolution="set MAPPINGS_DIR to the folder holding the mapping YAML files")
    present = {p.name for p in directory.glob("*.y*ml")}
    for name in sorted(present - set(FILES)):
        problems.add(name, "", f"unknown mapping file (expected: {', '.join(sorted(FILES))})")
    for name, schema in FILES.items():
        path = directory / name
        if name not in present:
            problems.add(name, "", "file is missing")
            continue
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problems.add(name, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
            continue
        if not isinstance(raw, dict):
            problems.add(name, "", "the top level must be a mapping of keys")
            continue
        try:
            data[name] = schema().load(raw)
        except ValidationError as exc:
            for key, message in _flatten(exc.messages):
                problems.add(name, key, message)
    return data


class _Bounds:
    """The longest value a field map can give (None: no known maximum)."""

    def __init__(self, addresses: AddressConfig, lookups: Mapping[str, Lookup]):
        self.addresses = addresses
        self.lookups = lookups

    def longest(self, spec: FieldSpec) -> tuple[int | None, str]:
        """(length, where it comes from) for the field map's value."""
        if spec.const is not None:
            return len(spec.const), "the constant"
        if spec.lookup is not None:
            table = self.lookups.get(spec.lookup)
            if table is None:
                return None, f"lookup {spec.lookup!r}"
            values = [*table.values.values(), *([table.default] if table.default is not None else [])]
            return max((len(v) for v in values), default=0), f"lookup {spec.lookup!r}"
        length, where = self._path(spec.source or "", spec.format)
        if spec.default is not None and length is not None:
            length = max(length, len(spec.default))
        return length, where

    def _path(self, path: str, fmt: str) -> tuple[int | None, str]:
        if fmt in FORMAT_LENGTHS:
            return FORMAT_LENGTHS[fmt], f"a {fmt}"
        key = path
        for prefix in _ADDRESS_PREFIXES:
            if path.startswith(prefix):
                key = "address." + path[len(prefix):]
        where = path
        if key.startswith("address.lines.") and path.startswith("address."):
            # The engine wraps the lines after transliterating them (when addresses.yaml says so): they fit.
            if fmt == "ascii" and not self.addresses.transliterate:
                return None, f"{path} transliterated to ASCII after wrapping"
            return self.addresses.line_width, f"{path} (line_width in addresses.yaml)"
        if (fmt == "ascii" or self.addresses.transliterate) and key not in ASCII_SOURCES:
            return None, f"{path} transliterated to ASCII"
        return SOURCE_LENGTHS.get(key), where


def _transaction_map(program: str, transaction: str, specs: dict[str, Any], roots: Roots, file: str,
                     key: str, lookups: Mapping[str, Any], options: tuple[str, ...], problems: _Problems,
                     skip_unless: str | None = None, implicit: tuple[str, ...] = (),
                     bounds: _Bounds | None = None) -> TransactionMap:
    lengths = m3fields.field_lengths(program, transaction)
    result: dict[str, FieldSpec] = {}
    for name, raw in specs.items():
        where = f"{key}.{name}"
        if name not in lengths:
            problems.add(file, where, f"{program}/{transaction} has no field {name}")
            continue
        spec = FieldSpec(source=raw.get("source"), const=raw.get("const"), default=raw.get("default"),
                         lookup=raw.get("lookup"), format=raw.get("format", "text"),
                         truncate=raw.get("truncate", False), only_if=raw.get("only_if"),
                         omit_zero=raw.get("omit_zero", False), too_long=raw.get("too_long"))
        checked = True
        if spec.source is not None:
            problem = check_path(spec.source, roots)
            if problem:
                problems.add(file, f"{where}.from", problem)
                checked = False
        if spec.lookup is not None and spec.lookup not in lookups:
            problems.add(file, f"{where}.lookup", f"no lookup table {spec.lookup!r} in lookups.yaml "
                         f"(defined: {', '.join(sorted(lookups)) or 'none'})")
            checked = False
        if spec.only_if is not None and spec.only_if not in options:
            problems.add(file, f"{where}.only_if", f"unknown option {spec.only_if!r} "
                         f"(options: {', '.join(options) or 'none'})")
        limit = lengths[name]
        for label, value in (("const", spec.const), ("default", spec.default)):
            if value is not None and limit is not None and len(value) > limit:
                problems.add(file, f"{where}.{label}", f"{value!r} is longer than {name}'s {limit} characters")
        if spec.overflow == "truncate" and spec.format in FORMAT_LENGTHS:
            problems.add(file, where, f"a {spec.format} is never cut: use too_long: refuse")
        if checked and limit is not None and spec.overflow is None and bounds is not None and spec.const is None:
            longest, origin = bounds.longest(spec)
            if longest is None or longest > limit:
                size = "has no known maximum" if longest is None else f"can be {longest} characters long"
                problems.add(file, where, f"{name} takes {limit} characters and {origin} {size}: say what "
                             "happens to a longer value (too_long: truncate | refuse | omit)")
        result[name] = spec
    for name in m3fields.required_fields(program, transaction):
        if name not in result and name not in implicit:
            problems.add(file, key, f"{program}/{transaction} requires {name}, which is not mapped")
    if skip_unless is not None and skip_unless not in result:
        problems.add(file, f"{key}.skip_unless", f"{skip_unless} is not one of the fields mapped here")
    return TransactionMap(program, transaction, result, skip_unless)


def _check_template(template: str, allowed: tuple[str, ...], sample: dict[str, Any]) -> str | None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return f"not a valid template: {exc}"
    unknown = sorted(n for n in names if n.split(".")[0].split("[")[0] not in allowed)
    if unknown:
        return f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} (allowed: {', '.join(allowed)})"
    try:
        template.format(**sample)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        return f"cannot be formatted: {exc}"
    return None


def _orders(data: dict[str, Any], lookups: Mapping[str, Any], problems: _Problems,
            bounds: _Bounds | None = None) -> OrdersConfig | None:
    file = "orders.yaml"
    cuor = data["customer_order_number"]
    problem = _check_template(cuor, CUOR_PLACEHOLDERS, {"reference": "ABCDEFGHI", "id_order": 1234567, "id_shop": 1})
    if problem:
        problems.add(file, "customer_order_number", problem)
    elif len(cuor.format(reference="ABCDEFGHI", id_order=1234567, id_shop=1)) > 20:
        problems.add(file, "customer_order_number",
                     "renders longer than CUOR's 20 characters for a 9-letter reference and a 7-digit id")
    try:
        tz = ZoneInfo(data["shop_timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(file, "shop_timezone", f"unknown time zone {data['shop_timezone']!r}")
        tz = ZoneInfo("UTC")
    maps = data["infor"]
    missing = [t for t in ("AddBatchHead", "AddBatchAddress", "AddBatchLine") if t not in maps]
    for name in missing:
        problems.add(file, f"infor.{name}", "missing field map")
    if missing:
        return None
    implicit = ("ORNO",)  # M3 assigns it; create_batch_order fills it in
    head = _transaction_map("OIS100MI", "AddBatchHead", maps["AddBatchHead"], HEAD_ROOTS, file,
                            "infor.AddBatchHead", lookups, ORDER_OPTIONS, problems, implicit=implicit, bounds=bounds)
    address = _transaction_map("OIS100MI", "AddBatchAddress", maps["AddBatchAddress"], ADDRESS_ROOTS, file,
                               "infor.AddBatchAddress", lookups, ORDER_OPTIONS, problems, implicit=implicit,
                               bounds=bounds)
    line = _transaction_map("OIS100MI", "AddBatchLine", maps["AddBatchLine"], LINE_ROOTS, file,
                            "infor.AddBatchLine", lookups, ORDER_OPTIONS, problems, implicit=implicit, bounds=bounds)
    charge = None
    if "AddBatchHeadChg" in maps:
        charge = _transaction_map("OIS100MI", "AddBatchHeadChg", maps["AddBatchHeadChg"], CHARGE_ROOTS, file,
                                  "infor.AddBatchHeadChg", lookups, ORDER_OPTIONS, problems, implicit=implicit,
                                  bounds=bounds)
    charges = tuple((c["amount"], c["charge_id"]) for c in data["charges"])
    for i, (_, crid) in enumerate(charges):
        if len(crid) > 6:
            problems.add(file, f"charges.{i}.charge_id", f"{crid!r} is longer than CRID's 6 characters")
    if charges and charge is None:
        problems.add(file, "charges", "charges are configured but infor.AddBatchHeadChg has no field map")
    for name, value in data["address_types"].items():
        if len(value) > 2:
            problems.add(file, f"address_types.{name}", f"{value!r} is longer than ADRT's 2 characters")
    return OrdersConfig(
        customer_order_number=cuor, timezone=tz, send_prices=data["prices"]["send"],
        price_basis=data["prices"]["basis"], send_discount=data["send_discount"],
        address_types=dict(data["address_types"]), invoice_address=data["invoice_address"],
        head=head, address=address, line=line, charge=charge, charges=charges,
    )


def _customers(data: dict[str, Any], lookups: Mapping[str, Any], problems: _Problems,
               bounds: _Bounds | None = None) -> CustomersConfig:
    file = "customers.yaml"
    template = data["customer_number"]
    problem = _check_template(template, ("id",), {"id": 1234567})
    if problem:
        problems.add(file, "customer_number", problem)
    else:
        sample = template.format(id=9999999)
        if len(sample) > 10:
            problems.add(file, "customer_number", f"renders {sample!r}, longer than CUNO's 10 characters")
        if not sample.isalnum() or sample.upper() != sample:
            problems.add(file, "customer_number",
                         f"renders {sample!r}: use capitals and digits only, as M3 customer numbers are")
    calls: list[TransactionMap] = []
    for i, call in enumerate(data["calls"]):
        key = f"calls.{i}"
        if not m3fields.has_transaction("CRS610MI", call["transaction"]):
            problems.add(file, f"{key}.transaction", f"CRS610MI has no transaction {call['transaction']!r} here "
                         f"(known: {', '.join(m3fields.transactions('CRS610MI'))})")
            continue
        calls.append(_transaction_map("CRS610MI", call["transaction"], call["fields_"], CUSTOMER_ROOTS, file,
                                      f"{key}.fields", lookups, (), problems, skip_unless=call.get("skip_unless"),
                                      bounds=bounds))
    update = None
    raw_update = data.get("update")
    if raw_update is not None:
        if m3fields.has_transaction("CRS610MI", raw_update["transaction"]):
            update = _transaction_map("CRS610MI", raw_update["transaction"], raw_update["fields_"], CUSTOMER_ROOTS,
                                      file, "update.fields", lookups, (), problems, bounds=bounds)
        else:
            problems.add(file, "update.transaction", f"CRS610MI has no transaction {raw_update['transaction']!r} "
                         f"here (known: {', '.join(m3fields.transactions('CRS610MI'))})")
    return CustomersConfig(template, calls, update)


def _currencies(data: dict[str, Any], problems: _Problems) -> CurrencyConfig:
    file = "currencies.yaml"
    erp = data["erp_currency"].upper()
    default = data["shop_default_currency"].upper()
    for key, code in (("erp_currency", erp), ("shop_default_currency", default)):
        if key == "erp_currency" and code == "ORDER":
            continue
        try:
            minor_units(code)
        except MappingError as exc:
            problems.add(file, key, exc.message)
    rates: dict[str, Decimal] = {}
    for code, rate in data["fixed_rates"].items():
        try:
            minor_units(code)
        except MappingError as exc:
            problems.add(file, f"fixed_rates.{code}", exc.message)
        if rate <= 0:
            problems.add(file, f"fixed_rates.{code}", "a rate must be positive")
        rates[code.upper()] = rate
    if data["rate_source"] == "prestashop" and erp not in (default, "ORDER"):
        problems.add(file, "rate_source", "PrestaShop's conversion_rate is relative to the shop default "
                     f"currency ({default}), so it can only convert to that currency, not to {erp}: use "
                     "'fixed' or 'infor', or set erp_currency to the shop default")
    return CurrencyConfig(erp, default, data["rate_source"], rates, data["rounding"], data["max_difference"])


def _addresses(data: dict[str, Any] | None, problems: _Problems) -> AddressConfig:
    if data is None:
        return AddressConfig()
    width = min(m3fields.field_lengths("OIS100MI", "AddBatchAddress").get("ECAR") or 2,
                m3fields.field_lengths("CRS610MI", "Add").get("ECAR") or 2)
    codes: dict[str, str] = {}
    for key, value in data["state_codes"].items():
        if len(value) > width:
            problems.add("addresses.yaml", f"state_codes.{key}", f"{value!r} is longer than ECAR's {width} characters")
        codes[key.upper()] = value.upper()
    return AddressConfig(data["transliterate"], data["line_width"], data["max_lines"],
                         {k.upper(): v.upper() for k, v in data["country_aliases"].items()}, codes)


def _statuses(data: dict[str, Any], problems: _Problems) -> StatusMap:
    ranges = []
    for i, rule in enumerate(data["infor_to_prestashop"]):
        key = rule["prestashop"]
        if key is not None and not key.startswith("PS_OS_"):
            problems.add("statuses.yaml", f"infor_to_prestashop.{i}.prestashop",
                         f"{key!r} is not a PS_OS_* configuration key (use null for 'no change')")
        ranges.append(InforRangeRule(tuple(rule["lowest"]), tuple(rule["highest"]),  # type: ignore[arg-type]
                                     key, rule["label"]))
    ps = data["prestashop_to_infor"]
    flags = [FlagRule(dict(r["when"]), r["infor"]) for r in ps["by_flags"]]
    return StatusMap(tuple(ranges), dict(ps["by_key"]), tuple(flags))


def _enrichment(data: dict[str, Any], problems: _Problems) -> tuple[dict[str, str], list[EnrichmentRule]]:
    file = "enrichment.yaml"
    for name, value in data["defaults"].items():
        limit = ENRICHMENT_LENGTHS.get(name)
        if limit and len(value) > limit:
            problems.add(file, f"defaults.{name}", f"{value!r} is longer than {limit} characters")
    rules = []
    for i, rule in enumerate(data["rules"]):
        for name, value in rule["set"].items():
            limit = ENRICHMENT_LENGTHS.get(name)
            if limit and len(value) > limit:
                problems.add(file, f"rules.{i}.set.{name}", f"{value!r} is longer than {limit} characters")
        when = {k: frozenset(str(v).upper() for v in values) for k, values in rule["when"].items()}
        rules.append(EnrichmentRule(rule["name"], when, dict(rule["set"])))
    return dict(data["defaults"]), rules


def _ownership(data: dict[str, Any], problems: _Problems) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    import dataclasses

    for entity, owners in data["fields_"].items():
        known = {f.name for f in dataclasses.fields(ENTITY_CLASSES[entity])}
        for name in owners:
            if name not in known:
                problems.add("ownership.yaml", f"fields.{entity}.{name}",
                             f"{entity} has no field {name!r} (known: {', '.join(sorted(known))})")
    return dict(data["defaults"]), {k: dict(v) for k, v in data["fields_"].items()}


def _inbound(data: dict[str, Any], problems: _Problems) -> InboundConfig:
    import dataclasses

    file = "inbound.yaml"
    try:
        tz = ZoneInfo(data["erp_timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(file, "erp_timezone", f"unknown time zone {data['erp_timezone']!r}")
        tz = ZoneInfo("UTC")
    for entity, mapping in data["entities"].items():
        model = INBOUND_CLASSES[entity]
        known = {f.name for f in dataclasses.fields(model)}
        for name in mapping:
            if name not in known:
                problems.add(file, f"entities.{entity}.{name}",
                             f"{entity} has no field {name!r} (known: {', '.join(sorted(known))})")
        required = {f.name for f in dataclasses.fields(model)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        for name in sorted(required - set(mapping)):
            problems.add(file, f"entities.{entity}", f"{entity}.{name} is required and not mapped")
    return InboundConfig(tz, {k: dict(v) for k, v in data["entities"].items()},
                         frozenset(str(s) for s in data["sellable_item_statuses"]))


def load_mappings(directory: str | Path) -> MappingConfig:
    """Read, check and compile every mapping file; ``ConfigurationError`` lists every problem found."""
    directory = Path(directory)
    problems = _Problems(directory)
    data = _read(directory, problems)
    # Cross checks run on every file that parsed, so all problems of all files come out in one report.
    raw_lookups = data.get("lookups.yaml", {}).get("lookups", {})
    lookups = {name: Lookup({str(k): str(v) for k, v in raw["values"].items()}, raw.get("default"))
               for name, raw in raw_lookups.items()}
    addresses = _addresses(data.get("addresses.yaml"), problems)
    bounds = _Bounds(addresses, lookups)
    orders = _orders(data["orders.yaml"], lookups, problems, bounds) if "orders.yaml" in data else None
    customers = (_customers(data["customers.yaml"], lookups, problems, bounds) if "customers.yaml" in data
                 else None)
    currencies = _currencies(data["currencies.yaml"], problems) if "currencies.yaml" in data else None
    statuses = _statuses(data["statuses.yaml"], problems) if "statuses.yaml" in data else None
    enrichment = _enrichment(data["enrichment.yaml"], problems) if "enrichment.yaml" in data else None
    ownership = _ownership(data["ownership.yaml"], problems) if "ownership.yaml" in data else None
    inbound = _inbound(data["inbound.yaml"], problems) if "inbound.yaml" in data else None
    problems.raise_if_any()
    assert orders and customers and currencies and statuses and enrichment and ownership and inbound
    defaults, rules = enrichment
    owner_defaults, owners = ownership
    validation = data["validation.yaml"]
    return MappingConfig(
        directory=directory,
        orders=orders,
        customers=customers,
        lookups=lookups,
        statuses=statuses,
        currencies=currencies,
        variant_order=list(data["variants.yaml"]["order"]),
        variant_table=dict(data["variants.yaml"]["table"]),
        enrichment_defaults=defaults,
        enrichment_rules=rules,
        addresses=addresses,
        validation=ValidationConfig(
            max_line_quantity=validation["max_line_quantity"],
            blocked_customers=frozenset(str(c) for c in validation["blocked_customers"]),
            allowed_countries=frozenset(c.upper() for c in validation["allowed_countries"]),
            anomalies=AnomalyConfig(**validation["anomalies"]),
            detectors=validation["detectors"],
        ),
        ownership_defaults=owner_defaults,
        ownership=owners,
        inbound=inbound,
    )
