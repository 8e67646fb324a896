"""Infor → canonical: M3 output records (all strings) into canonical entities, by ``mappings/inbound.yaml``.

M3 answers every field as a string, numbers sometimes padded with spaces, dates as YYYYMMDD and "0" or ""
for "no date". Each value is converted to the canonical field's declared type, and a value that does not
convert is a failure naming the record, the M3 field and the value, not a silent zero.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.errors import ValidationFailed


def _target_type(tp: Any) -> tuple[Any, bool]:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and args:
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def _convert(tp: Any, raw: str, tz: tzinfo) -> Any:
    text = raw.strip()
    if tp is str:
        return text
    if tp is Decimal:
        return Decimal(text) if text else None
    if tp is int:
        return int(text) if text else None
    if tp in (date, datetime):
        if not text or set(text) == {"0"}:
            return None
        day = datetime.strptime(text[:8], "%Y%m%d")
        return day.date() if tp is date else day.replace(tzinfo=tz)
    raise TypeError(f"no conversion to {tp!r}")


def infor_to_canonical(model: type[Any], mapping: Mapping[str, str], record: Mapping[str, Any], *,
                       tz: tzinfo, what: str, extra: Mapping[str, Any] | None = None) -> Any:
    """Build ``model`` from an M3 record: ``mapping`` is canonical field → M3 field; ``extra`` overrides."""
    hints = typing.get_type_hints(model)
    fields = {f.name: f for f in dataclasses.fields(model)}
    values: dict[str, Any] = {}
    failures: list[dict[str, Any]] = []
    for name, m3_field in mapping.items():
        raw = record.get(m3_field)
        if raw is None:
            continue
        tp, optional = _target_type(hints[name])
        try:
            value = _convert(tp, str(raw), tz)
        except (ValueError, InvalidOperation, TypeError):
            failures.append({"record": what, "field": m3_field, "rule": "type",
                             "message": f"{what}: {m3_field} ({name}) cannot be read as {tp.__name__}: {raw!r}",
                             "value": raw})
            continue
        if value is None and not optional:
            default = fields[name].default
            if default is dataclasses.MISSING and fields[name].default_factory is dataclasses.MISSING:
                failures.append({"record": what, "field": m3_field, "rule": "required",
                                 "message": f"{what}: {m3_field} ({name}) is empty", "value": raw})
            continue
        values[name] = value
    values.update(extra or {})
    missing = [n for n, f in fields.items() if n not in values and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    for name in missing:
        if not any(f["field"] == mapping.get(name) for f in failures):
            failures.append({"record": what, "field": mapping.get(name, name), "rule": "required",
                             "message": f"{what}: {mapping.get(name, name)} ({name}) is missing", "value": None})
    if failures:
        raise ValidationFailed(f"{what}: " + "; ".join(f["message"] for f in failures[:5]), failures=failures,
                               resolution="check the M3 transaction's output against mappings/inbound.yaml")
    return model(**values)
