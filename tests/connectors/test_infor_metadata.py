"""The field metadata shipped with the connector agrees with the real M3 swagger it was derived from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from integration.connectors.infor.metadata import fit_record, known_transactions, transaction_meta

SWAGGER = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "infor" / "m3-mi-swagger"
LENGTH = re.compile(r"\((\d+)\)\s*$")


@pytest.mark.skipif(not SWAGGER.is_dir(), reason="shared/fixtures/infor (the verbatim swagger) is not beside the repo")
@pytest.mark.parametrize("program", ["CRS610MI", "OIS100MI", "MMS200MI", "MWS410MI", "OIS350MI"])
def test_lengths_and_mandatory_fields_match_the_swagger(program: str) -> None:
    swagger = json.loads((SWAGGER / f"{program}.swagger.json").read_text())
    checked = 0
    for transaction in known_transactions()[program]:
        meta = transaction_meta(program, transaction)
        assert meta is not None
        for parameter in swagger["paths"][f"/{transaction}"]["get"]["parameters"]:
            name = parameter["name"]
            if name.islower():  # cono, divi, maxrecs...: context parameters, not fields
                continue
            match = LENGTH.search(parameter.get("description", ""))
            assert meta.inputs.get(name) == (int(match.group(1)) if match else None), (transaction, name)
            assert (name in meta.required) == bool(parameter.get("required")), (transaction, name)
            checked += 1
    assert checked >= 10


def test_known_lengths_from_the_reference() -> None:
    """The pitfalls the reference lists (CUNM 36, TOWN 20, CUOR 20, AddBatchAddress PHNO 10...)."""
    assert transaction_meta("CRS610MI", "Add").inputs["CUNM"] == 36  # type: ignore[union-attr]
    assert transaction_meta("CRS610MI", "Add").inputs["TOWN"] == 20  # type: ignore[union-attr]
    assert transaction_meta("OIS100MI", "AddBatchHead").inputs["CUOR"] == 20  # type: ignore[union-attr]
    assert transaction_meta("OIS100MI", "AddBatchAddress").inputs["PHNO"] == 10  # type: ignore[union-attr]
    assert transaction_meta("OIS100MI", "AddBatchLine").required == ("ITNO", "ORNO")  # type: ignore[union-attr]
    assert fit_record("OIS100MI", "AddBatchHead", {"CUOR": "x" * 25}, truncate={"CUOR"}) == {"CUOR": "x" * 20}
