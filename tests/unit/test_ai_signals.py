"""Signals of the mapping suggester: the lexicon across languages, value shapes, fit to M3's fields."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from integration.ai import lexicon, shapes


@pytest.mark.parametrize(("text", "concept"), [
    ("City", "CITY"), ("Ort", "CITY"), ("ville", "CITY"), ("Postnummer", "POSTCODE"), ("Code postal", "POSTCODE"),
    ("Téléphone", "PHONE"), ("E-mail address", "EMAIL"), ("Währung", "CURRENCY"), ("Kunde", "CUSTOMER"),
    ("Our referens", "REFERENCE"), ("Customer address 1", "LINE1"), ("Gross weight", "WEIGHT"),
])
def test_concepts_across_languages(text, concept):
    assert concept in lexicon.concepts(text)


def test_glued_and_plural_words():
    assert "DISCOUNT" in lexicon.concepts("total_discounts".replace("_", " "))
    assert lexicon.fold("Téléphone-No.") == "telephone no"


def test_m3_codes_spelled_out():
    assert lexicon.m3_code_words("TOWN") == "town city"
    assert lexicon.m3_code_words("CUDT").startswith("customer")
    assert lexicon.m3_code_words("CUXX") == "customer"  # unknown code: its mnemonics


@pytest.mark.parametrize(("value", "name", "kind"), [
    ("pub@prestashop.com", "email", "email"), (datetime(2019, 1, 30, tzinfo=UTC), "date_add", "datetime"),
    (date(1970, 1, 15), "birthday", "date"), ("2019-01-30 01:02:12", "date_add", "datetime"),
    ("20240131", "LMDT", "date"), (Decimal("71.51"), "total_paid", "amount"), ("16.510000", "price", "amount"),
    (5, "id", "id"), (3, "product_quantity", "integer"), ("FR", "iso_code", "country"),
    ("EUR", "iso_code", "currency"), ("0102030405", "phone", "phone"), ("+33 1 02 03 04 05", "phone", "phone"),
    ("KHWLILZLL", "reference", "reference"), ("demo_1", "product_reference", "reference"),
    ("16, Main street", "address1", "text"), ("", "company", "empty"), (None, "x", "empty"),
    (True, "active", "bool"), ({1: "France"}, "name", "text"), ("0000-00-00 00:00:00", "invoice_date", "empty"),
])
def test_value_kind(value, name, kind):
    assert shapes.value_kind(value, name) == kind


def test_name_kind_without_a_sample():
    assert shapes.name_kind("order", "total_shipping_tax_excl") == "amount"
    assert shapes.name_kind("country_delivery", "iso_code") == "country"
    assert shapes.name_kind("state_invoice", "iso_code") == "state"
    assert shapes.name_kind("currency", "iso_code") == "currency"
    assert shapes.name_kind("order", "date_add") == "datetime"
    assert shapes.name_kind("customer", "is_guest") == "bool"


@pytest.mark.parametrize(("description", "swagger", "length", "kind"), [
    ("Order date", "string", 10, "date"), ("E-mail address", "string", 50, "email"),
    ("Telephone number 1", "string", 16, "phone"), ("Currency code", "string", 3, "currency"),
    ("Country", "string", 3, "country"), ("Area/state", "string", 2, "state"),
    ("Postal code", "string", 10, "postcode"),
    ("Ordered quantity", "string", 16, "quantity"), ("Charge amount", "string", 16, "amount"),
    ("Company", "number", 3, "integer"), ("Customer number", "string", 10, "identifier"),
    ("Basic unit of measure", "string", 3, "code"), ("Customer name", "string", 36, "text"),
])
def test_target_kind(description, swagger, length, kind):
    assert shapes.target_kind(description, swagger, length) == kind


def test_compatibility_and_length_fit():
    assert shapes.compatibility("date", "datetime") == 1.0
    assert shapes.compatibility("date", "text") == 0.0
    assert shapes.compatibility("text", "empty") == 0.5
    assert shapes.length_fit(20, 9, "reference") == 1.0
    assert shapes.length_fit(20, 64, "text") == 0.6      # cut at a word boundary
    assert shapes.length_fit(10, 50, "email") == 0.1     # an address cannot be cut
    assert shapes.length_fit(10, 19, "datetime") == 1.0  # formatted as YYYYMMDD


def test_sample_kind_takes_the_dominant_kind_and_the_longest_value():
    assert shapes.sample_kind(["demo_1", "demo_22", ""], "product_reference") == ("reference", 7)
    assert shapes.sample_kind(["", None], "x") == ("empty", 0)
