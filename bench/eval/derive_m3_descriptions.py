"""Derive ``integration/ai/m3_descriptions.json`` from the M3 MI REST v2 swagger files (run by hand, offline).

    python bench/eval/derive_m3_descriptions.py /path/to/shared/fixtures/infor/m3-mi-swagger

Only the transactions the connector's ``m3_metadata.json`` knows are kept: for each, the input fields'
descriptions and swagger types (from the query parameters) and the output fields' descriptions (from the
example record of the 200 response). The trailing "(length)" is dropped: lengths come from m3_metadata.json.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METADATA = ROOT / "integration" / "connectors" / "infor" / "m3_metadata.json"
OUT = ROOT / "integration" / "ai" / "m3_descriptions.json"
LENGTH = re.compile(r"\s*\(\d+\)\s*$")


def _clean(text: str) -> str:
    return LENGTH.sub("", text).strip()


def main(folder: str) -> None:
    known = json.loads(METADATA.read_text("utf-8"))["programs"]
    out: dict[str, dict[str, dict[str, object]]] = {}
    for program, transactions in sorted(known.items()):
        path = Path(folder) / f"{program}.swagger.json"
        if not path.is_file():
            continue
        swagger = json.loads(path.read_text("utf-8"))
        for transaction in sorted(transactions):
            op = swagger["paths"].get(f"/{transaction}", {}).get("get")
            if op is None:
                continue
            inputs = {p["name"]: [_clean(p.get("description", "")), p.get("type", "string")]
                      for p in op["parameters"] if p.get("in") == "query" and re.fullmatch(r"[A-Z0-9]{4}", p["name"])}
            try:
                example = (op["responses"]["200"]["schema"]["properties"]["results"]["items"]["properties"]
                           ["records"]["items"]["example"])
            except KeyError:
                example = {}
            outputs = {k: _clean(v) for k, v in example.items()}
            out.setdefault(program, {})[transaction] = {
                "description": op.get("description", ""), "input": inputs, "output": outputs}
    OUT.write_text(json.dumps({"_source": "M3 MI REST v2 swagger (M3 CE tenant 2020-06, inforion 2.26.2.4), "
                                          "derived by bench/eval/derive_m3_descriptions.py",
                               "programs": out}, indent=0, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
