"""Bindings of one connection and entity, after OCA connector's binder: shop id ⇄ Infor id.

A binding is the idempotency key of every write: a record with a binding is never created again. While an
Infor record is being created the binding is a *claim* (``infor_id`` = ``~pending:<event id>``), owned by one
event, so no second event creates it meanwhile however long the remote system takes. The flows speak to
bindings only through this class, never with (connection, entity, id) triples of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from integration.store import models as m
from integration.store.repository import Store


@dataclass(frozen=True)
class Binder:
    store: Store
    connection: str
    entity: str

    # -- look-ups ----------------------------------------------------------------------------------------------
    def get(self, ps_id: str | int) -> str | None:
        """The Infor id of a shop record (OCA's ``to_external``); None when unbound or only claimed."""
        return self.store.get_binding(self.connection, self.entity, str(ps_id))

    def row(self, ps_id: str | int) -> tuple[str, dict[str, Any]] | None:
        """(infor_id, data) of the binding or of a pending claim."""
        return self.store.binding_row(self.connection, self.entity, str(ps_id))

    def data(self, ps_id: str | int) -> dict[str, Any]:
        row = self.row(ps_id)
        return row[1] if row else {}

    def to_shop(self, infor_id: str) -> str | None:
        """The shop id bound to an Infor id (OCA's ``to_internal``): the inventory and item flows' look-up."""
        return self.store.get_binding_by_infor(self.connection, self.entity, infor_id)

    def to_shop_many(self, infor_ids: Iterable[str]) -> dict[str, str]:
        """Infor id -> shop id for a batch of Infor ids, in one query per few hundred ids."""
        return self.store.bindings_by_infor(self.connection, self.entity, list(infor_ids))

    def open(self) -> Iterator[tuple[str, str]]:
        """(ps_id, infor_id) of every bound record whose follow-up is not finished."""
        return self.store.open_bindings(self.connection, self.entity)

    def count(self) -> int:
        return self.store.count_bindings(self.connection, self.entity)

    # -- writes ------------------------------------------------------------------------------------------------
    def bind(self, ps_id: str | int, infor_id: str, data: dict[str, Any] | None = None) -> str:
        """Bind once; a racing second bind of the same pair is fine, a different pair is an error."""
        return self.store.save_binding(self.connection, self.entity, str(ps_id), infor_id, data)

    def claim(self, ps_id: str | int, event_id: int, data: dict[str, Any]) -> bool:
        """Claim the creation for one event; False when another claim or a binding exists."""
        return self.store.claim(self.connection, self.entity, str(ps_id), event_id, data)

    def update(self, ps_id: str | int, **data: Any) -> dict[str, Any]:
        """Merge facts into the binding's (or claim's) data: a temporary number, the last state sent..."""
        return self.store.update_binding_data(self.connection, self.entity, str(ps_id), **data)

    def finalize(self, ps_id: str | int, infor_id: str, data: dict[str, Any] | None = None) -> None:
        """Turn the claim into the binding (or bind directly when there was no claim)."""
        self.store.finalize_binding(self.connection, self.entity, str(ps_id), infor_id, data)

    def close(self, ps_id: str | int) -> None:
        """Nothing more will flow back for this record (an order invoiced or cancelled in full)."""
        self.store.close_binding(self.connection, self.entity, str(ps_id))


def is_pending(infor_id: str) -> bool:
    return infor_id.startswith(m.PENDING_PREFIX)
