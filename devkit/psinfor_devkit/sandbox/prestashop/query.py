"""``display``, ``filter[…]``, ``sort``, ``limit`` and ``date`` with PrestaShop's semantics and error codes.

From ``SQLUtils::getSQLRetrieveFilter`` and ``WebserviceRequest``: ``[a|b]`` is OR, ``[a,b]`` an inclusive
BETWEEN (digits, dots, colons, dashes and spaces only), ``[ab]%`` / ``%[ab]`` / ``%[ab]%`` LIKE
(case-insensitive), ``>[v]`` / ``<[v]`` strict, ``![v|w]`` not-equal, a bare value is equality. Date fields
are only filterable or sortable with ``date=1``; computed fields never are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches
from typing import Any

from psinfor_devkit.sandbox.prestashop.schema import Resource


@dataclass
class WsError(Exception):
    """An error the webservice answers with: HTTP status, PrestaShop code(s) and message(s)."""

    status: int
    code: int
    message: str
    more: tuple[tuple[int, str], ...] = ()

    @property
    def errors(self) -> list[tuple[int, str]]:
        return [(self.code, self.message), *self.more]


def _did_you_mean(name: str, options: list[str]) -> str:
    close = get_close_matches(name, options, n=1)
    hint = f' Did you mean: "{close[0]}"?' if close else ""
    return f"{hint} The full list is: \"{', '.join(options)}\""


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text and text.strip() == text else None
    except InvalidOperation:
        return None


def _compare_key(text: str) -> tuple[int, Any]:
    number = _number(text)
    return (0, number) if number is not None else (1, text.lower())


def _values(value: Any) -> list[str]:
    if isinstance(value, dict):  # i18n field: any language may match
        return [str(v) for v in value.values()]
    return ["" if value is None else str(value)]


Predicate = Callable[[str], bool]


def _equals(target: str) -> Predicate:
    number = _number(target)
    if number is not None:
        return lambda v: (_number(v) == number) if _number(v) is not None else v == target
    lowered = target.lower()
    return lambda v: v.lower() == lowered


def _like(pattern: str) -> Predicate:
    regex = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + r"\Z",
                       re.IGNORECASE | re.DOTALL)
    return lambda v: regex.match(v) is not None


def _ordered(op: str, target: str) -> Predicate:
    key = _compare_key(target)

    def check(v: str) -> bool:
        mine = _compare_key(v)
        if mine[0] != key[0]:
            return False
        return mine > key if op == ">" else mine < key

    return check


_BETWEEN_RE = re.compile(r"[0-9.:\- ]*\Z")


def parse_filter(raw: str) -> Predicate:
    """One ``filter[field]`` value as a predicate on the stored string value."""
    if raw.startswith("%[") and raw.endswith("]%"):
        return _like("%" + raw[2:-2] + "%")
    if raw.startswith("%[") and raw.endswith("]"):
        return _like("%" + raw[2:-1])
    if raw.startswith("[") and raw.endswith("]%"):
        return _like(raw[1:-2] + "%")
    if raw[:2] in (">[", "<[") and raw.endswith("]"):
        return _ordered(raw[0], raw[2:-1])
    if raw.startswith("![") and raw.endswith("]"):
        excluded = [_equals(v) for v in raw[2:-1].split("|")]
        return lambda v: not any(p(v) for p in excluded)
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1]
        if "|" in inner:
            options = [_equals(v) for v in inner.split("|")]
            return lambda v: any(p(v) for p in options)
        if "," in inner and all(_BETWEEN_RE.match(part) for part in inner.split(",", 1)):
            low, high = sorted((part for part in inner.split(",", 1)), key=_compare_key)
            low_key, high_key = _compare_key(low), _compare_key(high)
            return lambda v: _compare_key(v)[0] == low_key[0] and low_key <= _compare_key(v) <= high_key
        return _equals(inner)
    return _equals(raw)


def filterable_fields(resource: Resource, date: bool) -> list[str]:
    return [f.name for f in resource.fields if not f.not_filterable and (date or not f.is_date)]


def build_filters(resource: Resource, args: dict[str, str], date: bool) -> list[tuple[str, Predicate]]:
    """Every ``filter[x]`` parameter, validated (400 code 32 for an unknown or date field without date=1)."""
    allowed = filterable_fields(resource, date)
    filters: list[tuple[str, Predicate]] = []
    for key, raw in args.items():
        if not (key.startswith("filter[") and key.endswith("]")):
            continue
        name = key[7:-1]
        spec = resource.by_name.get(name)
        if spec is not None and spec.not_filterable:
            raise WsError(400, 34, f'The field "{name}" is dynamic. It is not possible to filter GET query '
                                   "with this field.")
        if name not in allowed:
            raise WsError(400, 32, f'This filter does not exist.{_did_you_mean(name, allowed)}')
        filters.append((name, parse_filter(raw)))
    return filters


def matches(record: dict[str, Any], filters: list[tuple[str, Predicate]]) -> bool:
    return all(any(pred(v) for v in _values(record.get(name))) for name, pred in filters)


def parse_display(resource: Resource, raw: str | None, *, single: bool) -> str | list[Any]:
    """``full``, ``minimum`` (the list default) or a list of fields and ``assoc[sub,…]`` entries."""
    if raw is None:
        return "full" if single else "minimum"
    if raw == "full":
        return "full"
    if not (raw.startswith("[") and raw.endswith("]")):
        raise WsError(400, 36, 'The "display" value has to be formed as this example: "[field_1,field_2]" '
                               'or "full"')
    items: list[Any] = []
    depth, token = 0, ""
    for char in raw[1:-1] + ",":
        if char == "," and depth == 0:
            if token.strip():
                items.append(token.strip())
            token = ""
            continue
        depth += char == "["
        depth -= char == "]"
        token += char
    parsed: list[Any] = []
    available = resource.field_names + [a.name for a in resource.associations]
    for item in items:
        if "[" in item and item.endswith("]"):
            name, subs = item[:-1].split("[", 1)
            assoc = resource.association(name)
            if assoc is None:
                raise WsError(400, 35, f'Unable to display this field "{name}". However, these are available: '
                                       f"{', '.join(available)}")
            sub_fields = [s.strip() for s in subs.split(",") if s.strip()]
            for sub in sub_fields:
                if sub not in assoc.fields:
                    raise WsError(400, 35, f'Unable to display this field "{name}[{sub}]". However, these are '
                                           f"available: {', '.join(assoc.fields)}")
            parsed.append((name, sub_fields))
        elif item in available:
            parsed.append(item)
        else:
            raise WsError(400, 35, f'Unable to display this field "{item}". However, these are available: '
                                   f"{', '.join(available)}")
    return parsed


def parse_sort(resource: Resource, raw: str | None, date: bool) -> list[tuple[str, bool]]:
    """``[f_ASC,g_DESC]`` or ``f_ASC`` as (field, descending) pairs; the field is split at the last ``_``."""
    if not raw:
        return []
    allowed = filterable_fields(resource, date)
    body = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
    order: list[tuple[str, bool]] = []
    for part in (p.strip() for p in body.split(",")):
        if "_" not in part:
            raise WsError(400, 37, 'The "sort" value has to be formed as this example: "field_ASC" or '
                                   '"[field_1_DESC,field_2_ASC,field_3_ASC,...]" ("field" has to be an '
                                   "available field)")
        name, direction = part.rsplit("_", 1)
        if direction.upper() not in ("ASC", "DESC"):
            raise WsError(400, 37, 'The "sort" value has to be formed as this example: "field_ASC" or '
                                   '"[field_1_DESC,field_2_ASC,field_3_ASC,...]" ("field" has to be an '
                                   "available field)")
        if name not in allowed:
            raise WsError(400, 38, f'Unable to filter by this field "{name}". However, these are available: '
                                   f"{', '.join(allowed)}")
        order.append((name, direction.upper() == "DESC"))
    return order


def sort_records(records: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    for name, descending in reversed(order):  # stable sorts, least significant key first
        records.sort(key=lambda r, n=name: _compare_key(_values(r.get(n))[0]), reverse=descending)  # type: ignore[misc]
    return records


def parse_limit(raw: str | None) -> tuple[int, int | None]:
    """``N`` or ``offset,N`` → (offset, count); anything else is 400 code 39."""
    if raw is None or raw == "":
        return 0, None
    parts = raw.split(",")
    if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
        raise WsError(400, 39, 'The "limit" value has to be formed as this example: "5,25" or "10"')
    if len(parts) == 1:
        return 0, int(parts[0])
    return int(parts[0]), int(parts[1])
