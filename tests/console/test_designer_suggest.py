"""The designer's suggestions (issue 14) through Flask's test client: ``GET /console/mappings/<file>/suggest``
answers, per M3 field of a field map's transaction, the suggester's candidates (as ``psinfor map suggest`` ranks
them) with the designer's source paths each reaches; the transaction's own mapping plays no part."""

from __future__ import annotations

import re
from pathlib import Path

from integration.ai.suggest import suggest
from integration.mapping.loader import load_mappings
from tests.console.test_console_app import Console
from tests.console.test_console_app import console as console  # the fixtures
from tests.console.test_console_app import env as env


def fields(console: Console, name: str, key: str) -> dict[str, list[dict[str, object]]]:
    response = console.client.get(f"/console/mappings/{name}/suggest", query_string={"map": key})
    assert response.status_code == 200, response.text
    assert response.json["map"] == key
    return {s["field"]: s["candidates"] for s in response.json["suggestions"]}


def test_addbatchhead_fields_get_candidates_reaching_the_designers_paths(console: Console) -> None:
    console.login("viewer")  # reading suggestions changes nothing: viewers may
    got = fields(console, "orders.yaml", "infor.AddBatchHead")
    assert got["CUNO"][0]["source"] == "customer.id" and got["CUNO"][0]["paths"] == ["cuno"]
    assert got["CUCD"][0]["source"] == "currency.iso_code"
    assert set(got["CUCD"][0]["paths"]) == {"order.currency", "order.erp_currency"}  # type: ignore[arg-type]
    assert all(c["score"] >= 0.1 and c["why"] for cs in got.values() for c in cs)
    # the same ranking the CLI prints: the same call on the same folder
    expected = suggest("OIS100MI", "AddBatchHead", config=load_mappings(console.settings.mappings_dir))
    assert {s["field"]: [c["source"] for c in s["candidates"]] for s in expected["suggestions"] if s["candidates"]} \
        == {f: [c["source"] for c in cs] for f, cs in got.items()}
    page = console.client.get("/console/mappings/orders.yaml").text
    assert "/console/mappings/orders.yaml/suggest" in page  # the designer knows where to ask


def test_the_transactions_own_mapping_is_never_evidence(console: Console) -> None:
    orders = Path(console.settings.mappings_dir) / "orders.yaml"
    text = orders.read_text(encoding="utf-8")
    # AddBatchHead's own map says OREF comes from the gift message; its suggestions must not learn that.
    orders.write_text(text.replace("OREF: {from: order.reference}", "OREF: {from: order.gift_message}"), "utf-8")
    console.login("viewer")
    got = fields(console, "orders.yaml", "infor.AddBatchHead")
    whys = " ".join(str(c["why"]) for cs in got.values() for c in cs)
    assert not re.search(r"OIS100MI/AddBatchHead(?!Chg)", whys)
    assert all(c["source"] != "order.gift_message" for c in got.get("OREF", []))


def test_customer_maps_and_unknown_maps(console: Console) -> None:
    console.login("viewer")
    got = fields(console, "customers.yaml", "calls.0.fields")
    assert any("customer.email" in c["paths"] for c in got["MAIL"])  # type: ignore[operator]
    assert console.client.get("/console/mappings/orders.yaml/suggest?map=infor.Nope").status_code == 404
    assert console.client.get("/console/mappings/secrets.yaml/suggest?map=x").status_code == 404
