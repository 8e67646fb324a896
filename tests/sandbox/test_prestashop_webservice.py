"""The PrestaShop sandbox over real HTTP: authentication, envelopes, query parameters, errors, shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
from lxml import etree

from integration.connectors.prestashop.parsing import parse_xml
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.server import SandboxServer
from tests.sandbox.prestashop_helpers import FIXTURES, KEY, fixture_shape, shape

XLINK = "{http://www.w3.org/1999/xlink}href"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY, orders=3)
    yield server
    server.stop()


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = (KEY, "")
    yield session
    session.close()


def errors_of(response: requests.Response) -> list[tuple[int, str]]:
    root = etree.fromstring(response.content)
    return [(int(e.findtext("code")), e.findtext("message")) for e in root.iter("error")]


# -- authentication and permissions -------------------------------------------------------------------


def test_basic_auth_and_ws_key_both_work(sandbox: SandboxServer) -> None:
    by_header = requests.get(f"{sandbox.url}/api/orders/1", auth=(KEY, ""), timeout=5)
    by_param = requests.get(f"{sandbox.url}/api/orders/1", params={"ws_key": KEY}, timeout=5)
    assert by_header.status_code == by_param.status_code == 200
    assert by_header.headers["PSWS-Version"].startswith("8.")
    assert by_header.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert by_header.headers["X-Powered-By"] == "PrestaShop Webservice"


def test_missing_key_is_a_bare_401_with_the_realm(sandbox: SandboxServer) -> None:
    response = requests.get(f"{sandbox.url}/api/orders", timeout=5)
    assert response.status_code == 401 and response.text == "401 Unauthorized"
    assert "Welcome to PrestaShop Webservice" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("key", "code"), [("short", 18), ("A" * 32, 19)])
def test_bad_keys_get_401_with_codes(sandbox: SandboxServer, key: str, code: int) -> None:
    response = requests.get(f"{sandbox.url}/api/orders", auth=(key, ""), timeout=5)
    assert response.status_code == 401 and errors_of(response)[0][0] == code


def test_permissions_per_resource_and_method(sandbox: SandboxServer) -> None:
    limited = "L" * 32
    requests.post(f"{sandbox.url}/_sandbox/keys", json={"key": limited, "permissions": {"orders": ["GET"]}},
                  timeout=5).raise_for_status()
    assert requests.get(f"{sandbox.url}/api/orders/1", auth=(limited, ""), timeout=5).status_code == 200
    refused = requests.get(f"{sandbox.url}/api/customers/1", auth=(limited, ""), timeout=5)
    assert refused.status_code == 401 and errors_of(refused)[0][0] == 26
    method = requests.put(f"{sandbox.url}/api/orders/1", auth=(limited, ""), data=b"<prestashop/>", timeout=5)
    assert method.status_code == 405 and errors_of(method)[0][0] == 25
    requests.post(f"{sandbox.url}/_sandbox/keys", json={"key": limited, "active": False}, timeout=5)
    inactive = requests.get(f"{sandbox.url}/api/orders/1", auth=(limited, ""), timeout=5)
    assert inactive.status_code == 401 and errors_of(inactive)[0][0] == 20


def test_method_rules(http: requests.Session, sandbox: SandboxServer) -> None:
    post = http.post(f"{sandbox.url}/api/stock_availables", data=b"<prestashop><stock_available/></prestashop>")
    assert post.status_code == 405 and errors_of(post)[0][0] == 101
    unknown = http.get(f"{sandbox.url}/api/ordres")
    assert unknown.status_code == 400 and errors_of(unknown)[0][0] == 27 and '"orders"' in errors_of(unknown)[0][1]
    requests.post(f"{sandbox.url}/_sandbox/config", json={"version": "1.7.8.11"}, timeout=5)
    patch = http.patch(f"{sandbox.url}/api/orders/1", data=b"<prestashop><order><id>1</id></order></prestashop>",
                       headers={"Output-Format": "JSON"})
    assert patch.status_code == 405
    expected = json.loads((FIXTURES / "issue_n8n-nodes-prestashopadvanced-1_ps17_error_405.json").read_text())
    assert patch.json() == expected


def test_index_lists_resources_with_methods(http: requests.Session, sandbox: SandboxServer) -> None:
    root = etree.fromstring(http.get(f"{sandbox.url}/api/").content)
    api = root.find("api")
    stock = api.find("stock_availables")
    assert stock.get("get") == "true" and stock.get("post") == "false"


# -- shapes as the real fixtures ------------------------------------------------------------------------


def test_order_has_the_8x_blank_schema_fields_in_order(http: requests.Session, sandbox: SandboxServer) -> None:
    body = http.get(f"{sandbox.url}/api/orders/1").content
    assert shape(body) == fixture_shape("docs8x_order_blank_schema.xml")
    order = etree.fromstring(body).find("order")
    assert order.find("id_customer").get(XLINK) == f"{sandbox.url}/api/customers/{order.findtext('id_customer')}"
    assert order.find("shipping_number").get("notFilterable") == "true"
    rows = order.find("associations/order_rows")
    assert rows.get("nodeType") == "order_row" and rows.get("virtualEntity") == "true"
    blank_row = etree.fromstring((FIXTURES / "docs8x_order_blank_schema.xml").read_bytes()).find(
        "order/associations/order_rows/order_row")
    assert [c.tag for c in rows[0]] == [c.tag for c in blank_row]
    assert b"<![CDATA[" in body and b"<gift_message></gift_message>" in body


@pytest.mark.parametrize(("path", "fixture"), [
    ("addresses/1", "docs8x_address_1_get.xml"),
    ("countries/8", "oca_ps1.6.1.23_country_8_get.xml"),
    ("order_carriers/1", "oca_ps1.6.1.6_order_carrier_put_response.xml"),
    ("stock_availables/1", "docs8x_stock_available_blank_schema.xml"),
])
def test_objects_have_the_fixture_fields(http: requests.Session, sandbox: SandboxServer, path: str,
                                         fixture: str) -> None:
    assert shape(http.get(f"{sandbox.url}/api/{path}").content) == fixture_shape(fixture)


def test_customer_and_product_keep_the_real_fields(http: requests.Session, sandbox: SandboxServer) -> None:
    customer = shape(http.get(f"{sandbox.url}/api/customers/1").content)
    assert set(fixture_shape("oca_ps1.6.1.6_customer_1_get.xml")) <= set(customer)
    product_body = http.get(f"{sandbox.url}/api/products/1").content
    real = set(fixture_shape("oca_ps1.6.1.23_product_1_get.xml"))
    ours = set(shape(product_body))
    assert real - ours == {"id_product_redirected"}  # renamed id_type_redirected in 1.7
    placed = requests.post(f"{sandbox.url}/_sandbox/orders", json={"send_webhook": False}, timeout=5).json()
    detail_id = http.get(f"{sandbox.url}/api/order_details",
                         params={"filter[id_order]": f"[{placed['orders'][0]}]"}).content
    first_detail = etree.fromstring(detail_id).find("order_details")[0].get("id")
    detail = shape(http.get(f"{sandbox.url}/api/order_details/{first_detail}").content)
    assert set(fixture_shape("oca_ps1.6.1.23_order_detail_13_get.xml")) <= set(detail)
    product = etree.fromstring(product_body).find("product")
    name = product.find("name/language")
    assert name.get("id") == "1" and name.get(XLINK).endswith("/api/languages/1")
    combos = product.find("associations/combinations")
    assert combos.get("nodeType") == "combination" and combos.get("api") == "combinations"
    assert combos[0].get(XLINK).endswith("/api/combinations/1")
    assert product.find("associations/tags").get("nodeType") == "tag" and len(product.find("associations/tags")) == 0
    stock_rows = product.find("associations/stock_availables")
    assert [c.tag for c in stock_rows[0]] == ["id", "id_product_attribute"]


def test_lists_minimal_full_and_empty(http: requests.Session, sandbox: SandboxServer) -> None:
    minimal = etree.fromstring(http.get(f"{sandbox.url}/api/orders").content).find("orders")
    assert [o.get("id") for o in minimal] == ["1", "2", "3"]
    assert minimal[0].get(XLINK) == f"{sandbox.url}/api/orders/1" and len(minimal[0]) == 0
    empty = http.get(f"{sandbox.url}/api/order_payments", params={"filter[order_reference]": "[NOPE]"})
    assert shape(empty.content) == [] and parse_xml(empty.content)[1] == []
    assert parse_xml(empty.content)[0] == "order_payments"
    full = parse_xml(http.get(f"{sandbox.url}/api/stock_availables",
                              params={"filter[id_product]": "[1]", "display": "full"}).content)[1]
    assert {r["id_product_attribute"] for r in full} == {0, 1, 2, 3, 4}


def test_missing_object_is_404_with_empty_body(http: requests.Session, sandbox: SandboxServer) -> None:
    response = http.get(f"{sandbox.url}/api/orders/999999")
    assert response.status_code == 404 and response.content == b""


def test_schemas_blank_and_synopsis(http: requests.Session, sandbox: SandboxServer) -> None:
    blank = http.get(f"{sandbox.url}/api/stock_availables", params={"schema": "blank"}).content
    assert shape(blank) == fixture_shape("docs8x_stock_available_blank_schema.xml")
    synopsis = etree.fromstring(http.get(f"{sandbox.url}/api/addresses", params={"schema": "synopsis"}).content)
    expected = etree.fromstring((FIXTURES / "docs8x_address_synopsis_schema.xml").read_bytes())
    assert [(c.tag, dict(c.attrib)) for c in synopsis[0]] == [(c.tag, dict(c.attrib)) for c in expected[0]]
    bad = http.get(f"{sandbox.url}/api/addresses", params={"schema": "nope"})
    assert bad.status_code == 400 and errors_of(bad)[0][0] == 28


def test_error_envelope_matches_the_real_one(http: requests.Session, sandbox: SandboxServer) -> None:
    response = http.get(f"{sandbox.url}/api/orders", params={"display": "[id,nope]"})
    assert response.status_code == 400
    ours = etree.fromstring(response.content)
    real = etree.fromstring((FIXTURES / "issue_prestapyt-14_error_85_response.xml").read_bytes())
    assert [e.tag for e in ours.iter()] == [e.tag for e in real.iter()]
    assert errors_of(response)[0][0] == 35


# -- JSON output and its quirks -------------------------------------------------------------------------


def test_json_output_quirks(http: requests.Session, sandbox: SandboxServer) -> None:
    one = http.get(f"{sandbox.url}/api/countries/8", params={"output_format": "JSON"})
    assert one.headers["Content-Type"] == "application/json"
    country = one.json()["country"]
    assert country["id"] == 8 and country["iso_code"] == "FR" and country["active"] == "1"
    assert country["name"] == [{"id": "1", "value": "France"}, {"id": "2", "value": "France"}]
    single = http.get(f"{sandbox.url}/api/countries/8", params={"output_format": "JSON", "language": "1"}).json()
    assert single["country"]["name"] == "France"
    assert http.get(f"{sandbox.url}/api/order_payments", params={"output_format": "JSON",
                                                                 "filter[id]": "[999]"}).json() == []
    assert http.get(f"{sandbox.url}/api/orders", params={"output_format": "JSON"}).json() == {
        "orders": [{"id": 1}, {"id": 2}, {"id": 3}]}
    lower = http.get(f"{sandbox.url}/api/countries/8", params={"output_format": "json"})
    assert lower.headers["Content-Type"].startswith("text/xml")  # the value is case-sensitive
    order = http.get(f"{sandbox.url}/api/orders/1", headers={"Io-Format": "JSON"}).json()["order"]
    assert isinstance(order["associations"]["order_rows"], list) and order["total_paid"].endswith("0000")
    assert "https:\\/\\/www.laposte.fr" in http.get(f"{sandbox.url}/api/carriers/2",
                                                     params={"output_format": "JSON"}).text  # PHP escapes "/"


# -- query parameters -----------------------------------------------------------------------------------


def test_date_filter_needs_date_flag_and_sorts(http: requests.Session, sandbox: SandboxServer) -> None:
    without = http.get(f"{sandbox.url}/api/orders", params={"filter[date_upd]": ">[2000-01-01 00:00:00]"})
    assert without.status_code == 400 and errors_of(without)[0][0] == 32
    params = {"filter[date_upd]": "[2000-01-01 00:00:00,2100-01-01 00:00:00]", "date": "1",
              "display": "[id,date_upd]", "sort": "[date_upd_DESC,id_DESC]", "limit": "0,2"}
    rows = parse_xml(http.get(f"{sandbox.url}/api/orders", params=params).content)[1]
    assert [r["id"] for r in rows] == [3, 2]
    params["limit"] = "2,2"
    assert [r["id"] for r in parse_xml(http.get(f"{sandbox.url}/api/orders", params=params).content)[1]] == [1]
    bad_sort = http.get(f"{sandbox.url}/api/orders", params={"sort": "[date_upd_DESC]"})
    assert bad_sort.status_code == 400 and errors_of(bad_sort)[0][0] == 38


def test_filter_forms(http: requests.Session, sandbox: SandboxServer) -> None:
    def ids(**params: str) -> list[int]:
        body = http.get(f"{sandbox.url}/api/customers", params={"display": "[id]", **params}).content
        return [r["id"] for r in parse_xml(body)[1]]

    assert ids(**{"filter[id]": "[2|4]"}) == [2, 4]
    assert ids(**{"filter[id]": "[3,5]"}) == [3, 4, 5]
    assert ids(**{"filter[id]": ">[6]"}) == [7, 8, 9, 10, 11]
    assert ids(**{"filter[id]": "![1|2|3|4|5|6|9|10|11]"}) == [7, 8]
    assert ids(**{"filter[email]": "%[example.fr]"}) == [1, 7]
    assert ids(**{"filter[lastname]": "[mart]%"}) == [1]
    assert ids(**{"filter[firstname]": "Camille"}) == [1]
    limited = http.get(f"{sandbox.url}/api/customers", params={"limit": "1,2,3"})
    assert limited.status_code == 400 and errors_of(limited)[0][0] == 39
    computed = http.get(f"{sandbox.url}/api/products", params={"filter[quantity]": "[0]"})
    assert computed.status_code == 400 and errors_of(computed)[0][0] == 34


def test_display_with_association_subfields(http: requests.Session, sandbox: SandboxServer) -> None:
    body = http.get(f"{sandbox.url}/api/orders", params={"display": "[id,reference,order_rows[product_reference]]",
                                                         "filter[id]": "[1]"}).content
    order = parse_xml(body)[1][0]
    assert set(order) == {"id", "reference", "associations"}
    assert set(order["associations"]["order_rows"][0]) == {"product_reference"}


def test_many_threads_at_once(sandbox: SandboxServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fetch(i: int) -> int:
        with requests.Session() as session:
            return session.get(f"{sandbox.url}/api/customers/{1 + i % 8}", auth=(KEY, ""), timeout=10).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(fetch, range(200))) == {200}


def test_basic_header_decoding_accepts_the_php_cgi_form(sandbox: SandboxServer) -> None:
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    response = requests.get(f"{sandbox.url}/api/orders/1", headers={"Authorization": f"Basic {token}"}, timeout=5)
    assert response.status_code == 200
