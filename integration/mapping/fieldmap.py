"""Declarative field maps: how one M3 field gets its value from a canonical record.

A field spec in the YAML is one of

    CUOR: {from: order.customer_order_number}             # a path into the canonical record
    ORTP: {from: enrichment.order_type, default: WEB}     # ... with a default when it is empty
    CUTM: {const: WEBTMPL}                                # a constant
    MODL: {from: order.carrier_id, lookup: carriers}      # ... translated through a lookup table
    ORDT: {from: order.order_date, format: date}          # ... formatted (date, decimal, integer, upper, ascii)
    CUNM: {from: address.name, truncate: true}            # ... cut to M3's length at a word boundary
    MAIL: {from: customer.email, too_long: omit}          # ... left out when longer than M3's field
    PONO: {from: address.postcode, too_long: refuse}      # ... refused by validation when longer
    SAPR: {from: line.erp_unit_price, format: decimal, only_if: send_prices}   # ... only when an option is on
    OTBA: {from: order.erp_totals.discounts_tax_excl, format: decimal, omit_zero: true}  # ... left out when 0

Paths are checked against the canonical dataclasses when the files are loaded, so a typo fails at start-up
with the file and key, not at the first order.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from integration.errors import MappingError
from integration.transform.address import fit, transliterate
from integration.transform.money import m3_decimal

FORMATS = ("text", "date", "decimal", "integer", "upper", "ascii")
# What happens to a value longer than its M3 field: cut at a word boundary (free text), left out, or refused by
# validation (the record goes nowhere, the failure names field and rule). The loader insists on one of these
# wherever a source can be longer than its field.
TOO_LONG = ("truncate", "refuse", "omit")


@dataclass(frozen=True)
class FieldSpec:
    source: str | None = None
    const: str | None = None
    default: str | None = None
    lookup: str | None = None
    format: str = "text"
    truncate: bool = False
    only_if: str | None = None
    omit_zero: bool = False
    too_long: str | None = None  # one of TOO_LONG; ``truncate: true`` is the same as ``too_long: truncate``

    @property
    def overflow(self) -> str | None:
        """The rule for a value longer than the field, or None when the mapping gives none."""
        return "truncate" if self.truncate else self.too_long


@dataclass(frozen=True)
class Lookup:
    values: Mapping[str, str]
    default: str | None = None  # None: an unmapped value is an error


# A root is a dataclass (checked field by field), a dict of allowed keys → sub-roots (a dict context), ``list``
# (indexed by number), or None (a scalar).
Roots = Mapping[str, Any]


def check_path(path: str, roots: Roots) -> str | None:
    """A problem with ``path`` for these roots, or None when it resolves. Used by the loader."""
    parts = path.split(".")
    if parts[0] not in roots:
        return f"unknown source {parts[0]!r} (use one of: {', '.join(sorted(roots))})"
    current: Any = roots[parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        where = ".".join(parts[:i])
        if current is None:
            return f"{where} is a value, it has no {part!r}"
        if isinstance(current, Mapping):
            if part not in current:
                return f"{where} has no {part!r} (known: {', '.join(sorted(current))})"
            current = current[part]
            continue
        if current is list:
            if not part.isdigit():
                return f"{where} is a list: use an index, not {part!r}"
            current = None
            continue
        if dataclasses.is_dataclass(current):
            hints = typing.get_type_hints(current)
            if part in hints:
                current = _unwrap(hints[part])
            elif isinstance(getattr(current, part, None), property):
                current = None
            else:
                known = sorted([*hints, *(n for n, v in vars(current).items() if isinstance(v, property))])
                return f"{where} has no field {part!r} (known: {', '.join(known)})"
            continue
        return f"{where} has no {part!r}"
    return None


def _unwrap(tp: Any) -> Any:
    """Optional[X] → X; list[X] → list; dict → None (free keys); scalars → None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and args:
        tp = args[0]
    if typing.get_origin(tp) is list:
        return list
    if dataclasses.is_dataclass(tp):
        return tp
    return None


def resolve(context: Mapping[str, Any], path: str) -> Any:
    """Walk ``path`` through dicts, dataclasses (attributes and properties) and lists; None if absent."""
    current: Any = context
    for part in path.split("."):
        if current is None:
            return None
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list | tuple):
            index = int(part)
            current = current[index] if index < len(current) else None
        else:
            current = getattr(current, part, None)
    return current


def _as_text(value: Any, fmt: str, tz: tzinfo | None) -> str:
    if value is None:
        return ""
    if fmt == "date":
        if isinstance(value, datetime):
            local = value.astimezone(tz) if tz is not None and value.tzinfo is not None else value
            return local.strftime("%Y%m%d")
        if isinstance(value, date):
            return value.strftime("%Y%m%d")
        raise MappingError(f"cannot format {value!r} as a date")
    if fmt == "decimal":
        return m3_decimal(value if isinstance(value, Decimal) else Decimal(str(value)))
    if fmt == "integer":
        return str(int(value))
    text = m3_decimal(value) if isinstance(value, Decimal) else str(value)
    if fmt == "upper":
        return text.upper()
    if fmt == "ascii":
        return transliterate(text)
    return text


def render(
    spec: FieldSpec,
    context: Mapping[str, Any],
    *,
    lookups: Mapping[str, Lookup],
    options: Mapping[str, bool],
    max_length: int | None,
    where: str,
    tz: tzinfo | None = None,
    ascii_only: bool = False,
) -> str | None:
    """The string M3 gets for one field, or None to leave the field out (empty, or its option is off)."""
    if spec.only_if and not options.get(spec.only_if, False):
        return None
    value: Any = spec.const if spec.const is not None else resolve(context, spec.source or "")
    if spec.lookup:
        key = "" if value is None else str(value)
        table = lookups[spec.lookup]
        if key in table.values:
            value = table.values[key]
        elif table.default is not None:
            value = table.default
        else:
            raise MappingError(
                f"{where}: {key!r} has no entry in the lookup table {spec.lookup!r}",
                resolution=f"add '{key}: <M3 code>' under lookups.{spec.lookup}.values (or a default) "
                "in mappings/lookups.yaml",
                details={"field": where, "lookup": spec.lookup, "value": key},
            )
    text = _as_text(value, spec.format, tz)
    if ascii_only and spec.format in ("text", "upper"):
        text = transliterate(text)
    if spec.omit_zero and isinstance(value, Decimal | int) and not isinstance(value, bool) and value == 0:
        return None
    if text == "" and spec.default is not None:
        text = spec.default
    if text == "":
        return None
    if max_length is not None and len(text) > max_length:
        if spec.overflow == "truncate":
            text = fit(text, max_length)
        elif spec.overflow == "omit":
            return None
        # "refuse" (or no rule): sent as it is, so validation refuses the record naming field and rule
    return text
