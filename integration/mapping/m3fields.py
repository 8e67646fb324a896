"""M3 transaction fields and their maximum lengths, from ``m3_fields.json`` beside this module.

The mapping files may only name fields a transaction really has, and values must fit M3's lengths
(too long → ``InputFieldTooLong`` at run time). Knowing both here lets the loader refuse a typo at start-up
and validation refuse an over-long value before anything is sent. The JSON is a subset derived from the
tenant swagger (see its ``_source``); a deployment whose tenant differs edits it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

_PATH = Path(__file__).with_name("m3_fields.json")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return dict(json.loads(_PATH.read_text(encoding="utf-8"))["programs"])


def has_transaction(program: str, transaction: str) -> bool:
    return transaction in _data().get(program, {})


def field_lengths(program: str, transaction: str) -> dict[str, int | None]:
    """FIELD → maximum length for one transaction (None when the swagger gave no length)."""
    return dict(_data()[program][transaction]["fields"])


def required_fields(program: str, transaction: str) -> list[str]:
    return list(_data()[program][transaction]["required"])


def transactions(program: str) -> list[str]:
    return sorted(_data().get(program, {}))
