"""Customers, addresses, payments and order messages over the PrestaShop webservice.

Customers are always read with an explicit field list: a full ``customers`` GET carries the password hash and
the secure key (reference §1.4), and what a flow reads is kept in the store. Addresses are read as they are
(an edited address that orders use is soft-deleted and replaced by PrestaShop, so a deleted address is still
readable and says ``deleted``). Payments are linked to orders by reference, not by id (``order_payments``).

Invoice numbers from the ERP go on the order as a message (``messages``: ``id_order``, ``message``,
``private``): ``order_invoices`` is PrestaShop's own invoice, created from order states, and read-only for an
integration.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from integration.connectors.prestashop.bundles import reference_cache
from integration.connectors.prestashop.client import PrestaShopClient

CUSTOMER_FIELDS = ("id", "id_default_group", "id_lang", "deleted", "lastname", "firstname", "email", "company",
                   "siret", "active", "is_guest", "id_shop", "date_add", "date_upd")
MESSAGE_MAX = 1600  # messages.message


def get_customer(client: PrestaShopClient, customer_id: int) -> dict[str, Any]:
    """One customer without its password hash or secure key; ``PrestaShopNotFound`` when there is none."""
    return client.get("customers", int(customer_id), display=list(CUSTOMER_FIELDS))


def find_customers_by_email(client: PrestaShopClient, email: str) -> list[dict[str, Any]]:
    """Customers with this e-mail (a guest and an account may share one), lowest id first."""
    return list(client.list("customers", display=list(CUSTOMER_FIELDS), filters={"email": f"[{email.strip()}]"}))


def customer_addresses(client: PrestaShopClient, customer_id: int, *, include_deleted: bool = False
                       ) -> list[dict[str, Any]]:
    """The customer's addresses, lowest id first (the first is the one registered with the account)."""
    filters: dict[str, Any] = {"id_customer": int(customer_id)}
    if not include_deleted:
        filters["deleted"] = 0
    return list(client.list("addresses", filters=filters))


def get_address(client: PrestaShopClient, address_id: int) -> dict[str, Any]:
    return client.get("addresses", int(address_id))


def country(client: PrestaShopClient, country_id: int | None) -> dict[str, Any] | None:
    return reference_cache.get(client, "countries", int(country_id)) if country_id else None


def state(client: PrestaShopClient, state_id: int | None) -> dict[str, Any] | None:
    return reference_cache.get(client, "states", int(state_id)) if state_id else None


def country_id(client: PrestaShopClient, iso_code: str) -> int | None:
    rows = list(client.list("countries", display=["id", "iso_code"], filters={"iso_code": f"[{iso_code}]"}))
    return int(rows[0]["id"]) if rows else None


def state_id(client: PrestaShopClient, id_country: int, iso_code: str) -> int | None:
    rows = list(client.list("states", display=["id", "iso_code", "id_country"],
                            filters={"id_country": int(id_country), "iso_code": f"[{iso_code}]"}))
    return int(rows[0]["id"]) if rows else None


def update_customer(client: PrestaShopClient, customer_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Change only ``fields`` (PATCH, or GET+PUT on 1.7)."""
    return client.patch("customers", int(customer_id), fields)


def update_address(client: PrestaShopClient, address_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    return client.patch("addresses", int(address_id), fields)


def changed_since(client: PrestaShopClient, resource: str, since: datetime, until: datetime
                  ) -> Iterator[dict[str, Any]]:
    """``[id, date_upd]`` (and ``id_customer`` for addresses) of the rows changed in ``[since, until]``."""
    display = ["id", "date_upd"] + (["id_customer"] if resource == "addresses" else [])
    return client.list(resource, display=display, filters={"date_upd": (since, until)},
                       sort="[date_upd_ASC,id_ASC]", date=True)


def customer_orders(client: PrestaShopClient, customer_id: int) -> list[dict[str, Any]]:
    return list(client.list("orders", filters={"id_customer": int(customer_id)},
                            display=["id", "reference", "current_state", "id_currency", "total_paid_tax_incl",
                                     "total_paid_real", "total_shipping_tax_incl", "total_discounts_tax_incl",
                                     "conversion_rate", "date_add", "date_upd", "payment", "module"]))


def order_payments(client: PrestaShopClient, reference: str) -> list[dict[str, Any]]:
    """The order's payments (amount, method, transaction id), linked by the order reference."""
    if not reference:
        return []
    return list(client.list("order_payments", filters={"order_reference": f"[{reference}]"}))


def order_messages(client: PrestaShopClient, order_id: int) -> list[dict[str, Any]]:
    return list(client.list("messages", filters={"id_order": int(order_id)}))


def add_order_message(client: PrestaShopClient, order_id: int, text: str, *, private: bool = True,
                      customer_id: int | None = None) -> dict[str, Any]:
    """POST one order message (``messages``)."""
    fields: dict[str, Any] = {"id_order": int(order_id), "message": text[:MESSAGE_MAX], "private": bool(private)}
    if customer_id:
        fields["id_customer"] = int(customer_id)
    return client.create("messages", fields)
