"""JSON for payload snapshots and Celery messages: Decimal stays exact (as a string), datetimes keep their zone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson


def to_jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):  # the common case first (bool is an int)
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    return value


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)``: what ``to_jsonable`` makes of the values json cannot write itself."""
    kind = type(value)
    if kind is Decimal:  # the common cases first, as to_jsonable writes them
        return str(value)
    if kind is datetime or kind is date:
        return value.isoformat()
    converted = to_jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return converted


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, **kwargs)


# --- The hot paths (the store's JSON columns, M3's answers): orjson where it gives exactly what json gives. ---

# Dates and dataclasses go to ``default`` (json's way: isoformat, to_jsonable), not orjson's own writing of them.
# No OPT_PASSTHROUGH_SUBCLASS: without it orjson writes a str or int subclass (StrEnum, IntEnum) as json does; with
# it they would go to ``default``, which refuses them.
_FAST_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# What orjson and json write alike (after ``json_default`` for Decimal and dates); anything else in a value sends it
# to json (``_same_with_orjson``). A float only if finite (orjson writes NaN and Infinity as null); no Enum that is
# not a str or int, no UUID (orjson writes them, json refuses them); no subclass of dict (orjson ignores an
# OrderedDict's order), list, tuple (a namedtuple) or float; no dataclass.
_LEAVES = frozenset({str, int, bool, type(None), Decimal, datetime, date})
# orjson reads an integer outside [-2**63, 2**64) as a float: any run of 19 digits is json's to read. Found by
# mapping every digit to "0" and anything else to " " (a regular expression takes ten times as long).
_DIGITS_AS_ZEROS = bytes(ord("0") if ord("0") <= i <= ord("9") else ord(" ") for i in range(256))
_LONG_NUMBER = b"0" * 19


def _same_with_orjson(value: Any, *, int_keys: bool = False) -> bool:
    """True if orjson writes ``value`` with the meaning json gives it. ``value`` is acyclic (orjson wrote it).
    ``int_keys``: orjson wrote keys that are not str (``OPT_NON_STR_KEYS``); only str and int keys then mean
    the same (json writes an int key as its digits, as orjson does)."""
    stack, leaves = [value], _LEAVES
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind in leaves:
            continue
        if kind is dict:
            if int_keys and not all(type(key) is str or type(key) is int for key in item):
                return False  # None, a bool, a float or any other key: json decides how it is written
            extend(item.values())  # keys otherwise: orjson refuses any but str, and json then decides
        elif kind is list or kind is tuple:
            extend(item)
        elif kind is float:
            if item - item != 0.0:  # NaN or ±Infinity (NaN - NaN and inf - inf are NaN)
                return False
        elif not isinstance(item, str | int):  # a plain Enum, a UUID, a dataclass, a subclass of dict or float...
            return False
        elif isinstance(item, Enum) and not (type(item.value) in (str, int) and item.value == item):
            return False  # json writes a str or int Enum's own text or number: to be sure, only when it is the value
    return True


def fast_dumps_text(value: Any, default: Callable[[Any], Any] | None = json_default) -> str:
    """``json.dumps(value, default=default)`` in meaning (equal once read back), written by orjson when that is
    certain: compact, non-ASCII characters as themselves. Anything orjson refuses (a key neither str nor int,
    an integer over 64 bits, a lone surrogate, a cycle, a type ``default`` refuses) or writes otherwise (NaN,
    Infinity, an Enum, a UUID, a subclass of dict, list or float, a key None, a bool or a float...) is written by
    ``json.dumps`` itself, so it fails the same way too."""
    try:
        raw, int_keys = orjson.dumps(value, default=default, option=_FAST_DUMPS_OPTIONS), False
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        # Most often an int key (the shop's multi-language names are keyed by language id): json writes it as
        # its digits, and so does orjson when asked to write keys that are not str.
        try:
            raw, int_keys = orjson.dumps(value, default=default,
                                         option=_FAST_DUMPS_OPTIONS | orjson.OPT_NON_STR_KEYS), True
        except TypeError:
            return json.dumps(value, default=default)
    if _same_with_orjson(value, int_keys=int_keys):
        return raw.decode()
    return json.dumps(value, default=default)


def loads(data: str | bytes, fallback: Callable[[], Any] | None = None) -> Any:
    """``json.loads(data)``, read by orjson when it reads the same. What orjson refuses (NaN, Infinity, a number
    beyond a double, a UTF-8 BOM, a lone surrogate, invalid UTF-8, too deep a nesting, bad JSON) and any run of
    19 digits (an integer orjson would turn into a float) go to ``fallback()`` if given, else ``json.loads`` — so
    bad JSON raises json's own error, a ValueError."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data  # orjson reads bytes alike
    if _LONG_NUMBER not in raw.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return fallback() if fallback is not None else json.loads(data)
