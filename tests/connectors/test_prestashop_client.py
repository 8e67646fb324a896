"""PrestaShopClient at the HTTP boundary (recorded responses): auth, errors, paging, writes."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import yaml
from lxml import etree

from integration.connectors.prestashop.client import PrestaShopClient, forget_schemas, greater_than
from integration.connectors.prestashop.errors import (
    PrestaShopAuthError,
    PrestaShopBadRequest,
    PrestaShopNotFound,
    PrestaShopNotWebservice,
    PrestaShopPermanentError,
    PrestaShopServerError,
    PrestaShopUnreadableResponse,
)
from integration.errors import PermanentError, TransientError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prestashop"
BASE = "http://shop.test/api"
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
XML = "text/xml;charset=utf-8"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def envelope(inner: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'
            f"{inner}</prestashop>").encode()


@pytest.fixture(autouse=True)
def _fresh_schemas():
    """Schemas are cached per shop URL for the process: each recorded-response test starts clean."""
    forget_schemas()
    yield
    forget_schemas()


class _CassetteLoader(yaml.SafeLoader):
    """VCR cassettes from Python 2 tag strings as ``!!python/unicode``: read them as plain strings."""


_CassetteLoader.add_constructor("tag:yaml.org,2002:python/unicode", lambda loader, node: loader.construct_scalar(node))


def client(**kwargs) -> PrestaShopClient:
    kwargs.setdefault("max_retries", 0)
    return PrestaShopClient(BASE, KEY, **kwargs)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@responses.activate
def test_get_sends_the_key_as_basic_username_and_types_the_record() -> None:
    responses.get(f"{BASE}/orders/5", body=fixture("oca_ps1.6.1.23_order_5_get.xml"), content_type=XML,
                  headers={"PSWS-Version": "8.1.5"})
    ps = client()
    order = ps.get("orders", 5)
    assert order["total_paid"] == Decimal("71.510000")
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert ps.version == "8.1.5"
    assert KEY not in repr(ps)


@responses.activate
def test_ws_key_fallback_and_key_never_in_errors() -> None:
    responses.get(f"{BASE}/orders/7", status=500, body=b"<html><body>Fatal error</body></html>")
    ps = client(use_ws_key_param=True, id_shop=2)
    with pytest.raises(PrestaShopServerError) as caught:
        ps.get("orders", 7)
    call = responses.calls[0]
    assert query(call)["ws_key"] == [KEY] and query(call)["id_shop"] == ["2"]
    assert "Authorization" not in call.request.headers
    error = caught.value
    assert isinstance(error, TransientError) and error.status == 500
    assert KEY not in str(error) and KEY not in repr(error.to_dict())
    assert "Fatal error" in error.body


@responses.activate
def test_missing_object_404_with_empty_body_is_not_found() -> None:
    responses.get(f"{BASE}/orders/999999", status=404, body=b"")
    with pytest.raises(PrestaShopNotFound) as caught:
        client().get("orders", 999999)
    assert isinstance(caught.value, PermanentError) and "orders/999999" in caught.value.url


@responses.activate
def test_auth_failure_from_recorded_cassette() -> None:
    cassette = yaml.load(fixture("oca_ps1.6.1.6_auth_failure_401_cassette.yaml"), Loader=_CassetteLoader)
    recorded = cassette["interactions"][0]["response"]
    headers = {k: v[0] for k, v in recorded["headers"].items() if k in ("www-authenticate", "psws-version")}
    responses.get(f"{BASE}/customers/1", status=recorded["status"]["code"], body=recorded["body"]["string"],
                  headers=headers)
    with pytest.raises(PrestaShopAuthError) as caught:
        client().get("customers", 1)
    assert caught.value.status == 401 and "key" in str(caught.value)


@responses.activate
def test_error_body_codes_are_kept() -> None:
    body = envelope("<errors><error><code><![CDATA[32]]></code><message><![CDATA[This filter does not "
                    "exist. Did you mean: date_upd?]]></message></error></errors>")
    responses.get(f"{BASE}/orders", status=400, body=body, content_type=XML)
    with pytest.raises(PrestaShopBadRequest) as caught:
        list(client().list("orders", filters={"date_upd": ">[2024-01-01 00:00:00]"}, date=False))
    assert caught.value.code == 32 and "Did you mean" in str(caught.value)


NOTICE_HTML = (b"<br />\n<b>Notice</b>:  Undefined index: id_lang in /var/www/classes/Product.php on line 12"
               b"<br />\n")
NOTICE_TEXT = b"\nDeprecated: Creation of dynamic property Order::$x is deprecated in /var/www/Order.php on line 9\n"


@pytest.mark.parametrize("body", [
    NOTICE_HTML + envelope("<order><id>1</id></order>"),
    NOTICE_TEXT + NOTICE_TEXT + envelope("<order><id>1</id></order>"),
    envelope("<order><id>1</id></order>") + b"\nWarning: Cannot modify header information in x.php on line 3\n",
], ids=["html-notice-before", "text-notices-before", "warning-after"])
@responses.activate
def test_php_notices_around_the_xml_are_stripped_and_logged_once(body: bytes, caplog: pytest.LogCaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from integration.connectors.prestashop import parsing

    monkeypatch.setattr(parsing, "_notice_seen", __import__("threading").Event())
    responses.get(f"{BASE}/orders/1", body=body, content_type=XML)
    ps = client()
    with caplog.at_level("WARNING", logger="integration.connectors.prestashop.parsing"):
        assert ps.get("orders", 1)["id"] == 1
        assert ps.get("orders", 1)["id"] == 1
    logged = [r for r in caplog.records if "display_errors" in r.getMessage()]
    assert len(logged) == 1 and KEY not in logged[0].getMessage()
    assert len(responses.calls) == 2  # read at once, no retry


@responses.activate
def test_a_notice_before_an_error_body_still_gives_prestashop_s_error() -> None:
    body = NOTICE_HTML + envelope("<errors><error><code><![CDATA[85]]></code><message><![CDATA[Validation error: "
                                  "\"Property Order->x is not valid\"]]></message></error></errors>")
    responses.get(f"{BASE}/orders/1", body=body, status=400, content_type=XML)
    with pytest.raises(PrestaShopBadRequest) as caught:
        client().get("orders", 1)
    assert caught.value.code == 85


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        (b"Powered by a proxy banner\n" + envelope("<order><id>1</id></order>"), PrestaShopUnreadableResponse,
         "text before the XML"),
        (envelope("<order><id>1</id><reference>AB")[:90], PrestaShopUnreadableResponse, "not readable"),
        (b"<!DOCTYPE html><html><head><title>Page not found</title></head><body>404</body></html>",
         PrestaShopNotWebservice, "HTML"),
    ],
)
@responses.activate
def test_unreadable_bodies_name_the_url_and_show_the_start(body: bytes, error: type, says: str) -> None:
    responses.get(f"{BASE}/orders/1", body=body, content_type=XML)
    with pytest.raises(error) as caught:
        client().get("orders", 1)
    message = str(caught.value)
    assert says in message and f"{BASE}/orders/1" in message
    assert caught.value.body.startswith(body[:20].decode())


@responses.activate
def test_list_pages_lazily_under_a_stable_sort_with_date_flag() -> None:
    pages = [[1, 2], [3, 4], [5]]
    for ids in pages:
        inner = "".join(f"<order><id><![CDATA[{i}]]></id><date_upd><![CDATA[2024-05-01 10:00:0{i}]]></date_upd>"
                        f"</order>" for i in ids)
        responses.get(f"{BASE}/orders", body=envelope(f"<orders>{inner}</orders>"), content_type=XML)
    ps = client()
    iterator = ps.list("orders", display=["id", "date_upd"], sort="date_upd_ASC", page_size=2,
                       filters={"date_upd": greater_than(__import__("datetime").datetime(2024, 5, 1, 8, 0,
                                tzinfo=ps.tz))})
    first = next(iterator)
    assert first["id"] == 1 and len(responses.calls) == 1  # lazy: one page fetched so far
    rest = list(iterator)
    assert [r["id"] for r in rest] == [2, 3, 4, 5]
    assert [query(c)["limit"] for c in responses.calls] == [["0,2"], ["2,2"], ["4,2"]]
    params = query(responses.calls[0])
    assert params["sort"] == ["[date_upd_ASC,id_ASC]"] and params["date"] == ["1"]
    assert params["display"] == ["[id,date_upd]"]
    assert params["filter[date_upd]"] == [">[2024-05-01 08:00:00]"]


@responses.activate
def test_get_retries_idempotent_calls_but_post_is_never_replayed() -> None:
    responses.get(f"{BASE}/orders/5", status=503, body=b"")
    responses.get(f"{BASE}/orders/5", body=fixture("oca_ps1.6.1.23_order_5_get.xml"), content_type=XML)
    ps = PrestaShopClient(BASE, KEY, max_retries=2)
    assert ps.get("orders", 5)["id"] == 5
    responses.get(f"{BASE}/order_histories", body=envelope(
        "<order_history><id></id><id_employee></id_employee><id_order_state></id_order_state>"
        "<id_order></id_order><date_add></date_add></order_history>"), content_type=XML)
    responses.post(f"{BASE}/order_histories", status=503, body=b"")
    with pytest.raises(PrestaShopServerError):
        ps.create("order_histories", {"id_order": 5, "id_order_state": 4})
    assert sum(1 for c in responses.calls if c.request.method == "POST") == 1


BLANK_HISTORY = envelope("<order_history><id><![CDATA[]]></id><id_employee><![CDATA[]]></id_employee>"
                         "<id_order_state><![CDATA[]]></id_order_state><id_order><![CDATA[]]></id_order>"
                         "<date_add><![CDATA[]]></date_add></order_history>")


def _order_state(order_id: int, state: int) -> bytes:
    return envelope(f"<orders><order><id><![CDATA[{order_id}]]></id><current_state><![CDATA[{state}]]>"
                    "</current_state></order></orders>")


@responses.activate
def test_order_history_posts_from_the_blank_schema_with_sendemail() -> None:
    responses.get(f"{BASE}/orders", body=_order_state(5, 2), content_type=XML)
    responses.get(f"{BASE}/order_histories", body=BLANK_HISTORY, content_type=XML)
    responses.post(f"{BASE}/order_histories", status=201, body=envelope(
        "<order_history><id>9</id><id_employee>0</id_employee><id_order_state>4</id_order_state>"
        "<id_order>5</id_order><date_add>2024-05-01 10:00:00</date_add></order_history>"), content_type=XML)
    assert client().add_order_history(5, 4, send_email=True) is True
    post = next(c for c in responses.calls if c.request.method == "POST")
    assert query(post)["sendemail"] == ["1"]
    sent = etree.fromstring(post.request.body)
    history = sent.find("order_history")
    assert history.findtext("id_order") == "5" and history.findtext("id_order_state") == "4"
    assert history.find("id") is None  # POST: no id
    assert b"\n" not in post.request.body.split(b"?>", 1)[1]  # never pretty-printed


@responses.activate
def test_order_history_never_reposts_the_current_state() -> None:
    responses.get(f"{BASE}/orders", body=_order_state(5, 4), content_type=XML)
    assert client().add_order_history(5, 4) is False
    assert all(c.request.method == "GET" for c in responses.calls)
    assert query(responses.calls[0])["filter[id]"] == ["[5]"]


STOCK_ROWS = envelope(
    "<stock_availables>"
    "<stock_available><id>1</id><id_product>1</id_product><id_product_attribute>0</id_product_attribute>"
    "<quantity>40</quantity><depends_on_stock>0</depends_on_stock></stock_available>"
    "<stock_available><id>8</id><id_product>1</id_product><id_product_attribute>1</id_product_attribute>"
    "<quantity>25</quantity><depends_on_stock>0</depends_on_stock></stock_available>"
    "</stock_availables>")


@responses.activate
def test_stock_is_written_on_variant_rows_only_and_patch_falls_back_on_17() -> None:
    responses.get(f"{BASE}/stock_availables", body=STOCK_ROWS, content_type=XML)
    ps = client()
    with pytest.raises(PrestaShopPermanentError, match="sum of its variants"):
        ps.set_stock(1, 0, 10)
    # PATCH refused (1.7): GET + PUT of the whole object, read-only fields left out.
    responses.get(f"{BASE}/stock_availables", body=fixture("docs8x_stock_available_blank_schema.xml"),
                  content_type=XML, match=[responses.matchers.query_param_matcher({"schema": "blank"})])
    responses.get(f"{BASE}/stock_availables", status=404, body=b"",
                  match=[responses.matchers.query_param_matcher({"schema": "synopsis"})])
    responses.patch(f"{BASE}/stock_availables/8", status=405, content_type="application/json",
                    body=fixture("issue_n8n-nodes-prestashopadvanced-1_ps17_error_405.json"))
    current = fixture("oca_ps1.6.1.9_stock_available_1_get.xml").replace(b"[1]]></id>", b"[8]]></id>")
    responses.get(f"{BASE}/stock_availables/8", body=current, content_type=XML)
    responses.put(f"{BASE}/stock_availables/8", body=current.replace(b"1799", b"10"), content_type=XML)
    row = ps.set_stock(1, 1, 10)
    assert row["quantity"] == 10
    put = next(c for c in responses.calls if c.request.method == "PUT")
    stock = etree.fromstring(put.request.body).find("stock_available")
    assert stock.findtext("id") == "8" and stock.findtext("quantity") == "10"
    assert stock.findtext("id_product") == "1" and stock.findtext("out_of_stock") == "2"
    assert stock.findtext("depends_on_stock") == "0"
    # Later patches skip the refused PATCH.
    before = sum(1 for c in responses.calls if c.request.method == "PATCH")
    ps.patch("stock_availables", 8, {"quantity": 11})
    assert sum(1 for c in responses.calls if c.request.method == "PATCH") == before


@responses.activate
def test_tracking_number_patches_the_order_carrier_row() -> None:
    response = fixture("oca_ps1.6.1.6_order_carrier_put_response.xml")
    responses.get(f"{BASE}/order_carriers", body=envelope(
        "<order_carriers><order_carrier>" + response.decode().split("<order_carrier>", 1)[1].split("</prestashop>")[0]
        .replace("xyz", "") + "</order_carriers>"), content_type=XML,
        match=[responses.matchers.query_param_matcher({"filter[id_order]": "[2]"}, strict_match=False)])
    responses.get(f"{BASE}/order_carriers", content_type=XML, body=envelope(
        "<order_carrier><id/><id_order/><id_carrier/><id_order_invoice/><weight/><shipping_cost_tax_excl/>"
        "<shipping_cost_tax_incl/><tracking_number/><date_add/></order_carrier>"))
    responses.patch(f"{BASE}/order_carriers/2", body=response, content_type=XML)
    ps = client()
    assert ps.set_tracking_number(2, "xyz")["tracking_number"] == "xyz"
    patch = next(c for c in responses.calls if c.request.method == "PATCH")
    carrier = etree.fromstring(patch.request.body).find("order_carrier")
    assert [child.tag for child in carrier] == ["id", "tracking_number"]


@responses.activate
def test_order_states_come_from_configuration_keys() -> None:
    responses.get(f"{BASE}/configurations", content_type=XML, body=envelope(
        "<configurations>"
        "<configuration><id>1</id><name>PS_OS_PAYMENT</name><value>12</value><id_shop></id_shop>"
        "<id_shop_group></id_shop_group></configuration>"
        "<configuration><id>2</id><name>PS_OS_SHIPPING</name><value>4</value><id_shop></id_shop>"
        "<id_shop_group></id_shop_group></configuration>"
        "</configurations>"))
    responses.get(f"{BASE}/order_states", content_type=XML, body=envelope(
        "<order_states>"
        "<order_state><id>12</id><paid>1</paid><logable>1</logable><shipped>0</shipped>"
        "<name><language id=\"1\">Remote payment accepted</language></name></order_state>"
        "<order_state><id>4</id><paid>1</paid><shipped>1</shipped>"
        "<name><language id=\"1\">Shipped</language></name></order_state>"
        "</order_states>"))
    states = client().order_states()
    assert states.payment == 12 and states.shipping == 4 and states.is_shipped(4)
    assert states.name(12) == "Remote payment accepted" and states.key_for(4) == "PS_OS_SHIPPING"
    assert query(responses.calls[0])["filter[name]"] == ["[PS_OS_]%"]
