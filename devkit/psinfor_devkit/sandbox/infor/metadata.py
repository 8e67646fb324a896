"""The Infor sandbox's M3 field metadata, read from the M3 MI REST v2 swagger (``swagger/``), not from the
connector's ``m3_metadata.json``.

Client and sandbox must not share one copy of M3's lengths and mandatory fields: a wrong length would then be
wrong on both sides and no test could see it. So the sandbox parses the tenant's swagger itself (field
``description`` ends in ``(length)``, the query parameter's ``required`` flag marks a mandatory input, the
``records`` example of the 200 answer lists the outputs), and ``tests/sandbox/test_infor_metadata_sources.py``
compares the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SWAGGER_DIR = Path(__file__).resolve().parent / "swagger"
_LENGTH = re.compile(r"\((\d+)\)\s*$")


@dataclass(frozen=True)
class TransactionMeta:
    """One transaction as the swagger describes it. ``source`` is ``swagger`` or ``derived``."""

    program: str
    transaction: str
    required: tuple[str, ...]
    inputs: dict[str, int | None]
    outputs: dict[str, int | None]
    source: str


def _length(description: object) -> int | None:
    match = _LENGTH.search(str(description or ""))
    return int(match.group(1)) if match else None


def _from_swagger(program: str, document: dict[str, Any]) -> dict[str, TransactionMeta]:
    found: dict[str, TransactionMeta] = {}
    for path, item in document.get("paths", {}).items():
        operation = item.get("get")
        if operation is None:
            continue
        transaction = path.strip("/")
        inputs: dict[str, int | None] = {}
        required: list[str] = []
        for parameter in operation.get("parameters", []):
            name = str(parameter.get("name", ""))
            # Upper-case names are transaction fields; lower-case ones (cono, maxrecs...) are the MI context.
            if not name or name != name.upper() or not name[0].isalpha():
                continue
            inputs[name] = _length(parameter.get("description"))
            if parameter.get("required"):
                required.append(name)
        result = (operation.get("responses", {}).get("200", {}).get("schema", {}).get("properties", {})
                  .get("results", {}).get("items", {}).get("properties", {}))
        example = result.get("records", {}).get("items", {}).get("example") or {}
        outputs = {str(k): _length(v) for k, v in example.items()}
        found[transaction] = TransactionMeta(program, transaction, tuple(required), inputs, outputs, "swagger")
    return found


def _from_derived(data: dict[str, Any]) -> dict[str, dict[str, TransactionMeta]]:
    found: dict[str, dict[str, TransactionMeta]] = {}
    for program, entry in data.get("programs", {}).items():
        for transaction, tx in entry.get("transactions", {}).items():
            inputs = {k: _length(v) for k, v in {**tx.get("required", {}), **tx.get("optional", {})}.items()}
            outputs = {k: _length(v) for k, v in tx.get("output", {}).items()}
            found.setdefault(program, {})[transaction] = TransactionMeta(
                program, transaction, tuple(tx.get("required", {})), inputs, outputs, "derived")
    return found


@cache
def catalogue() -> dict[str, dict[str, TransactionMeta]]:
    """Program → transaction → metadata, from every swagger file (and the derived file for the rest)."""
    programs: dict[str, dict[str, TransactionMeta]] = {}
    derived = SWAGGER_DIR / "derived-programs.json"
    if derived.exists():
        programs.update(_from_derived(json.loads(derived.read_text("utf-8"))))
    for path in sorted(SWAGGER_DIR.glob("*.swagger.json")):
        program = path.name.split(".", 1)[0]
        programs[program] = _from_swagger(program, json.loads(path.read_text("utf-8")))
    return programs


def transaction_meta(program: str, transaction: str) -> TransactionMeta | None:
    return catalogue().get(program, {}).get(transaction)
