"""The mapping files are checked at start-up: a bad file names the file, the key and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integration.errors import ConfigurationError
from integration.mapping.loader import load_mappings

from .test_mapping_support import MAPPINGS_DIR


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, target)
    return target


def _problems(directory: Path) -> list[dict[str, str]]:
    with pytest.raises(ConfigurationError) as info:
        load_mappings(directory)
    return info.value.details["problems"]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_default_mappings_load():
    config = load_mappings(MAPPINGS_DIR)
    assert config.customers.customer_number == "PS{id:07d}"
    assert config.orders.head.fields["CUOR"].source == "order.customer_order_number"


def test_unknown_m3_field_names_file_key_and_problem(mappings):
    _edit(mappings / "orders.yaml", "    CUOR: {from: order.customer_order_number}",
          "    CUOX: {from: order.customer_order_number}")
    (problem,) = _problems(mappings)
    assert problem["file"].endswith("orders.yaml")
    assert problem["key"] == "infor.AddBatchHead.CUOX"
    assert "has no field CUOX" in problem["problem"]


def test_bad_path_into_the_canonical_record(mappings):
    _edit(mappings / "orders.yaml", "from: order.customer_order_number", "from: order.customer_order_nr")
    (problem,) = _problems(mappings)
    assert problem["key"] == "infor.AddBatchHead.CUOR.from"
    assert "customer_order_nr" in problem["problem"]


def test_unmapped_required_field(mappings):
    _edit(mappings / "orders.yaml", "    ITNO: {from: line.item_number, too_long: refuse}\n", "")
    (problem,) = _problems(mappings)
    assert problem["key"] == "infor.AddBatchLine" and "requires ITNO" in problem["problem"]


def test_constant_longer_than_the_m3_field(mappings):
    _edit(mappings / "customers.yaml", "CUTM: {const: WEBTMPL}", "CUTM: {const: WEBTEMPLATE1}")
    (problem,) = _problems(mappings)
    assert problem["key"] == "calls.0.fields.CUTM.const" and "10 characters" in problem["problem"]


def test_customer_number_template_must_fit_cuno(mappings):
    _edit(mappings / "customers.yaml", '"PS{id:07d}"', '"PSHOP-{id:09d}"')
    problems = _problems(mappings)
    assert {p["key"] for p in problems} == {"customer_number"}


def test_unknown_status_key_and_bad_range(mappings):
    _edit(mappings / "statuses.yaml", "PS_OS_PAYMENT: open", "PS_OS_PAYMENT: start")
    _edit(mappings / "statuses.yaml", "{lowest: [66, 77], highest: [66, 77]", "{lowest: [77, 66], highest: [66, 77]")
    keys = {p["key"] for p in _problems(mappings)}
    assert keys == {"prestashop_to_infor.by_key.PS_OS_PAYMENT", "infor_to_prestashop.0.lowest"}


def test_every_problem_of_every_file_is_reported_together(mappings):
    _edit(mappings / "variants.yaml", "order: [table, reference, ean]", "order: [table, sku]")
    _edit(mappings / "currencies.yaml", "erp_currency: EUR", "erp_currency: EURO")
    _edit(mappings / "enrichment.yaml", "order_type: WEB", "order_typ: WEB")
    problems = _problems(mappings)
    files = {Path(p["file"]).name for p in problems}
    assert files == {"variants.yaml", "currencies.yaml", "enrichment.yaml"}
    assert any(p["key"] == "order.1" for p in problems)


def test_prestashop_rates_cannot_convert_to_a_non_default_currency(mappings):
    _edit(mappings / "currencies.yaml", "erp_currency: EUR", "erp_currency: USD")
    (problem,) = _problems(mappings)
    assert problem["key"] == "rate_source"


def test_yaml_syntax_error_and_duplicate_keys_are_located(mappings):
    (mappings / "variants.yaml").write_text("order: [table\n")
    (mappings / "addresses.yaml").write_text("transliterate: false\ntransliterate: true\n")
    problems = {Path(p["file"]).name: p for p in _problems(mappings)}
    assert "not valid YAML" in problems["variants.yaml"]["problem"]
    assert "duplicate key 'transliterate'" in problems["addresses.yaml"]["problem"]
    assert problems["addresses.yaml"]["key"].startswith("line 2")


def test_missing_and_unknown_files(mappings):
    (mappings / "lookups.yaml").unlink()
    (mappings / "carriers.yaml").write_text("a: 1\n")
    problems = {Path(p["file"]).name: p["problem"] for p in _problems(mappings)}
    assert problems["lookups.yaml"] == "file is missing"
    assert problems["carriers.yaml"].startswith("unknown mapping file")


def test_lookup_must_exist(mappings):
    _edit(mappings / "orders.yaml", "lookup: payment_methods", "lookup: payments")
    (problem,) = _problems(mappings)
    assert problem["key"] == "infor.AddBatchHead.PYCD.lookup"


def test_the_error_message_itself_names_file_and_key(mappings):
    _edit(mappings / "orders.yaml", "format: date}", "format: datum}")
    with pytest.raises(ConfigurationError) as info:
        load_mappings(mappings)
    text = str(info.value)
    assert "orders.yaml: infor.AddBatchHead.ORDT.format: Must be one of" in text
    assert "Resolution:" in text
