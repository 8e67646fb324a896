"""Everything fits M3's fields: the mapping must say what happens to a value longer than its field, ECAR takes
two characters (AU/MX states through addresses.yaml), MAIL 50 (a longer e-mail is left out)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.errors import ConfigurationError
from integration.mapping.cli import map_group
from integration.mapping.engine import MappingEngine
from integration.mapping.loader import load_mappings
from integration.transform.address import m3_state

from .test_mapping_support import MAPPINGS_DIR, erp_items, make_bundle


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _problems(directory: Path) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as info:
        load_mappings(directory)
    return {p["key"]: p["problem"] for p in info.value.details["problems"]}


def test_a_field_that_can_overflow_needs_a_rule(mappings: Path) -> None:
    _edit(mappings / "orders.yaml", "PONO: {from: address.postcode, too_long: refuse}",
          "PONO: {from: address.postcode}")
    _edit(mappings / "customers.yaml", "MAIL: {from: customer.email, too_long: omit}", "MAIL: {from: customer.email}")
    problems = _problems(mappings)
    assert set(problems) == {"infor.AddBatchAddress.PONO", "calls.0.fields.MAIL", "update.fields.MAIL"}
    assert "PONO takes 10 characters and address.postcode can be 12 characters long" in problems[
        "infor.AddBatchAddress.PONO"]
    assert "too_long: truncate | refuse | omit" in problems["calls.0.fields.MAIL"]


def test_a_source_without_a_known_maximum_needs_a_rule(mappings: Path) -> None:
    _edit(mappings / "orders.yaml", "VRNO: {from: address.vat_number, too_long: refuse}",
          "VRNO: {from: address.vat_number}")
    _edit(mappings / "orders.yaml", "YREF: {from: address.person, truncate: true}", "YREF: {from: address.name}")
    problems = _problems(mappings)
    assert set(problems) == {"infor.AddBatchAddress.VRNO", "infor.AddBatchAddress.YREF"}
    assert "has no known maximum" in problems["infor.AddBatchAddress.VRNO"]


def test_numbers_are_never_cut(mappings: Path) -> None:
    _edit(mappings / "orders.yaml", "format: decimal, only_if: send_prices, too_long: refuse}",
          "format: decimal, only_if: send_prices, too_long: truncate}")
    assert "never cut" in _problems(mappings)["infor.AddBatchLine.SAPR"]


def test_rules_do_not_contradict(mappings: Path) -> None:
    _edit(mappings / "orders.yaml", "CUNM: {from: address.name, truncate: true}",
          "CUNM: {from: address.name, truncate: true, too_long: omit}")
    assert "say different things" in " ".join(_problems(mappings).values())


def test_a_lookup_is_as_long_as_its_longest_value(mappings: Path) -> None:
    _edit(mappings / "lookups.yaml", "    default: WEB\n", "    default: WEBSHOP\n")
    assert "PYCD takes 3 characters and lookup 'payment_methods' can be 7 characters long" in _problems(
        mappings)["infor.AddBatchHead.PYCD"]


def test_state_codes_must_fit_ecar(mappings: Path) -> None:
    _edit(mappings / "addresses.yaml", "  MX-AGU: AG\n", "  MX-AGU: AGS\n")
    assert "longer than ECAR's 2 characters" in _problems(mappings)["state_codes.MX-AGU"]


def test_state_codes_are_country_and_state(mappings: Path) -> None:
    _edit(mappings / "addresses.yaml", "  MX-AGU: AG\n", "  AUNSW: NS\n")
    assert "COUNTRY-STATE" in " ".join(_problems(mappings).values())


def test_transliterated_lines_still_fit(mappings: Path) -> None:
    _edit(mappings / "addresses.yaml", "transliterate: false", "transliterate: true")
    engine = MappingEngine.load(mappings)  # the lines are wrapped after transliteration: no rule needed
    bundle = make_bundle(1)
    # 36 characters as typed, 40 in ASCII: wrapped before transliteration it would overflow CUA1.
    bundle["address_delivery"]["address1"] = "Großstraße Maßstäbe Fußgängerzone 12 Hinterhaus links"
    order = engine.ps_order_to_canonical(bundle)
    calls = engine.order_to_infor(order, cuno="PS0000001")
    address = next(c["record"] for c in calls if c["transaction"] == "AddBatchAddress")
    lines = [address[f] for f in ("CUA1", "CUA2", "CUA3", "CUA4") if f in address]
    assert len(lines) >= 3 and all(len(line) <= 36 and line.isascii() for line in lines)
    assert engine.validate_order(order, calls, known_item=erp_items().__contains__) == []


def test_map_check_command_refuses_and_names_the_field(mappings: Path) -> None:
    _edit(mappings / "orders.yaml", "ECAR: {from: address.m3_state, too_long: refuse}", "ECAR: {from: address.state}")
    result = CliRunner().invoke(map_group, ["check", "--mappings", str(mappings)])
    assert result.exit_code == 1 and "infor.AddBatchAddress.ECAR" in result.output
    ok = CliRunner().invoke(map_group, ["check", "--mappings", str(MAPPINGS_DIR)])
    assert ok.exit_code == 0, ok.output


def test_m3_state() -> None:
    codes = {"MX-AGU": "AG"}
    assert m3_state("MX", "AGU", codes) == "AG"
    assert m3_state("US", "CA", codes) == "CA"
    assert m3_state("AU", "NSW", codes) == "NSW"  # unmapped: left for validation to refuse, never cut
    assert m3_state("FR", None, codes) is None


def test_australian_state_and_long_e_mail_are_refused_or_fitted() -> None:
    """The must-hold case: an AU state and a 60+ character e-mail never reach M3 over-long."""
    engine = MappingEngine.load(MAPPINGS_DIR)
    known = erp_items().__contains__
    bundle = make_bundle(9, [(3, 0, 1)])
    order = engine.ps_order_to_canonical(bundle, known_item=known)
    assert order.delivery_address.state == "NSW" and len(order.customer.email) > 60
    cuno = engine.cuno_for(order.customer.ps_customer_id)
    customer_calls = engine.customer_to_infor(order.customer, cuno=cuno)
    add = customer_calls[0]["record"]
    assert "MAIL" not in add  # too long for MAIL (50): left out, the customer is still created
    order_calls = engine.order_to_infor(order, cuno=cuno)
    failures = [*engine.validate_order(order, order_calls, known_item=known, cuno=cuno),
                *engine.validate_customer(order.customer, customer_calls, cuno=cuno)]
    assert {(f.field, f.rule) for f in failures} == {("ECAR", "max_length")}
    assert any("AddBatchAddress" in f.record for f in failures) and any("CRS610MI/Add" in f.record for f in failures)


def test_a_mexican_state_is_fitted_through_state_codes() -> None:
    engine = MappingEngine.load(MAPPINGS_DIR)
    known = erp_items().__contains__
    order = engine.ps_order_to_canonical(make_bundle(10, [(3, 0, 1)]), known_item=known)
    calls = engine.order_to_infor(order, cuno="PS0000010")
    address = next(c["record"] for c in calls if c["transaction"] == "AddBatchAddress")
    assert address["ECAR"] == "AG" and address["CSCD"] == "MX"
    assert engine.validate_order(order, calls, known_item=known, cuno="PS0000010") == []
    long_mail = engine.ps_order_to_canonical(make_bundle(11, [(3, 0, 1)]), known_item=known)
    assert "MAIL" not in engine.customer_to_infor(long_mail.customer, cuno="PS0000011")[0]["record"]
