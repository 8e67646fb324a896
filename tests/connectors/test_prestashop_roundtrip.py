"""Typed values survive build_xml → parse_xml: what the client writes is what it reads back."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from integration.connectors.prestashop.parsing import build_xml, parse_xml

PARIS = ZoneInfo("Europe/Paris")

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda s: s == s.strip() and "\n" not in s)
money = st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=6, allow_nan=False)
moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=PARIS))


@given(id_customer=st.integers(min_value=1, max_value=10**9), total_paid=money, valid=st.booleans(),
       note=text, date_upd=moment, name=st.dictionaries(st.integers(1, 5), text, min_size=1, max_size=3),
       rows=st.lists(st.fixed_dictionaries({"id": st.integers(1, 10**6), "unit_price_tax_incl": money}),
                     max_size=3))
def test_roundtrip(id_customer, total_paid, valid, note, date_upd, name, rows) -> None:
    fields = {"id": 7, "id_customer": id_customer, "total_paid": total_paid, "valid": valid, "note": note,
              "date_upd": date_upd, "name": name, "invoice_date": None, "associations": {"order_rows": rows}}
    body = build_xml("orders", fields)
    resource, record = parse_xml(body)
    assert resource == "orders"
    assert record["id_customer"] == id_customer and record["total_paid"] == total_paid
    assert record["valid"] is valid and record["note"] == note and record["name"] == name
    assert record["date_upd"] == date_upd and record["invoice_date"] is None
    assert record["associations"]["order_rows"] == rows


def test_aware_datetimes_are_written_in_shop_time() -> None:
    utc_moment = datetime(2024, 7, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    body = build_xml("orders", {"date_upd": utc_moment})
    assert b"2024-07-01 12:00:00" in body
    assert parse_xml(body)[1]["date_upd"] - utc_moment == timedelta(0)
