"""orjson on the hot JSON paths (the store's columns, M3's answers): the same meaning as json, or json itself."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from collections import OrderedDict, namedtuple
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.connectors.infor.m3 import _json_body
from integration.jsonutil import fast_dumps_text, json_default, loads
from integration.store import db

zones = st.sampled_from([None, UTC, timezone(timedelta(hours=2)),
                         timezone(timedelta(hours=-5, minutes=-30))])
leaves = (st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**64 - 1)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text()
          | st.decimals(allow_nan=False, allow_infinity=False) | st.dates()
          | st.datetimes(timezones=zones))
keys = st.text(max_size=8) | st.integers(min_value=-2**63, max_value=2**64 - 1)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=40)


def _old(value: Any) -> str:
    return json.dumps(value, default=json_default)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, NaN included, 1 and 1.0 told apart."""
    return json.dumps(a) == json.dumps(b)


@settings(max_examples=400, deadline=None)
@given(values)
def test_fast_dumps_means_what_json_dumps_wrote(value):
    assert _same(json.loads(fast_dumps_text(value)), json.loads(_old(value)))


def test_a_plain_payload_is_written_by_orjson():
    text = fast_dumps_text({"total": Decimal("12.50"), "at": datetime(2024, 5, 1, 12, tzinfo=UTC),
                            "day": date(2024, 5, 1), "name": "Café", "lines": [1, 2.5, None, True]})
    assert text == ('{"total":"12.50","at":"2024-05-01T12:00:00+00:00","day":"2024-05-01","name":"Café",'
                    '"lines":[1,2.5,null,true]}')


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Plain(enum.Enum):
    A = "a"


class Coded(str, enum.Enum):  # noqa: UP042 - on purpose: its value is not its text
    """json writes its text ("alpha"), not its value (1)."""

    def __new__(cls, code: int, label: str) -> Coded:
        member = str.__new__(cls, label)
        member._value_ = code
        return member

    ALPHA = (1, "alpha")


@dataclasses.dataclass
class Line:
    sku: str
    price: Decimal


Pair = namedtuple("Pair", "a b")


def _ordered() -> OrderedDict[str, int]:
    value = OrderedDict(a=1, b=2)
    value.move_to_end("a")
    return value


@pytest.mark.parametrize("value", [
    {"c": Colour.RED, "l": Level.HIGH, "b": True, "t": (1, "x")}, [[[[[[]]]]]], {"": {"": [{}]}}, "\x7f\u2028",
])
def test_subclasses_json_writes_as_their_value_stay_on_the_fast_path(value):
    text = fast_dumps_text(value)
    assert json.loads(text) == json.loads(_old(value))
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # orjson's compact text


def test_int_keys_are_written_by_orjson_as_json_writes_them():
    """The shop's multi-language names come keyed by language id: {1: "Euro"}."""
    value = {"names": {1: "Euro", -2: "x", 2**64 - 1: "big"}, "1": [{3: None}]}
    assert fast_dumps_text(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    both = {1: "int", "1": "str"}  # both write the key twice, and the last one is what reads back
    assert json.loads(fast_dumps_text(both)) == json.loads(_old(both)) == {"1": "str"}


@pytest.mark.parametrize("value", [
    float("nan"), float("-inf"), [1.0, float("inf")], {"a": {"b": [float("nan")]}}, {1: "int key", None: 2},
    {None: 1, True: 2, 1.5: 3}, {True: 1}, {1: {2.5: "float key under an int key"}}, {2**64: "over 64 bits"},
    {1: float("nan")}, 2**64, -2**63 - 1, [10**30], "lone \ud800 surrogate", Coded.ALPHA, _ordered(),
    Pair(1, 2), {3, 4}, Line("A1", Decimal("1.10")),
])
def test_json_itself_writes_what_orjson_would_not_write_the_same(value):
    assert fast_dumps_text(value) == _old(value)


@pytest.mark.parametrize("value", [uuid.UUID(int=1), Plain.A, {"u": uuid.UUID(int=1)}, [Plain.A], object(),
                                   {"t": datetime(2024, 1, 1).time()}])
def test_what_json_refuses_is_still_refused(value):
    with pytest.raises(TypeError):
        _old(value)
    with pytest.raises(TypeError):
        fast_dumps_text(value)


def test_a_cycle_fails_as_json_fails():
    value: list[Any] = []
    value.append(value)
    with pytest.raises(ValueError, match="Circular reference"):
        fast_dumps_text(value)


def test_the_store_serialiser_keeps_its_fallback_and_bound(monkeypatch):
    assert json.loads(db._bounded_json({(1, 2): Decimal("1")})) == {"(1, 2)": "1"}  # to_jsonable names the key
    assert db._bounded_json({"a": float("nan")}) == '{"a": NaN}'
    assert db._bounded_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    monkeypatch.setattr(db, "MAX_JSON_BYTES", 60)
    monkeypatch.setattr(db, "_FAST_TEXT_SURE", 5)
    # 22 characters for orjson, 68 for json (its escapes and spaces): the bound is on json's text, as before
    with pytest.raises(db.SnapshotTooLarge):
        db._bounded_json({"a": "ééééééééé" + "x" * 5})
    assert json.loads(db._bounded_json({"a": "é" * 8})) == {"a": "é" * 8}  # 57 characters for json


def test_the_engines_read_json_with_loads(tmp_path):
    engine = db.get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert engine.dialect._json_deserializer is loads  # type: ignore[attr-defined]
    finally:
        db.dispose_all()


# --- loads ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans(), st.booleans())
def test_loads_reads_what_json_loads_reads(value, ascii_only, as_bytes):
    text = json.dumps(value, ensure_ascii=ascii_only)  # NaN, Infinity, integers of any size, lone surrogates
    data: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _same(loads(data), json.loads(data))


@pytest.mark.parametrize("data", [
    "NaN", "[Infinity, -Infinity]", "1e400", "18446744073709551616", "-9223372036854775809",
    "-9999999999999999999", "[123456789012345678901234567890]", '{"a": 1, "a": 2}', '"\\ud800"', "-0", "-0.0",
    "5e-324", b"\xef\xbb\xbf{\"a\": 1}", '"\ud800 raw"', '{"id": "12345678901234567890"}',
    '{"a": [1, 2.5, "x"]}', "[" * 500 + "]" * 500,
])
def test_loads_edges(data):
    assert _same(loads(data), json.loads(data))
    assert math.isnan(loads("NaN"))


@pytest.mark.parametrize("data", ["", "{", "[1,]", "NaN1", "\ufeff{}", b"\xff", b'"\xed\xa0\x80', "01"])
def test_bad_json_raises_jsons_error(data):
    with pytest.raises(ValueError) as expected:
        json.loads(data)
    with pytest.raises(ValueError) as got:
        loads(data)
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)


def _response(content: bytes, content_type: str | None = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = content
    if content_type:
        response.headers["Content-Type"] = content_type
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    return response


@pytest.mark.parametrize(("content", "content_type"), [
    ('{"results": [{"records": [{"CUNO": "Ünïcode", "AMT": 1.5, "N": 12}]}]}'.encode(), "application/json"),
    ('{"a": "é"}'.encode(), "application/json; charset=UTF-8"),
    ('{"a": "é"}'.encode(), None),  # no charset: requests guesses UTF-8
    ('{"a": "é"}'.encode("latin-1"), "application/json; charset=ISO-8859-1"),
    ('{"a": "é"}'.encode(), "application/json; charset=ISO-8859-1"),  # requests reads it as Latin-1, still
    ('{"a": "é"}'.encode("utf-16"), None),
    (b'{"big": 123456789012345678901234567890, "nan": NaN}', "application/json"),
])
def test_m3_bodies_read_as_response_json(content, content_type):
    assert _same(_json_body(_response(content, content_type)), _response(content, content_type).json())


@pytest.mark.parametrize("content", [b"", b"<html>gateway error</html>", b'{"a": 1', b"\xef\xbb\xbf{}"])
def test_m3_bodies_without_json_raise_what_response_json_raises(content):
    with pytest.raises(requests.exceptions.JSONDecodeError):
        _json_body(_response(content))
