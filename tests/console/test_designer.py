"""The mapping designer's model: edits written back with comments and order kept, checked by the loader of
``psinfor map check``, previewed like ``psinfor map preview``, saved with the previous version kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integration.config import PROJECT_ROOT
from integration.mapping.fieldmap import check_path
from integration.mapping.loader import ADDRESS_ROOTS, CUSTOMER_ROOTS, load_mappings
from integration.mapping.preview import read_bundle_from_file
from integration.web.console import designer

FIXTURE_ORDER = PROJECT_ROOT / "tests" / "fixtures" / "mapping" / "ps" / "orders" / "5.xml"


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "mappings", tmp_path / "mappings")
    return tmp_path / "mappings"


@pytest.mark.parametrize("name", sorted(p.name for p in (PROJECT_ROOT / "mappings").glob("*.yaml")))
def test_every_mapping_file_round_trips_byte_for_byte(name: str) -> None:
    text = (PROJECT_ROOT / "mappings" / name).read_text()
    assert designer.dump_document(designer.load_document(text)) == text


def test_operations_keep_comments_order_and_flow_style(mappings: Path) -> None:
    text = (mappings / "orders.yaml").read_text()
    edited = designer.apply_operations(text, [
        {"map": "infor.AddBatchHead", "field": "YREF", "spec": {"from": "order.reference", "truncate": True}},
        {"map": "infor.AddBatchHead", "field": "RESP", "spec": {"const": "WEB", "format": "text"}},
        {"map": "infor.AddBatchAddress", "field": "PHN2",
         "spec": {"from": "address.phone_raw", "too_long": "truncate"}},
        {"map": "infor.AddBatchAddress", "field": "VRNO", "spec": None},
        {"map": "infor.AddBatchHead", "field": "MODL", "spec": {"const": "DHL"}},
    ])
    changed = designer.diff(text, edited, "orders.yaml")
    lines = changed.splitlines()[2:]
    added = [x for x in lines if x.startswith("+")]
    removed = [x for x in lines if x.startswith("-")]
    assert len(added) == 4 and len(removed) == 4  # one line per edit, nothing else
    assert "    YREF: {from: order.reference, truncate: true}\n" in edited
    assert "    RESP: {const: WEB}\n" in edited  # defaults left out; new fields last
    assert "    PHN2: {from: address.phone_raw, too_long: truncate} # E.164; PHNO" in edited  # the comment stays
    assert "    MODL: {const: DHL}\n" in edited and "VRNO" not in edited.split("AddBatchAddress:")[1].split("Add")[0]
    assert designer.check(mappings, "orders.yaml", edited).problems == []


def test_customers_yaml_maps_are_found_in_its_calls(mappings: Path) -> None:
    doc = designer.load_document((mappings / "customers.yaml").read_text())
    views = designer.field_maps("customers.yaml", doc)
    assert [(v.key, v.transaction) for v in views] == [
        ("calls.0.fields", "Add"), ("calls.1.fields", "ChgFinancial"), ("update.fields", "ChgBasicData")]
    edited = designer.apply_operations((mappings / "customers.yaml").read_text(), [
        {"map": "calls.0.fields", "field": "CUTM", "spec": {"const": "B2CTMPL"}}])
    assert "      CUTM: {const: B2CTMPL}          # the customer template" in edited
    assert designer.field_maps("lookups.yaml", designer.load_document((mappings / "lookups.yaml").read_text())) == []


def test_bad_operations_are_refused() -> None:
    text = (PROJECT_ROOT / "mappings" / "orders.yaml").read_text()
    for op, message in (({"map": "infor.Nope", "field": "X", "spec": None}, "no field map"),
                        ({"map": "infor.AddBatchHead", "field": "YREF", "spec": {"from": "x", "evil": 1}}, "unknown"),
                        ({"map": "infor.AddBatchHead", "field": "YREF", "spec": {"from": "x", "format": "b"}},
                         "format"),
                        ({"map": "infor.AddBatchHead", "spec": None}, "name a field")):
        with pytest.raises(designer.DesignerError, match=message):
            designer.apply_operations(text, [op])


def test_the_check_is_the_loaders(mappings: Path) -> None:
    text = (mappings / "orders.yaml").read_text()
    candidate = designer.check(mappings, "orders.yaml", designer.apply_operations(text, [
        {"map": "infor.AddBatchHead", "field": "CUOX", "spec": {"from": "cuno"}},
        {"map": "infor.AddBatchHead", "field": "CUNO", "spec": None}]))
    problems = {(p["file"], p["key"]): p["problem"] for p in candidate.problems}
    assert problems[("orders.yaml", "infor.AddBatchHead.CUOX")] == "OIS100MI/AddBatchHead has no field CUOX"
    assert "requires CUNO" in problems[("orders.yaml", "infor.AddBatchHead")]
    assert candidate.config is None
    assert designer.check(mappings, "orders.yaml", text).config is not None


def test_the_preview_is_map_previews_on_the_candidate(mappings: Path) -> None:
    text = (mappings / "orders.yaml").read_text()
    bundle = read_bundle_from_file(FIXTURE_ORDER)
    candidate = designer.check(mappings, "orders.yaml", designer.apply_operations(text, [
        {"map": "infor.AddBatchHead", "field": "YREF", "spec": {"const": "FROM-THE-DESIGNER"}}]))
    assert candidate.config is not None
    result = designer.preview(candidate.config, "orders.yaml", bundle)
    head = next(c for c in result["infor"] if c["transaction"] == "AddBatchHead")
    assert head["record"]["YREF"] == "FROM-THE-DESIGNER"
    customers = designer.preview(load_mappings(mappings), "customers.yaml", bundle)
    assert next(c["transaction"] for c in customers["infor"]) == "Add"


def test_save_keeps_the_previous_version_and_refuses_stale_or_invalid_text(mappings: Path) -> None:
    path = mappings / "orders.yaml"
    text = path.read_text()
    edited = designer.apply_operations(text, [{"map": "infor.AddBatchHead", "field": "OREF",
                                               "spec": {"from": "order.customer_order_number"}}])
    with pytest.raises(designer.DesignerError, match="changed on disk"):
        designer.save(mappings, "orders.yaml", edited, designer.text_hash("something else"))
    with pytest.raises(designer.DesignerError, match="does not check"):
        designer.save(mappings, "orders.yaml", edited.replace("order.customer_order_number", "order.nope"),
                      designer.text_hash(text))
    assert path.read_text() == text
    outcome = designer.save(mappings, "orders.yaml", edited, designer.text_hash(text))
    assert path.read_text() == edited and (mappings / outcome["previous"]).read_text() == text
    assert load_mappings(mappings).orders.head.fields["OREF"].source == "order.customer_order_number"
    with pytest.raises(designer.DesignerError, match="not a mapping file"):
        designer.save(mappings, "../etc.yaml", edited, designer.text_hash(text))


def test_sources_are_valid_paths_and_targets_carry_m3_descriptions() -> None:
    for roots in (ADDRESS_ROOTS, CUSTOMER_ROOTS):
        paths = designer.source_paths(roots)
        assert "address.lines.0" in paths and all(check_path(p, roots) is None for p in paths)
    targets = {t.name: t for t in designer.targets("OIS100MI", "AddBatchHead")}
    assert targets["CUOR"].length == 20 and targets["CUOR"].description == "Customers order number"
    assert targets["CUNO"].required
