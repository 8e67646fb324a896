"""The stock and item rules as pure functions, and the M3 paging at the HTTP boundary (``responses``)."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.connectors.infor import items as m3items
from integration.connectors.infor.m3 import M3Client
from integration.connectors.infor.stock import Balance, QuantityRule, changed_balances, shop_quantity
from integration.connectors.prestashop.catalog import StockRow, parse_row_key, row_key, sellable_rows
from integration.flows.items import catalog_name, common_name, plan_products, product_key, shop_price, slug
from integration.mapping.loader import VariantGrouping
from tests.connectors.test_infor_helpers import M3, TOKEN_URL, credentials, v2

EXEC = f"{M3}/v2/execute"


def balance(whlo: str, av01: str, av02: str | None = None, itno: str = "A") -> Balance:
    return Balance(itno, whlo, Decimal(av01), None, {}, Decimal(av02) if av02 is not None else None)


# -- the quantity rule ---------------------------------------------------------------------------------------


def test_allocatable_summed_over_the_mapped_warehouses_only() -> None:
    rule = QuantityRule("AV01", ("100", "200"))
    assert shop_quantity("A", [balance("100", "5"), balance("200", "7"), balance("300", "100")], rule) == 12


def test_on_hand_minus_reserved_when_the_mapping_says_so() -> None:
    rule = QuantityRule("AV02", ("100",))
    assert shop_quantity("A", [balance("100", "5", "9")], rule) == 9
    assert shop_quantity("A", [balance("100", "5")], rule) == 0  # no AV02 answered: nothing to sell


def test_safety_stock_by_item_then_default_and_never_negative() -> None:
    rule = QuantityRule("AV01", ("100",), Decimal(2), {"B": Decimal(10)})
    assert shop_quantity("A", [balance("100", "5")], rule) == 3
    assert shop_quantity("B", [balance("100", "5", itno="B")], rule) == 0
    assert shop_quantity("A", [balance("100", "-4")], QuantityRule()) == 0


def test_fractions_are_rounded_down() -> None:
    assert shop_quantity("A", [balance("100", "4.99")], QuantityRule()) == 4
    assert shop_quantity("A", [balance("100", "0.5")], QuantityRule()) == 0


# -- shop rows ----------------------------------------------------------------------------------------------


def test_only_combination_rows_are_writable_for_a_product_with_combinations() -> None:
    rows = [StockRow(1, 10, 0, 9), StockRow(2, 10, 3, 4), StockRow(3, 10, 4, 5), StockRow(4, 11, 0, 7)]
    assert sorted(sellable_rows(rows)) == ["10:3", "10:4", "11:0"]
    assert parse_row_key(row_key(10, 3)) == (10, 3)


# -- items → products --------------------------------------------------------------------------------------


def test_common_name_of_a_style() -> None:
    assert common_name(["Rain jacket Red M", "Rain jacket Blue L"]) == "Rain jacket"
    assert common_name(["Classic T-shirt - White, S", "Classic T-shirt - Black, M"]) == "Classic T-shirt"
    assert common_name(["Mug"]) == "Mug"
    assert common_name(["Alpha", "Beta"]) == "Alpha"


def test_grouping_by_style_pattern_or_none() -> None:
    style = VariantGrouping("style")
    assert product_key("RJ-RED-M", {"HDPR": "RJ"}, style, [("COLOR", "Red")]) == ("RJ", [("COLOR", "Red")])
    assert product_key("MUG", {"HDPR": ""}, style, []) == (None, [])
    assert product_key("MUG", {"HDPR": "MUG"}, style, []) == (None, [])
    pattern = VariantGrouping("pattern", re.compile(r"(?P<product>TS-[A-Z]+)-(?P<Color>[A-Z]{3})-(?P<Size>\w+)"),
                              {"Color": {"WHT": "White"}})
    assert product_key("TS-CLS-WHT-S", {}, pattern, []) == ("TS-CLS", [("Color", "White"), ("Size", "S")])
    assert product_key("MUG-1", {}, pattern, []) == (None, [])
    assert product_key("RJ-RED-M", {"HDPR": "RJ"}, VariantGrouping("none"), []) == (None, [])


def test_plan_products_groups_variants_and_keeps_simple_items_apart() -> None:
    from integration.flows.items import Variant

    def variant(itno: str) -> Variant:
        return Variant(itno, {1: itno}, {1: ""}, Decimal(1), Decimal(0), "", True)

    plans = plan_products([("RJ", variant("RJ-1")), (None, variant("MUG")), ("RJ", variant("RJ-2"))])
    assert [(p.key, p.simple, [v.itno for v in p.variants]) for p in plans] == [
        ("RJ", False, ["RJ-1", "RJ-2"]), ("MUG", True, ["MUG"])]


def test_shop_prices_are_tax_excluded() -> None:
    assert shop_price(Decimal("12.00"), True, Decimal("0.20")) == Decimal("10.000000")
    assert shop_price(Decimal("9.9"), False, Decimal("0.20")) == Decimal("9.900000")


def test_names_the_shop_accepts() -> None:
    assert catalog_name("Mug <b>big</b>; {x}") == "Mug b big /b x"
    assert slug("Veste de pluie, rouge") == "veste-de-pluie-rouge"


# -- M3 paging at the HTTP boundary -------------------------------------------------------------------------


@pytest.fixture
def m3() -> M3Client:
    responses.post(TOKEN_URL, json={"access_token": "t", "token_type": "Bearer", "expires_in": 7200})
    return M3Client(credentials(), cono="100", divi="AAA", retry_backoff=0.0)


def _query(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_the_item_master_is_read_page_by_page_from_the_last_key(m3: M3Client) -> None:
    pages = [[{"ITNO": "A"}, {"ITNO": "B"}, {"ITNO": "C"}], [{"ITNO": "C"}, {"ITNO": "D"}, {"ITNO": "E"}],
             [{"ITNO": "E"}, {"ITNO": "F"}]]
    for page in pages:
        responses.get(f"{EXEC}/MMS200MI/LstItmByItm", json=v2("LstItmByItm", *page))
    got = [[r["ITNO"] for r in page] for page in m3items.iter_items(m3, page_size=3)]
    assert got == [["A", "B", "C"], ["D", "E"], ["F"]]
    calls = [_query(c) for c in responses.calls if "LstItmByItm" in c.request.url]
    assert [(q["ITNO"], q["maxrecs"]) for q in calls] == [(m3items.FIRST_ITEM, "3"), ("C", "3"), ("E", "3")]
    assert calls[0]["returncols"] == "ITNO,STAT"


@responses.activate
def test_a_full_delta_page_is_reported_as_truncated(m3: M3Client) -> None:
    responses.get(f"{EXEC}/GENERAL/GetServerTime", json=v2("GetServerTime", {"LMTS": "1795000000000"}))
    rows = [{"WHLO": "100", "ITNO": f"I{i}", "AV01": "1", "AV02": "2"} for i in range(3)]
    responses.get(f"{EXEC}/OIS100MI/LstNewBalances", json=v2("LstNewBalances", *rows))
    changes = changed_balances(m3, "1794000000000", maxrecs=3)
    assert changes.truncated and changes.next_lmts == "1795000000000"
    assert changes.balances[0].on_hand_minus_reserved == Decimal(2)
    assert not changed_balances(m3, "1794000000000", maxrecs=4).truncated


def test_a_bad_stock_mapping_names_file_key_and_problem(tmp_path) -> None:
    import shutil

    from integration.errors import ConfigurationError
    from integration.mapping.loader import load_mappings
    from tests.unit.test_mapping_support import MAPPINGS_DIR

    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    path = target / "inventory.yaml"
    path.write_text(path.read_text().replace('warehouses: ["100"]', 'warehouses: ["1000"]').replace(
        "quantity: AV01", "quantity: STQT"))
    with pytest.raises(ConfigurationError) as info:
        load_mappings(target)
    problems = {(p["key"], p["problem"].split(":")[0]) for p in info.value.details["problems"]}
    assert ("quantity", "Must be one of") in problems
    grouping = target / "variants.yaml"
    grouping.write_text(grouping.read_text().replace("model: style", "model: pattern"))
    path.write_text(path.read_text().replace("quantity: STQT", "quantity: AV01"))
    with pytest.raises(ConfigurationError) as info:
        load_mappings(target)
    keys = {p["key"] for p in info.value.details["problems"]}
    assert keys == {"warehouses.0", "grouping.pattern"}
