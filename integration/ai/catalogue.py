"""What the shop side offers and accepts: the fields of an order bundle, and of a product.

Source names follow the order bundle (``integration/connectors/prestashop/bundles.py``): ``order.<field>``,
``customer.<field>``, ``address_delivery.<field>``, ``address_invoice.<field>``, ``currency.<field>``,
``country_delivery.<field>``, ``country_invoice.<field>``, ``state_delivery.<field>``,
``state_invoice.<field>``, ``carrier.<field>`` and ``order_rows[].<field>`` for line fields. The field lists
are the webservice's (PrestaShop 1.6 to 8, reference/prestashop-webservice.md §6); a sample bundle adds any
field it has that is not listed. Maximum lengths are PrestaShop's where its docs give them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ORDER = ("id", "id_address_delivery", "id_address_invoice", "id_cart", "id_currency", "id_lang", "id_customer",
         "id_carrier", "current_state", "module", "invoice_number", "invoice_date", "delivery_number",
         "delivery_date", "valid", "date_add", "date_upd", "shipping_number", "note", "id_shop_group", "id_shop",
         "secure_key", "payment", "recyclable", "gift", "gift_message", "mobile_theme", "total_discounts",
         "total_discounts_tax_incl", "total_discounts_tax_excl", "total_paid", "total_paid_tax_incl",
         "total_paid_tax_excl", "total_paid_real", "total_products", "total_products_wt", "total_shipping",
         "total_shipping_tax_incl", "total_shipping_tax_excl", "carrier_tax_rate", "total_wrapping",
         "total_wrapping_tax_incl", "total_wrapping_tax_excl", "round_mode", "round_type", "conversion_rate",
         "reference")
ORDER_ROW = ("id", "product_id", "product_attribute_id", "product_quantity", "product_name", "product_reference",
             "product_ean13", "product_isbn", "product_upc", "product_price", "id_customization",
             "unit_price_tax_incl", "unit_price_tax_excl")
CUSTOMER = ("id", "id_default_group", "id_lang", "newsletter_date_add", "ip_registration_newsletter",
            "last_passwd_gen", "secure_key", "deleted", "passwd", "lastname", "firstname", "email", "id_gender",
            "birthday", "newsletter", "optin", "website", "company", "siret", "ape", "outstanding_allow_amount",
            "show_public_prices", "id_risk", "max_payment_days", "active", "note", "is_guest", "id_shop",
            "id_shop_group", "date_add", "date_upd")
ADDRESS = ("id", "id_customer", "id_manufacturer", "id_supplier", "id_warehouse", "id_country", "id_state",
           "alias", "company", "lastname", "firstname", "vat_number", "address1", "address2", "postcode", "city",
           "other", "phone", "phone_mobile", "dni", "deleted", "date_add", "date_upd")
CURRENCY = ("id", "name", "iso_code", "iso_code_num", "numeric_iso_code", "sign", "symbol", "precision",
            "conversion_rate", "deleted", "active")
COUNTRY = ("id", "id_zone", "id_currency", "call_prefix", "iso_code", "active", "contains_states",
           "need_identification_number", "need_zip_code", "zip_code_format", "display_tax_label", "name")
STATE = ("id", "id_zone", "id_country", "iso_code", "name", "active")
CARRIER = ("id", "deleted", "is_module", "id_tax_rules_group", "id_reference", "name", "active", "is_free", "url",
           "shipping_handling", "shipping_external", "range_behavior", "shipping_method", "max_width",
           "max_height", "max_depth", "max_weight", "grade", "external_module_name", "need_range", "position",
           "delay")

PARTS: dict[str, tuple[str, ...]] = {
    "order": ORDER, "customer": CUSTOMER, "address_delivery": ADDRESS, "address_invoice": ADDRESS,
    "currency": CURRENCY, "country_delivery": COUNTRY, "country_invoice": COUNTRY, "state_delivery": STATE,
    "state_invoice": STATE, "carrier": CARRIER, "order_rows[]": ORDER_ROW,
}

# Maximum lengths PrestaShop documents (ObjectModel definitions); None = not documented / not text.
MAX_LENGTH: dict[str, int] = {
    "reference": 9, "alias": 32, "company": 255, "lastname": 255, "firstname": 255, "vat_number": 32,
    "address1": 128, "address2": 128, "postcode": 12, "city": 64, "other": 300, "phone": 32, "phone_mobile": 32,
    "dni": 16, "email": 255, "iso_code": 3, "name": 64, "product_name": 255, "product_reference": 64,
    "product_ean13": 13, "product_upc": 12, "product_isbn": 32, "module": 255, "payment": 255,
    "gift_message": 1000, "shipping_number": 64, "siret": 14, "ape": 6, "website": 128, "note": 65000,
}

# The product fields an M3 item record can fill (the item direction): PrestaShop's kind, length and meaning
# (reference/prestashop-webservice.md §6.5 and the webservice's products resource).
PRODUCT: dict[str, tuple[str, int | None, str]] = {
    "reference": ("identifier", 64, "product reference (SKU)"),
    "supplier_reference": ("identifier", 64, "supplier's reference"),
    "ean13": ("identifier", 13, "EAN-13 barcode"), "upc": ("identifier", 12, "UPC barcode"),
    "isbn": ("identifier", 32, "ISBN"), "mpn": ("identifier", 40, "manufacturer part number"),
    "name": ("text", 128, "product name"), "description": ("text", None, "long description"),
    "description_short": ("text", 800, "short description, summary"),
    "meta_title": ("text", 255, "meta title for search engines"),
    "meta_description": ("text", 512, "meta description for search engines"),
    "link_rewrite": ("text", 128, "friendly URL"),
    "price": ("amount", None, "sales price, tax excluded"),
    "wholesale_price": ("amount", None, "wholesale price, cost price"),
    "ecotax": ("amount", None, "ecotax"), "weight": ("amount", None, "package weight"),
    "width": ("amount", None, "package width"), "height": ("amount", None, "package height"),
    "depth": ("amount", None, "package depth"),
    "active": ("bool", None, "status, active"), "available_for_order": ("bool", None, "available for order"),
    "on_sale": ("bool", None, "on sale flag"),
    "date_add": ("date", None, "date created"), "date_upd": ("date", None, "date updated"),
    "available_date": ("date", None, "date available"),
    "unity": ("text", 255, "unit for the unit price"), "minimal_quantity": ("quantity", None, "minimum quantity"),
    "id_category_default": ("identifier", None, "default category id"),
    "id_manufacturer": ("identifier", None, "manufacturer id"), "id_supplier": ("identifier", None, "supplier id"),
    "id_tax_rules_group": ("identifier", None, "tax rules group id"),
    "condition": ("code", None, "condition: new, used, refurbished"),
    "visibility": ("code", None, "visibility: both, catalog, search, none"),
    "location": ("text", 64, "warehouse location"),
}


@dataclass(frozen=True)
class Source:
    """One shop field: where it is in the bundle and the values a sample gave it (none without a sample)."""

    part: str
    field: str
    values: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.part}.{self.field}" if self.part else self.field


def _rows(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    order = bundle.get("order") or {}
    rows = (order.get("associations") or {}).get("order_rows") or []
    return [r for r in rows if isinstance(r, Mapping)]


def bundle_sources(bundle: Mapping[str, Any] | None = None) -> list[Source]:
    """Every source field, with its sample values when a bundle is given (fields only the sample has included)."""
    out: list[Source] = []
    for part, fields in PARTS.items():
        if part == "order_rows[]":
            rows = _rows(bundle) if bundle else []
            extra = sorted({k for r in rows for k in r} - set(fields))
            for field in (*fields, *extra):
                out.append(Source(part, field, tuple(r.get(field) for r in rows)))
            continue
        record = (bundle or {}).get(part) or {}
        extra = sorted(k for k in record if k not in fields and k != "associations")
        for field in (*fields, *extra):
            out.append(Source(part, field, (record[field],) if field in record else ()))
    return out


def m3_record_sources(record: Mapping[str, Any] | None, fields: Iterator[str] | list[str]) -> list[Source]:
    """M3 output fields as sources (the item direction), with a sample record's values when given."""
    record = record or {}
    return [Source("", name, (record[name],) if name in record else ()) for name in fields]
