"""Address standardisation: M3's four 36-character lines, ISO codes, E.164 phones, postcodes, names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.transform import address as addr

words = st.text(alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=50)
streets = st.lists(words, min_size=0, max_size=20).map(" ".join)


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(streets, st.integers(min_value=1, max_value=60))
def test_wrap_keeps_every_character_and_respects_the_width(text, width):
    lines = addr.wrap_words(text, width)
    assert all(0 < len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == addr.clean_text(text).replace(" ", "")


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=36), min_size=1, max_size=12))
def test_wrap_never_breaks_a_word_that_fits_on_a_line(word_list):
    lines = addr.wrap_words(" ".join(word_list), 36)
    assert [w for line in lines for w in line.split(" ")] == word_list


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.lists(streets, min_size=0, max_size=3), st.integers(min_value=10, max_value=36),
       st.integers(min_value=1, max_value=4))
def test_split_street_fits_m3_and_returns_what_does_not(parts, width, max_lines):
    result = addr.split_street(parts, width, max_lines)
    assert len(result.lines) <= max_lines
    assert all(len(line) <= width for line in result.lines)
    kept = "".join(result.lines) + result.overflow
    assert kept.replace(" ", "") == "".join(addr.clean_text(p) for p in parts).replace(" ", "")


def test_split_street_keeps_the_customers_lines_apart_when_they_fit():
    result = addr.split_street(["12 rue de la République", "Bâtiment B, 3e étage"])
    assert result.lines == ["12 rue de la République", "Bâtiment B, 3e étage"] and result.overflow == ""


def test_split_street_wraps_a_long_line_at_word_boundaries():
    result = addr.split_street(["Zone Industrielle des Grandes Terres, 8 allée des Artisans"])
    assert result.lines == ["Zone Industrielle des Grandes", "Terres, 8 allée des Artisans"]


def test_clean_text_normalises_composed_characters():
    decomposed = "Le\u0301a  Mu\u0308ller\n"
    assert addr.clean_text(decomposed) == "L\u00e9a M\u00fcller"
    assert len(addr.clean_text(decomposed)) == 10


@pytest.mark.parametrize(("raw", "country", "e164"), [
    ("+33 4 78 12 34 56", "FR", "+33478123456"),
    ("0211 1234567", "DE", "+492111234567"),
    ("(650) 253-0000", "US", "+16502530000"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("0102030405", "FR", "+33102030405"),
])
def test_phone_numbers_become_e164(raw, country, e164):
    assert addr.phone_e164(raw, country) == e164


@pytest.mark.parametrize("raw", ["", "n/a", "123", "+99 0000"])
def test_invalid_phone_numbers_give_none(raw):
    assert addr.phone_e164(raw, "FR") is None


def test_a_phone_number_is_parsed_once_per_number_and_country():
    """A returning customer's number is not parsed again; the same number read for another country is."""
    addr.phone_e164.cache_clear()
    assert addr.phone_e164("04 78 12 34 56", "FR") == addr.phone_e164("04 78 12 34 56", "FR") == "+33478123456"
    assert addr.phone_e164("04 78 12 34 56", "DE") is None  # another country: parsed on its own
    info = addr.phone_e164.cache_info()
    assert (info.misses, info.hits) == (2, 1)


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.text(max_size=30), st.sampled_from(["FR", "DE", "US", "GB", ""]))
def test_phone_e164_is_none_or_e164(raw, country):
    result = addr.phone_e164(raw, country)
    assert result is None or (result.startswith("+") and result[1:].isdigit() and len(result) <= 16)


@pytest.mark.parametrize(("code", "iso"), [("FR", "FR"), ("fr", "FR"), ("DEU", "DE"), ("XX", None), ("", None)])
def test_country_codes_are_iso_alpha2(code, iso):
    assert addr.country_alpha2(code) == iso


def test_subdivision_codes_are_checked_against_iso_3166_2():
    assert addr.subdivision_code("US", "CA") == "CA"
    assert addr.subdivision_code("US", "US-NY") == "NY"
    assert addr.subdivision_code("US", "ZZ") is None


@pytest.mark.parametrize(("postcode", "country", "result"), [
    (" 75 002 ", "FR", "75002"), ("nw1  6xe", "GB", "NW1 6XE"), ("1000-001", "PT", "1000-001"),
    ("94043", "US", "94043"),
])
def test_postcodes_are_normalised(postcode, country, result):
    assert addr.normalise_postcode(postcode, country) == result


@pytest.mark.parametrize(("postcode", "fmt", "ok"), [("75002", "NNNNN", True), ("7500", "NNNNN", False),
                                                      ("NW1 6XE", "", True), ("A1B 2C3", "LNL NLN", True)])
def test_postcode_format_follows_prestashop_patterns(postcode, fmt, ok):
    assert addr.postcode_matches(postcode, fmt, "CA") is ok


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.text(max_size=80), st.integers(min_value=1, max_value=40))
def test_fit_never_exceeds_the_width(text, width):
    assert len(addr.fit(text, width)) <= width


def test_fit_cuts_at_a_word_boundary():
    assert addr.fit("Atelier Lefèvre SARL et associés de Bordeaux", 20) == "Atelier Lefèvre SARL"


def test_names_prefer_the_company():
    assert addr.display_name("  Müller Werkzeuge GmbH ", "Jonas", "Müller") == "Müller Werkzeuge GmbH"
    assert addr.display_name("", " Lucía ", "García") == "Lucía García"


def test_transliteration_gives_ascii():
    assert addr.transliterate("Théo Lefèvre, Düsseldorf, Łódź") == "Theo Lefevre, Dusseldorf, Lodz"
