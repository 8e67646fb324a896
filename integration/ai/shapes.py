"""Value shapes: what kind of value a field holds, and whether it fits what the other side expects.

A source kind comes from a sample value when there is one (a date, an e-mail address, an ISO country or
currency code, an amount, a phone number...) and otherwise from the field's name as PrestaShop's
webservice types it (``date_*`` dates, ``total_*`` amounts, ``is_*`` flags). A target kind comes from M3's
description, swagger type and length ("Order date" → date, "Charge amount" → amount, "Country(3)" →
country). ``compatibility`` scores a pair in [0, 1]; ``length_fit`` says whether the value fits the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from .lexicon import concepts

KINDS = ("empty", "bool", "id", "integer", "amount", "date", "datetime", "email", "phone", "country",
         "currency", "state", "postcode", "code", "reference", "text", "language")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")
_M3_DATE = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{6,24}$")
_INT = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_CODE = re.compile(r"^[A-Z0-9]{1,4}$")
# letters with digits, dashes or underscores and no spaces (an SKU), or 9 capitals (a PrestaShop order reference)
_REFERENCE = re.compile(r"^(?=.*[A-Za-z])(?=.*[\d_\-])[A-Za-z0-9_\-./]{2,64}$|^[A-Z]{9}$")


@cache
def _is_country(code: str) -> bool:
    import pycountry

    if len(code) == 2:
        return pycountry.countries.get(alpha_2=code) is not None
    return len(code) == 3 and pycountry.countries.get(alpha_3=code) is not None


@cache
def _is_currency(code: str) -> bool:
    import pycountry

    return len(code) == 3 and pycountry.currencies.get(alpha_3=code) is not None


def value_kind(value: Any, name: str = "") -> str:
    """The kind of one sample value; ``name`` (the field's name) settles ids versus plain numbers."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, Mapping):  # a language field: {id_lang: text}
        texts = [v for v in value.values() if v]
        return value_kind(texts[0], name) if texts else "empty"
    if isinstance(value, Decimal | float):
        return "amount"
    if isinstance(value, int):
        return "id" if _is_id_name(name) else "integer"
    text = str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return "empty"
    if _EMAIL.match(text):
        return "email"
    if _DATETIME.match(text):
        return "datetime"
    if _DATE.match(text) or _M3_DATE.match(text):
        return "date"
    if _INT.match(text):
        if _is_id_name(name):
            return "id"
        if len(text) >= 8 and text.startswith("0"):
            return "phone"
        return "integer"
    if _DECIMAL.match(text):
        return "amount"
    if text.isupper() and text.isalpha() and _is_currency(text) and "country" not in name:
        return "currency"
    if text.isupper() and text.isalpha() and _is_country(text):
        return "country"
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= 6:
        return "phone"
    if _CODE.match(text):
        return "code"
    if _REFERENCE.match(text):
        return "reference"  # an SKU or order reference: letters with digits or dashes, no spaces
    return "text"


def _is_id_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last == "id" or last.startswith("id_") or last.endswith("_id")


_BOOL_NAMES = frozenset({"active", "deleted", "valid", "gift", "recyclable", "newsletter", "optin", "is_guest",
                         "mobile_theme", "show_public_prices", "blank", "decimals", "contains_states",
                         "need_identification_number", "need_zip_code", "display_tax_label", "is_free",
                         "is_module", "shipping_handling", "shipping_external", "need_range", "range_behavior",
                         "available_for_order", "online_only", "on_sale", "show_price", "indexed", "customizable",
                         "is_virtual", "unofficial", "modified", "new", "advanced_stock_management"})


def name_kind(part: str, field: str) -> str:
    """The kind PrestaShop's webservice gives a field, from its resource and name alone (no sample)."""
    if field in _BOOL_NAMES or field.startswith("is_"):
        return "bool"
    if _is_id_name(field):
        return "id"
    if field.startswith("date_") or field.endswith("_date") or field in ("birthday", "available_date"):
        return "datetime"
    if field == "email":
        return "email"
    if field.startswith("phone"):
        return "phone"
    if field == "postcode":
        return "postcode"
    if field.endswith("reference"):
        return "reference"
    if field in ("iso_code", "numeric_iso_code", "iso_code_num"):
        if part.startswith("country"):
            return "country"
        if part.startswith("state"):
            return "state"
        return "currency" if field == "iso_code" else "integer"
    if any(k in field for k in ("total", "price", "amount", "rate", "ecotax", "weight", "width", "height",
                                "depth", "cost")):
        return "amount"
    if "quantity" in field or field in ("precision", "position", "grade", "call_prefix"):
        return "integer"
    if field in ("module", "round_mode", "round_type", "format", "condition", "visibility", "type"):
        return "code"
    return "text"


def sample_kind(values: Iterable[Any], name: str) -> tuple[str, int]:
    """The dominant non-empty kind of some sample values and their longest text length."""
    counts: dict[str, int] = {}
    longest = 0
    for value in values:
        kind = value_kind(value, name)
        counts[kind] = counts.get(kind, 0) + 1
        if kind != "empty":
            longest = max(longest, len(_text(value)))
    real = {k: n for k, n in counts.items() if k != "empty"}
    if not real:
        return "empty", 0
    return max(sorted(real), key=lambda k: real[k]), longest


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = next((v for v in value.values() if v), "")
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f").rstrip("0")
    return str(value).strip()


def target_kind(description: str, swagger_type: str, length: int | None, code: str = "") -> str:
    """What an M3 field expects, from its description, swagger type and length."""
    words = concepts(description)
    if "DATE" in words and "TIME" not in words and (length is None or length >= 8):
        return "date"
    if "EMAIL" in words:
        return "email"
    if "PHONE" in words or "FAX" in words:
        return "phone"
    if "CURRENCY" in words and (length or 3) <= 3:
        return "currency"
    if "COUNTRY" in words and (length or 3) <= 3:
        return "country"
    if "STATE" in words and (length or 2) <= 3:
        return "state"
    if "POSTCODE" in words:
        return "postcode"
    if "UNIT" in words and "PRICE" not in words:
        return "code"  # a unit of measure
    if words & {"METHOD", "TYPE"}:
        return "code"  # a mode, a method, a type
    if "QUANTITY" in words:
        return "quantity"
    if words & {"PRICE", "AMOUNT", "WEIGHT"} or ("DISCOUNT" in words and "PERCENT" not in words
                                                  and "percent" not in description.lower()):
        return "amount"
    if "LANGUAGE" in words:
        return "language"
    if swagger_type == "number":
        return "integer"
    if "NUMBER" in words or "ID" in code[-2:]:
        return "identifier"
    if length is not None and length <= 3:
        return "code"
    if "NAME" in words or "DESCRIPTION" in words or "ADDRESS" in words or "CITY" in words:
        return "text"
    return "text"


# target kind -> source kind -> compatibility
_C: dict[str, dict[str, float]] = {
    "date": {"datetime": 1.0, "date": 1.0},
    "email": {"email": 1.0, "text": 0.2},
    "phone": {"phone": 1.0, "integer": 0.5, "text": 0.2},
    "currency": {"currency": 1.0, "code": 0.4, "id": 0.3, "text": 0.1},
    "country": {"country": 1.0, "code": 0.4, "id": 0.3, "text": 0.1},
    "state": {"state": 1.0, "code": 0.7, "country": 0.2, "id": 0.3, "text": 0.1},
    "postcode": {"postcode": 1.0, "integer": 0.8, "code": 0.6, "text": 0.5},
    "quantity": {"integer": 1.0, "amount": 0.6},
    "amount": {"amount": 1.0, "integer": 0.5},
    "language": {"id": 0.6, "code": 0.8, "language": 1.0, "text": 0.2},
    "integer": {"integer": 1.0, "id": 0.7, "amount": 0.4, "bool": 0.4},
    "identifier": {"reference": 1.0, "id": 0.8, "integer": 0.6, "code": 0.8, "text": 0.4, "email": 0.1,
                   "phone": 0.1, "postcode": 0.2},
    "code": {"code": 1.0, "reference": 0.5, "id": 0.6, "currency": 0.5, "country": 0.5, "state": 0.5, "integer": 0.4,
             "text": 0.4, "bool": 0.3},
    "bool": {"bool": 1.0, "code": 0.6, "integer": 0.5, "text": 0.1},
    "text": {"text": 1.0, "reference": 0.6, "code": 0.5, "postcode": 0.3, "id": 0.2, "integer": 0.2, "country": 0.3,
             "state": 0.3, "currency": 0.2, "email": 0.3, "phone": 0.3},
}


def compatibility(target: str, source: str) -> float:
    """How well a source kind suits a target kind; an empty sample value is neutral (0.5)."""
    if source == "empty":
        return 0.5
    if target == source:
        return 1.0
    return _C.get(target, {}).get(source, 0.0)


def length_fit(target_length: int | None, source_length: int, source_kind: str) -> float:
    """1 when the value fits; less when it must be cut (text) and little when it cannot be (identifiers)."""
    if target_length is None or source_length == 0 or source_length <= target_length:
        return 1.0
    if source_kind in ("text", "reference"):
        return 0.6
    if source_kind in ("datetime", "date", "amount", "integer"):
        return 1.0  # formatted on the way (YYYYMMDD, plain decimal)
    return 0.1


def parse_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
