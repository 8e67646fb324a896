"""The PrestaShop parser's fast paths give what the general ones give (every field of every record takes them)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from integration.connectors.prestashop import parsing

PARIS = ZoneInfo("Europe/Paris")
_digits = st.text("0123456789", min_size=1, max_size=4)


@given(st.text(st.sampled_from(" \t\r\n\u00a0\u2003xy<>"), max_size=12))
def test_clean_text_equals_the_pattern(text):
    assert parsing.clean_text(text) == parsing._PRETTY_WS_RE.sub("", text)


@given(st.from_regex(r"\A[a-z_]{1,10}\Z"), st.one_of(st.none(), st.sampled_from(["http://www.w3.org/1999/xlink",
                                                                                "urn:x"])))
def test_local_name_equals_lxml_qname(local, namespace):
    tag = f"{{{namespace}}}{local}" if namespace else local
    assert parsing._local(tag) == etree.QName(tag).localname == local
    assert parsing._local(etree.Comment("x").tag) == ""


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_parse_datetime_reads_shop_times_as_strptime_does(moment):
    text = moment.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")
    expected = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS)
    assert parsing.parse_datetime(text, PARIS) == expected


@given(_digits, _digits, _digits, _digits, _digits, _digits)
def test_parse_datetime_refuses_what_strptime_refuses(y, mo, d, h, mi, s):
    text = f"{y}-{mo}-{d} {h}:{mi}:{s}"
    try:
        expected = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS)
    except ValueError:
        expected = None
    try:
        got = parsing.parse_datetime(text, PARIS)
    except ValueError:
        got = None
    if text != parsing.ZERO_DATETIME:
        assert got == expected


def test_values_of_other_lengths_are_never_dates():
    assert parsing.convert_value("date_add", "2024-01-05 10:00:0", PARIS) == "2024-01-05 10:00:0"
    assert parsing.convert_value("note", "2024-01-05x", PARIS) == "2024-01-05x"
    assert parsing.convert_value("note", "2024-01-05", PARIS).isoformat() == "2024-01-05"
    assert parsing.convert_value("date_add", "2024-02-30 10:00:00", PARIS) == "2024-02-30 10:00:00"
