"""Every real payload in tests/fixtures/prestashop parses to the expected typed values."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from integration.connectors.prestashop.errors import PrestaShopPermanentError
from integration.connectors.prestashop.parsing import parse_json_errors, parse_xml, template_fields

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prestashop"
PARIS = ZoneInfo("Europe/Paris")


def load(name: str):
    return parse_xml((FIXTURES / name).read_bytes(), name)


def test_order_5_typed_values_and_rows() -> None:
    resource, order = load("oca_ps1.6.1.23_order_5_get.xml")
    assert resource == "orders"
    assert order["id"] == 5 and order["current_state"] == 10 and order["id_address_delivery"] == 4
    assert order["total_paid_tax_incl"] == Decimal("71.510000")
    assert order["carrier_tax_rate"] == Decimal("0.000")
    assert order["valid"] is False and order["gift"] is False
    assert order["invoice_date"] is None and order["delivery_date"] is None
    assert order["date_add"] == datetime(2019, 1, 30, 1, 2, 12, tzinfo=PARIS)
    assert order["date_add"].utcoffset().total_seconds() == 3600
    assert order["shipping_number"] == ""
    assert order["reference"] == "KHWLILZLL" and order["module"] == "bankwire"
    rows = order["associations"]["order_rows"]
    assert [r["id"] for r in rows] == [13, 14, 15]
    assert rows[1]["product_attribute_id"] == 7
    assert rows[1]["product_price"] == Decimal("26.999852")
    assert rows[1]["unit_price_tax_incl"] == Decimal("27.000000")
    assert rows[0]["product_reference"] == "demo_1" and rows[0]["product_quantity"] == 1


def test_order_detail_13() -> None:
    resource, detail = load("oca_ps1.6.1.23_order_detail_13_get.xml")
    assert resource == "order_details"
    assert detail["id_order"] == 5 and detail["product_attribute_id"] == 1
    assert detail["group_reduction"] == Decimal("0.00")
    assert detail["download_deadline"] is None
    assert detail["total_price_tax_incl"] == Decimal("16.510000")
    assert detail["associations"] == {"taxes": []}


def test_lists_minimal_and_empty() -> None:
    assert load("oca_ps1.6.1.23_orders_list_date_upd_filter.xml") == (
        "orders", [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}])
    assert load("oca_ps1.6.1.23_order_payments_empty_list.xml") == ("order_payments", [])


def test_product_language_fields_and_associations() -> None:
    resource, product = load("oca_ps1.6.1.23_product_1_get.xml")
    assert resource == "products"
    assert product["name"] == {1: "Faded Short Sleeves T-shirt"}
    assert product["meta_title"] == {1: ""}
    assert product["description"][1].startswith("<p>Fashion has been")
    assert product["price"] == Decimal("16.510000") and product["wholesale_price"] == Decimal("4.950000")
    assert product["additional_shipping_cost"] == Decimal("0.00")
    assert product["active"] is True and product["available_date"] is None
    assert product["ean13"] == "0" and product["reference"] == "demo_1" and product["type"] == "simple"
    assert product["quantity"] == 0 and product["id_default_combination"] == 1
    assoc = product["associations"]
    assert [c["id"] for c in assoc["combinations"]] == [1, 2, 3, 4, 5, 6]
    assert assoc["stock_availables"][1] == {"id": 8, "id_product_attribute": 1}
    assert assoc["tags"] == [] and assoc["accessories"] == []
    assert assoc["product_features"][0] == {"id": 5, "id_feature_value": 5}


def test_combination_customer_address_country_currency() -> None:
    _, combination = load("oca_ps1.6.1.23_combination_1_get.xml")
    assert combination["id_product"] == 1 and combination["default_on"] is True
    assert combination["price"] == Decimal("0.000000") and combination["available_date"] is None
    assert combination["reference"] == "" and combination["quantity"] == 100
    _, customer = load("oca_ps1.6.1.6_customer_1_get.xml")
    assert customer["email"] == "pub@prestashop.com" and customer["birthday"] == date(1970, 1, 15)
    assert customer["newsletter"] is True and customer["is_guest"] is False
    assert customer["outstanding_allow_amount"] == Decimal("0.000000")
    assert customer["associations"]["groups"] == [{"id": 3}]
    _, address = load("oca_ps1.6.1.6_address_1_get.xml")
    assert address["id_country"] == 8 and address["id_state"] == 0 and address["postcode"] == "75002"
    assert address["date_upd"] == datetime(2016, 9, 13, 13, 15, 50, tzinfo=PARIS)
    _, address8 = load("docs8x_address_1_get.xml")
    assert address8["city"] == "Paris " and address8["company"] == "My Company"
    _, country = load("oca_ps1.6.1.23_country_8_get.xml")
    assert country["iso_code"] == "FR" and country["name"] == {1: "France"}
    assert country["active"] is False and country["need_zip_code"] is True and country["call_prefix"] == 33
    _, currency = load("oca_ps1.6.1.23_currency_1_get.xml")
    assert currency["iso_code"] == "EUR" and currency["conversion_rate"] == Decimal("1.000000")
    assert currency["sign"] == "€"


def test_stock_and_order_carrier() -> None:
    _, stock = load("oca_ps1.6.1.9_stock_available_1_get.xml")
    assert stock == {"id": 1, "id_product": 1, "id_product_attribute": 0, "id_shop": 1, "id_shop_group": 0,
                     "quantity": 1799, "depends_on_stock": False, "out_of_stock": 2}
    _, put = load("oca_ps1.6.1.9_stock_available_put_request.xml")
    assert put["quantity"] == 0 and put["id"] == 1
    resource, rows = load("docs8x_stock_availables_filter_display_full.xml")  # pretty-printed CDATA
    assert resource == "stock_availables" and rows[0]["id"] == 67 and rows[0]["location"] == ""
    _, carrier = load("oca_ps1.6.1.6_order_carrier_put_response.xml")
    assert carrier["tracking_number"] == "xyz" and carrier["shipping_cost_tax_incl"] == Decimal("2.000000")
    _, carrier_req = load("oca_ps1.6.1.6_order_carrier_put_request.xml")
    assert carrier_req["id_order_invoice"] == 2
    assert carrier_req["date_add"] == datetime(2016, 9, 2, 14, 37, 22, tzinfo=PARIS)


def test_request_bodies_and_schemas() -> None:
    _, patch = load("docs8x_address_patch_request.xml")
    assert patch == {"id": 1, "company": "Acme Limited"}
    _, stock_patch = load("docs8x_stock_available_patch_request.xml")
    assert stock_patch == {"id": 67, "quantity": 10}
    _, combination = load("docs8x_combination_post_request.xml")
    assert combination["price"] == Decimal("10.000000") and combination["ean13"] == "1234567890123"
    assert combination["id_product"] == "{{id_product}}"  # a Postman placeholder stays a string
    _, order = load("ps_uitest_order_post_request.xml")
    assert order["total_paid"] == Decimal("22.940000") and order["module"] == "ps_wirepayment"
    _, blank = load("docs8x_order_blank_schema.xml")
    assert blank["id"] is None and blank["total_paid"] is None and blank["module"] == ""
    assert blank["associations"]["order_rows"][0]["product_id"] is None
    _, stock_blank = load("docs8x_stock_available_blank_schema.xml")
    assert set(stock_blank) == {"id", "id_product", "id_product_attribute", "id_shop", "id_shop_group",
                                "quantity", "depends_on_stock", "out_of_stock", "location"}
    synopsis = template_fields((FIXTURES / "docs8x_address_synopsis_schema.xml").read_bytes())
    assert synopsis["alias"] == {"required": "true", "maxSize": "32", "format": "isGenericName"}


def test_error_bodies() -> None:
    with pytest.raises(PrestaShopPermanentError) as caught:
        load("issue_prestapyt-14_error_85_response.xml")
    assert caught.value.code == 85 and "images value" in str(caught.value)
    body = (FIXTURES / "issue_n8n-nodes-prestashopadvanced-1_ps17_error_405.json").read_bytes()
    assert parse_json_errors(body) == [{"code": 23, "message": "Method PATCH is not valid"}]


def test_timezone_is_configurable() -> None:
    _, order = parse_xml((FIXTURES / "oca_ps1.6.1.23_order_5_get.xml").read_bytes(), timezone="America/New_York")
    assert order["date_add"].utcoffset().total_seconds() == -5 * 3600
