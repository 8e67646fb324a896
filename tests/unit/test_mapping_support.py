"""Order bundles for the mapping tests, built from the seed catalogue the sandboxes share.

Typed exactly as the PrestaShop connector returns records (ids int, amounts Decimal, flags bool, dates aware,
language fields {id_lang: text}), so the tests exercise the engine on the same shapes the flow gives it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from psinfor_devkit.sandbox import catalogue as cat

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
PARIS = ZoneInfo("Europe/Paris")
SIX = Decimal("0.000001")


def _money(value: Decimal) -> Decimal:
    return value.quantize(SIX, rounding=ROUND_HALF_UP)


def address_record(address: cat.Address, customer_id: int) -> dict[str, Any]:
    return {
        "id": address.id, "id_customer": customer_id, "id_manufacturer": 0, "id_supplier": 0,
        "id_warehouse": 0, "id_country": address.id_country, "id_state": address.id_state,
        "alias": address.alias, "company": address.company, "lastname": address.lastname,
        "firstname": address.firstname, "vat_number": address.vat_number, "address1": address.address1,
        "address2": address.address2, "postcode": address.postcode, "city": address.city, "other": "",
        "phone": address.phone, "phone_mobile": "", "dni": "", "deleted": False,
        "date_add": datetime(2026, 1, 5, 10, 0, tzinfo=PARIS), "date_upd": datetime(2026, 1, 5, 10, 0, tzinfo=PARIS),
    }


def country_record(country_id: int) -> dict[str, Any]:
    c = next(c for c in cat.COUNTRIES if c.id == country_id)
    return {"id": c.id, "id_zone": 1, "id_currency": 0, "call_prefix": 0, "iso_code": c.iso_code,
            "active": True, "contains_states": c.contains_states, "need_identification_number": False,
            "need_zip_code": c.need_zip_code, "zip_code_format": c.zip_code_format,
            "display_tax_label": True, "name": {1: c.name}}


def state_record(state_id: int) -> dict[str, Any] | None:
    if not state_id:
        return None
    s = next(s for s in cat.STATES if s.id == state_id)
    return {"id": s.id, "id_zone": 2, "id_country": s.id_country, "iso_code": s.iso_code, "name": s.name,
            "active": True}


def customer_record(customer: cat.Customer, **overrides: Any) -> dict[str, Any]:
    record = {
        "id": customer.id, "id_default_group": customer.id_default_group, "id_lang": 1,
        "lastname": customer.lastname, "firstname": customer.firstname, "email": customer.email,
        "company": customer.company, "deleted": False, "active": True, "is_guest": False,
        "id_shop": 1, "id_shop_group": 1, "date_add": datetime(2026, 1, 5, 10, 0, tzinfo=PARIS),
        "date_upd": datetime(2026, 1, 5, 10, 0, tzinfo=PARIS),
        "associations": {"groups": [{"id": customer.id_default_group}]},
    }
    record.update(overrides)
    return record


def make_bundle(
    customer_id: int = 1,
    lines: list[tuple[int, int, int]] | None = None,
    *,
    order_id: int = 5,
    currency_id: int = 1,
    shipping_tax_excl: Decimal = Decimal("5.00"),
    discount_tax_excl: Decimal = Decimal("0"),
    delivery_address_index: int = -1,
) -> dict[str, Any]:
    """An order bundle: ``lines`` are (product id, combination id, quantity); prices converted to the order
    currency with its rate and taxed at the seed's 20 %, as the shop's checkout computes them."""
    lines = lines if lines is not None else [(3, 0, 2), (1, 2, 1)]
    customer = next(c for c in (*cat.CUSTOMERS, *cat.MORE_CUSTOMERS) if c.id == customer_id)
    currency = next(c for c in cat.CURRENCIES if c.id == currency_id)
    rate = currency.conversion_rate
    rows = []
    total_excl = Decimal(0)
    total_incl = Decimal(0)
    for n, (product_id, combination_id, quantity) in enumerate(lines, start=1):
        product = next(p for p in cat.PRODUCTS if p.id == product_id)
        combo = next((c for c in product.combinations if c.id == combination_id), None)
        base = product.price_tax_excl + (combo.price_impact if combo else Decimal(0))
        unit_excl = _money(base * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        unit_incl = (unit_excl * (1 + cat.TAX_RATE)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        total_excl += unit_excl * quantity
        total_incl += unit_incl * quantity
        rows.append({
            "id": 100 + n, "product_id": product_id, "product_attribute_id": combination_id,
            "product_quantity": quantity,
            "product_name": product.name + (" - " + ", ".join(v for _, v in combo.attributes) if combo else ""),
            "product_reference": combo.reference if combo else product.reference,
            "product_ean13": combo.ean13 if combo else product.ean13, "product_isbn": "", "product_upc": "",
            "product_price": _money(base * rate), "id_customization": 0,
            "unit_price_tax_incl": _money(unit_incl), "unit_price_tax_excl": _money(unit_excl),
        })
    ship_excl = (shipping_tax_excl * rate).quantize(Decimal("0.01"))
    ship_incl = (ship_excl * (1 + cat.TAX_RATE)).quantize(Decimal("0.01"))
    disc_excl = (discount_tax_excl * rate).quantize(Decimal("0.01"))
    disc_incl = (disc_excl * (1 + cat.TAX_RATE)).quantize(Decimal("0.01"))
    delivery = customer.addresses[delivery_address_index]
    invoice = customer.addresses[0]
    order = {
        "id": order_id, "id_address_delivery": delivery.id, "id_address_invoice": invoice.id, "id_cart": order_id,
        "id_currency": currency.id, "id_lang": 1, "id_customer": customer.id, "id_carrier": 2,
        "current_state": 2, "module": "ps_wirepayment", "invoice_number": 0, "invoice_date": None,
        "delivery_number": 0, "delivery_date": None, "valid": True,
        "date_add": datetime(2026, 11, 26, 23, 30, 5, tzinfo=PARIS),
        "date_upd": datetime(2026, 11, 26, 23, 30, 6, tzinfo=PARIS), "shipping_number": "",
        "id_shop_group": 1, "id_shop": 1, "secure_key": "b44a6d9efd7a0076a0fbce6b15eaf3b1",
        "payment": "Bank transfer", "recyclable": False, "gift": False, "gift_message": "", "mobile_theme": False,
        "total_discounts": _money(disc_incl), "total_discounts_tax_incl": _money(disc_incl),
        "total_discounts_tax_excl": _money(disc_excl),
        "total_paid": _money(total_incl + ship_incl - disc_incl),
        "total_paid_tax_incl": _money(total_incl + ship_incl - disc_incl),
        "total_paid_tax_excl": _money(total_excl + ship_excl - disc_excl),
        "total_paid_real": Decimal("0.000000"), "total_products": _money(total_excl),
        "total_products_wt": _money(total_incl), "total_shipping": _money(ship_incl),
        "total_shipping_tax_incl": _money(ship_incl), "total_shipping_tax_excl": _money(ship_excl),
        "carrier_tax_rate": Decimal("20.000"), "total_wrapping": Decimal("0.000000"),
        "total_wrapping_tax_incl": Decimal("0.000000"), "total_wrapping_tax_excl": Decimal("0.000000"),
        "round_mode": 2, "round_type": 1, "conversion_rate": rate, "reference": "XKBKNABJK",
        "associations": {"order_rows": rows},
    }
    return {
        "order": order,
        "customer": customer_record(customer),
        "address_delivery": address_record(delivery, customer.id),
        "address_invoice": address_record(invoice, customer.id),
        "currency": {"id": currency.id, "names": {1: currency.iso_code}, "name": currency.iso_code,
                     "symbol": {1: currency.iso_code}, "iso_code": currency.iso_code, "numeric_iso_code": "",
                     "precision": 2, "conversion_rate": rate, "deleted": False, "active": True,
                     "unofficial": False, "modified": False},
        "country_delivery": country_record(delivery.id_country),
        "country_invoice": country_record(invoice.id_country),
        "state_delivery": state_record(delivery.id_state),
        "state_invoice": state_record(invoice.id_state),
        "carrier": {"id": 2, "deleted": False, "is_module": False, "id_tax_rules_group": 1, "id_reference": 2,
                    "name": "My carrier", "active": True, "is_free": False, "url": "",
                    "shipping_handling": True, "shipping_external": False, "range_behavior": False,
                    "shipping_method": 1, "max_width": 0, "max_height": 0, "max_depth": 0,
                    "max_weight": Decimal("0.000000"), "grade": 0, "external_module_name": "",
                    "need_range": False, "position": 1, "delay": {1: "Delivery next day!"}},
    }


def erp_items() -> set[str]:
    return {itno for itno, _, _, _ in cat.erp_items()}
