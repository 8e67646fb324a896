"""M3 transaction fields and their maximum lengths, as the mapping engine asks for them.

One source of truth: the metadata the Infor connector ships (``integration/connectors/infor/m3_metadata.json``),
so the loader refusing a typo at start-up, validation refusing an over-long value, and the connector's own
check before sending all agree. A deployment whose tenant differs edits that one file.
"""

from __future__ import annotations

from integration.connectors.infor import metadata


def has_transaction(program: str, transaction: str) -> bool:
    return metadata.transaction_meta(program, transaction) is not None


def _meta(program: str, transaction: str) -> metadata.TransactionMeta:
    meta = metadata.transaction_meta(program, transaction)
    if meta is None:
        raise KeyError(f"{program}/{transaction}")
    return meta


def field_lengths(program: str, transaction: str) -> dict[str, int | None]:
    """FIELD → maximum length for one transaction (None when the swagger gave no length)."""
    return dict(_meta(program, transaction).inputs)


def required_fields(program: str, transaction: str) -> list[str]:
    return list(_meta(program, transaction).required)


def transactions(program: str) -> list[str]:
    return metadata.known_transactions().get(program, [])
