"""An order bundle: one order with everything the order flow needs about it, read in one place.

``{"order", "customer", "address_delivery", "address_invoice", "currency", "country_delivery",
"country_invoice", "state_delivery", "state_invoice", "carrier"}``; states are None when the address has
none (``id_state`` 0), the carrier None when the order has none. The same shape comes from the live shop
(``fetch_order_bundle``) and from saved files (``read_order_bundle``), so mapping tests run on fixtures.

Addresses are read by the ids stored on the order: PrestaShop soft-deletes an edited address and creates a
new one, so the order's ids always point at what the customer saw at checkout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integration.connectors.prestashop.errors import PrestaShopNotFound
from integration.connectors.prestashop.parsing import parse_xml

BUNDLE_KEYS = ("order", "customer", "address_delivery", "address_invoice", "currency", "country_delivery",
               "country_invoice", "state_delivery", "state_invoice", "carrier")

Getter = Callable[[str, int], dict[str, Any]]


def assemble_bundle(order: dict[str, Any], get: Getter) -> dict[str, Any]:
    """Build the bundle around ``order`` with ``get(resource, id)``; each distinct object is read once."""
    cache: dict[tuple[str, int], dict[str, Any]] = {}

    def fetch(resource: str, object_id: Any) -> dict[str, Any] | None:
        if not object_id:
            return None
        key = (resource, int(object_id))
        if key not in cache:
            cache[key] = get(resource, int(object_id))
        return cache[key]

    def optional(resource: str, object_id: Any) -> dict[str, Any] | None:
        try:
            return fetch(resource, object_id)
        except PrestaShopNotFound:
            return None

    delivery = fetch("addresses", order.get("id_address_delivery"))
    invoice = fetch("addresses", order.get("id_address_invoice"))
    return {
        "order": order,
        "customer": fetch("customers", order.get("id_customer")),
        "address_delivery": delivery,
        "address_invoice": invoice,
        "currency": fetch("currencies", order.get("id_currency")),
        "country_delivery": fetch("countries", (delivery or {}).get("id_country")),
        "country_invoice": fetch("countries", (invoice or {}).get("id_country")),
        "state_delivery": optional("states", (delivery or {}).get("id_state")),
        "state_invoice": optional("states", (invoice or {}).get("id_state")),
        "carrier": optional("carriers", order.get("id_carrier")),
    }


# Objects that hardly ever change and that every order refers to: read once per process and TTL, not per order.
# (PrestaShop versions carriers, so a carrier id never changes meaning; orders carry their own conversion rate.)
REFERENCE_RESOURCES = frozenset({"currencies", "countries", "states", "carriers"})
REFERENCE_TTL_SECONDS = 300.0


class ReferenceCache:
    """A small thread-safe TTL cache of reference objects, per shop (base URL and shop id)."""

    def __init__(self, ttl: float = REFERENCE_TTL_SECONDS):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}

    def get(self, client: Any, resource: str, object_id: int) -> dict[str, Any]:
        key = (getattr(client, "base_url", id(client)), getattr(client, "id_shop", None), resource, object_id)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        record: dict[str, Any] = client.get(resource, object_id)
        with self._lock:
            self._entries[key] = (now, record)
        return record

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


reference_cache = ReferenceCache()


def fetch_order_bundle(client: Any, order_id: int) -> dict[str, Any]:
    """The bundle of one order, live from the shop: the order, its customer and addresses (3 to 4 GETs), with
    currency, countries, states and carrier from the reference cache (read once per process and TTL)."""
    order = client.get("orders", int(order_id))

    def get(resource: str, object_id: int) -> dict[str, Any]:
        if resource in REFERENCE_RESOURCES:
            return reference_cache.get(client, resource, object_id)
        return dict(client.get(resource, object_id))

    return assemble_bundle(order, get)


def read_order_bundle(path: str | Path, *, timezone: str = "Europe/Paris") -> dict[str, Any]:
    """The bundle from files: ``…/orders/ID.xml`` with ``…/customers/ID.xml``, ``…/addresses/ID.xml``… beside it.

    Missing related files raise ``PrestaShopNotFound`` (states and carrier are optional and become None).
    """
    order_path = Path(path)
    root = order_path.parent.parent

    def load(resource: str, object_id: int) -> dict[str, Any]:
        file = root / resource / f"{object_id}.xml"
        if not file.is_file():
            raise PrestaShopNotFound(f"no saved {resource}/{object_id}.xml beside {order_path}", url=str(file))
        _, record = parse_xml(file.read_bytes(), str(file), timezone=timezone)
        if not isinstance(record, dict):
            raise PrestaShopNotFound(f"{file} holds a list, not one {resource} object", url=str(file))
        return record

    _, order = parse_xml(order_path.read_bytes(), str(order_path), timezone=timezone)
    if not isinstance(order, dict):
        raise PrestaShopNotFound(f"{order_path} holds a list, not one order", url=str(order_path))
    return assemble_bundle(order, load)
