"""The shop's order states, resolved from its configuration rather than hard-coded.

Default ids follow the install order, but payment modules add states and merchants rename or reorder them
(a real 1.6 shop had 11 = "Awaiting PayPal payment"). So the ids come from the ``PS_OS_*`` configuration
keys and the logic runs on the states' flags (``paid``, ``shipped``, ``logable``…), never on names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integration.errors import ConfigurationError

# Friendly names for the keys the flows use.
KEYS = {
    "cheque": "PS_OS_CHEQUE",
    "payment": "PS_OS_PAYMENT",
    "preparation": "PS_OS_PREPARATION",
    "shipping": "PS_OS_SHIPPING",
    "delivered": "PS_OS_DELIVERED",
    "canceled": "PS_OS_CANCELED",
    "refund": "PS_OS_REFUND",
    "error": "PS_OS_ERROR",
    "outofstock_paid": "PS_OS_OUTOFSTOCK_PAID",
    "bankwire": "PS_OS_BANKWIRE",
    "ws_payment": "PS_OS_WS_PAYMENT",
    "outofstock_unpaid": "PS_OS_OUTOFSTOCK_UNPAID",
    "cod_validation": "PS_OS_COD_VALIDATION",
}


@dataclass(frozen=True)
class OrderState:
    id: int
    name: str
    paid: bool = False
    shipped: bool = False
    delivery: bool = False
    logable: bool = False
    invoice: bool = False
    send_email: bool = False
    deleted: bool = False
    hidden: bool = False
    module_name: str = ""
    color: str = ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any], id_lang: int = 1) -> OrderState:
        name = record.get("name", "")
        if isinstance(name, Mapping):
            name = name.get(id_lang) or next(iter(name.values()), "")
        return cls(
            id=int(record["id"]),
            name=str(name),
            **{flag: record.get(flag) is True for flag in
               ("paid", "shipped", "delivery", "logable", "invoice", "send_email", "deleted", "hidden")},
            module_name=str(record.get("module_name") or ""),
            color=str(record.get("color") or ""),
        )


@dataclass(frozen=True)
class OrderStates:
    """``PS_OS_*`` key → state id, and every state with its flags."""

    by_key: Mapping[str, int]
    states: Mapping[int, OrderState] = field(default_factory=dict)

    @classmethod
    def from_records(
        cls,
        configurations: Iterable[Mapping[str, Any]],
        states: Iterable[Mapping[str, Any]],
        *,
        id_shop: int | None = None,
    ) -> OrderStates:
        """Build from ``configurations`` rows (``name``, ``value``, ``id_shop``) and ``order_states`` records.

        In a multishop a key may have a global row and per-shop rows: the shop's own row wins.
        """
        by_key: dict[str, int] = {}
        shop_specific: set[str] = set()
        for row in configurations:
            name = str(row.get("name") or "")
            if not name.startswith("PS_OS_"):
                continue
            try:
                value = int(str(row.get("value")))
            except ValueError:
                continue
            row_shop = row.get("id_shop") or None
            if row_shop is not None and id_shop is not None and row_shop == id_shop:
                by_key[name] = value
                shop_specific.add(name)
            elif row_shop is None and name not in shop_specific:
                by_key[name] = value
        parsed = {s.id: s for s in (OrderState.from_record(r) for r in states)}
        return cls(by_key=by_key, states=parsed)

    def id(self, key: str) -> int:
        """The state id for ``PS_OS_PAYMENT`` or its short name ``payment``."""
        full = KEYS.get(key, key)
        try:
            return self.by_key[full]
        except KeyError:
            raise ConfigurationError(
                f"the shop has no {full} configuration key",
                resolution="check Configuration in the shop (Orders > Statuses) and the key's access to "
                           "the configurations resource",
            ) from None

    def key_for(self, state_id: int) -> str | None:
        """The ``PS_OS_*`` key a state id is configured as, if any."""
        return next((k for k, v in self.by_key.items() if v == state_id), None)

    def get(self, state_id: int) -> OrderState | None:
        return self.states.get(state_id)

    def name(self, state_id: int) -> str:
        state = self.states.get(state_id)
        return state.name if state else f"state {state_id}"

    def is_paid(self, state_id: int) -> bool:
        state = self.states.get(state_id)
        return bool(state and state.paid)

    def is_shipped(self, state_id: int) -> bool:
        state = self.states.get(state_id)
        return bool(state and state.shipped)

    def is_canceled(self, state_id: int) -> bool:
        return state_id == self.by_key.get("PS_OS_CANCELED")

    @property
    def payment(self) -> int:
        return self.id("PS_OS_PAYMENT")

    @property
    def preparation(self) -> int:
        return self.id("PS_OS_PREPARATION")

    @property
    def shipping(self) -> int:
        return self.id("PS_OS_SHIPPING")

    @property
    def delivered(self) -> int:
        return self.id("PS_OS_DELIVERED")

    @property
    def canceled(self) -> int:
        return self.id("PS_OS_CANCELED")

    @property
    def refund(self) -> int:
        return self.id("PS_OS_REFUND")

    @property
    def error(self) -> int:
        return self.id("PS_OS_ERROR")
