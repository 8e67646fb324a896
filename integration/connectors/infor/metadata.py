"""M3 field metadata (lengths, mandatory inputs, outputs) shipped with the connector.

M3 refuses a value longer than its field (``InputFieldTooLong``). Checking before sending turns that into a
clear validation error naming the field and its limit, and keeps half-written orders out of M3. The data is
``m3_metadata.json``, derived from the M3 MI REST v2 swagger of an M3 CE tenant (see ``_source`` inside it);
a tenant can have more fields, so unknown fields and transactions are not checked, only known ones. The Infor
sandbox reads the swagger itself, and ``tests/sandbox/test_infor_metadata_sources.py`` fails when this file
and the swagger disagree on any length or mandatory field.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from integration.connectors.infor.errors import FieldTooLong


@dataclass(frozen=True)
class TransactionMeta:
    program: str
    transaction: str
    required: tuple[str, ...]
    inputs: Mapping[str, int | None]
    outputs: Mapping[str, int | None]


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    text = resources.files("integration.connectors.infor").joinpath("m3_metadata.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)["programs"]
    return data


@cache
def transaction_meta(program: str, transaction: str) -> TransactionMeta | None:
    """Metadata of one transaction, or None when the shipped metadata does not know it."""
    entry = _raw().get(program, {}).get(transaction)
    if entry is None:
        return None
    return TransactionMeta(program, transaction, tuple(entry["required"]), entry["input"], entry["output"])


def known_transactions() -> dict[str, list[str]]:
    """Program -> transactions covered by the shipped metadata."""
    return {program: sorted(tx) for program, tx in _raw().items()}


def field_length(program: str, transaction: str, field: str) -> int | None:
    meta = transaction_meta(program, transaction)
    return None if meta is None else meta.inputs.get(field)


def fit_record(program: str, transaction: str, record: Mapping[str, str],
               truncate: Collection[str] = ()) -> dict[str, str]:
    """Return ``record`` checked against M3's field lengths.

    A value longer than its field raises ``FieldTooLong`` unless the field is named in ``truncate`` (the
    mapping's truncation rule), in which case it is cut to the field length. The value itself is not put in
    the error: it can be personal data and the length says enough.
    """
    meta = transaction_meta(program, transaction)
    if meta is None:
        return dict(record)
    fitted: dict[str, str] = {}
    for name, value in record.items():
        limit = meta.inputs.get(name)
        if limit is not None and len(value) > limit:
            if name in truncate:
                value = value[:limit]
            else:
                raise FieldTooLong(
                    f"{name} is {len(value)} characters long, M3 allows {limit}",
                    code=None, field=name, program=program, transaction=transaction,
                    failures=[{"field": name, "rule": "max_length",
                               "message": f"at most {limit} characters"}],
                    resolution=f"shorten {name} in the source data or add a truncation rule for it to "
                               "the mapping",
                    details={"max_length": limit, "length": len(value)},
                )
        fitted[name] = value
    return fitted
