"""Order messages (``messages``), registered with the sandbox's resources on import.

PrestaShop's ``messages`` resource (Message: ``id_cart``, ``id_order``, ``id_customer``, ``id_employee``,
``message`` required, isCleanHtml, at most 1600 characters, ``private``, ``date_add``) is where an integration
can leave a note on an order: the ERP's invoice number goes there (``order_invoices`` is PrestaShop's own).
"""

from __future__ import annotations

from psinfor_devkit.sandbox.prestashop.schema import RESOURCES, Field, Resource


def _ids(*names: str, href: dict[str, str]) -> tuple[Field, ...]:
    return tuple(Field(n, href=href.get(n, ""), fmt="isUnsignedId") for n in names)


if "messages" not in RESOURCES:
    RESOURCES["messages"] = Resource("messages", "message", (
        Field("id"),
        *_ids("id_cart", "id_order", "id_customer", "id_employee",
              href={"id_cart": "carts", "id_order": "orders", "id_customer": "customers",
                    "id_employee": "employees"}),
        Field("message", required=True, fmt="isCleanHtml", max_size=1600),
        Field("private", fmt="isBool"),
        Field("date_add", is_date=True, fmt="isDate"),
    ), description="The Messages")
