"""Reading PrestaShop records in either of the forms they travel in.

The connector returns typed records (ids ``int``, amounts ``Decimal``, flags ``bool``, dates aware
``datetime``, language fields ``{id_lang: text}``); between Celery steps the same bundle travels as JSON
(``to_jsonable``: Decimals and datetimes as strings, language keys as strings). Raw webservice strings
("1", "71.510000", "2019-01-30 01:02:12") are accepted too, so a record read by any means maps the same way.

A value of the wrong type is not guessed at: it is collected as a failure naming the record, the field and
the value, and the caller raises them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.transform.address import clean_text


class RecordReader:
    """Typed access to one record; problems accumulate in ``failures`` (shared by all readers of a bundle)."""

    def __init__(self, record: Mapping[str, Any] | None, name: str, failures: list[dict[str, Any]],
                 tz: tzinfo, id_lang: int | None = None):
        self.record: Mapping[str, Any] = record or {}
        self.name = name
        self.failures = failures
        self.tz = tz
        self.id_lang = id_lang

    def _fail(self, field: str, message: str, value: Any) -> None:
        self.failures.append({"record": self.name, "field": field, "rule": "type",
                              "message": f"{self.name}: {field}: {message}, got {value!r}",
                              "value": value if isinstance(value, str | int | bool) or value is None else repr(value)})

    def raw(self, field: str) -> Any:
        return self.record.get(field)

    def text(self, field: str) -> str:
        value = self.record.get(field)
        if value is None:
            return ""
        if isinstance(value, Mapping):  # a language field
            if not value:
                return ""
            for key in (self.id_lang, str(self.id_lang)):
                if key in value:
                    return clean_text(value[key])
            return clean_text(next(iter(value.values())))
        if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
            return clean_text(value)
        self._fail(field, "expected text", value)
        return ""

    def integer(self, field: str, default: int | None = 0) -> int | None:
        value = self.record.get(field)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            self._fail(field, "expected a whole number", value)
            return default
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        self._fail(field, "expected a whole number", value)
        return default

    def decimal(self, field: str, default: Decimal | None = Decimal("0")) -> Decimal | None:
        value = self.record.get(field)
        if value is None or value == "":
            return default
        if isinstance(value, Decimal) and value.is_finite():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                result = None
            if result is not None and result.is_finite():
                return result
        self._fail(field, "expected a decimal number", value)
        return default

    def boolean(self, field: str, default: bool = False) -> bool:
        value = self.record.get(field)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
            return value.strip().lower() in ("1", "true")
        self._fail(field, "expected a flag (0/1)", value)
        return default

    def datetime(self, field: str) -> datetime | None:
        value = self.record.get(field)
        if value is None or value == "" or (isinstance(value, str) and value.startswith("0000-00-00")):
            return None
        parsed: datetime | None = None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                parsed = None
        if parsed is None:
            self._fail(field, "expected a date and time", value)
            return None
        if parsed.tzinfo is None:  # PrestaShop wall-clock time in the shop's zone
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed


def order_rows(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The order's rows: ``associations.order_rows`` as a list (also when a parser left one row as a dict)."""
    rows: Any = (order.get("associations") or {}).get("order_rows") or []
    if isinstance(rows, Mapping):
        rows = rows.get("order_row", list(rows.values()))
        if isinstance(rows, Mapping):
            rows = [rows]
    return [r for r in rows if isinstance(r, Mapping)]
