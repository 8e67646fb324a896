"""Variant resolution: explicit table, reference, EAN, in the configured order; no guessing."""

from __future__ import annotations

import pytest

from integration.errors import MappingError
from integration.transform.variants import resolve_item

ORDER = ["table", "reference", "ean"]


def test_table_wins_over_reference():
    result = resolve_item(1, 2, "TS-CLS-WHT-M", "", order=ORDER, table={"1:2": "TS-WHT-M"})
    assert (result.item_number, result.strategy) == ("TS-WHT-M", "table")


def test_product_level_table_entry_covers_a_simple_product():
    assert resolve_item(3, 0, "", "", order=ORDER, table={"3": "MUG"}).item_number == "MUG"


def test_reference_is_the_item_number():
    result = resolve_item(3, 0, "MUG-CERAMIC-350", "", order=ORDER, table={})
    assert (result.item_number, result.strategy) == ("MUG-CERAMIC-350", "reference")


def test_reference_unknown_to_infor_falls_through_to_ean():
    result = resolve_item(1, 2, "SHOP-ONLY", "3700000000031", order=ORDER, table={},
                          ean_index={"3700000000031": ["TS-CLS-WHT-M"]}, known_item={"MUG"}.__contains__)
    assert (result.item_number, result.strategy) == ("TS-CLS-WHT-M", "ean")


def test_ambiguous_ean_is_an_error_listing_the_candidates():
    with pytest.raises(MappingError) as info:
        resolve_item(1, 2, "", "3700000000031", order=["ean"], table={},
                     ean_index={"3700000000031": ["A", "B"]})
    assert info.value.details["items"] == ["A", "B"]
    assert "variants.yaml" in (info.value.resolution or "")


@pytest.mark.parametrize("ean", ["", "0", "0000000000000", "12345"])
def test_placeholder_eans_never_match(ean):
    with pytest.raises(MappingError):
        resolve_item(1, 2, "", ean, order=["ean"], table={}, ean_index={ean: ["X"]})


def test_nothing_found_says_what_was_tried():
    with pytest.raises(MappingError) as info:
        resolve_item(9, 4, "", "", order=ORDER, table={})
    assert len(info.value.details["tried"]) == 3
    assert "9:4" in (info.value.resolution or "")


def test_configured_order_is_respected():
    result = resolve_item(1, 2, "REF", "3700000000031", order=["ean", "reference"], table={},
                          ean_index={"3700000000031": ["BY-EAN"]})
    assert result.item_number == "BY-EAN"
