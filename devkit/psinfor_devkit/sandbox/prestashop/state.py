"""The sandbox shop's data and the side effects the real shop has.

Records are stored the way PrestaShop outputs them (strings; i18n fields as ``{id_lang: text}``;
``associations`` as lists of small dicts) and replaced whole on every write, so readers never need a lock:
they see the old record or the new one. Writers take one lock.

Side effects that matter to the middleware are reproduced: an ``order_histories`` POST (or a
``current_state`` write) moves the order, bumps ``date_upd``, creates the invoice number and payment when
the state says so, and restocks on cancellation; a variant's stock write recomputes the product row as the
sum of its variants; a checkout creates the order with its rows, details, carrier row, payment and first
history, and takes the stock.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.prestashop.query import WsError
from psinfor_devkit.sandbox.prestashop.schema import RESOURCES, Field, Resource

LANGUAGES = (1, 2)  # English, French: two languages make the JSON i18n shape the list form
SHOP_ID = 1
SHOP_GROUP_ID = 1
DEFAULT_VERSION = "8.1.5"
CENT = Decimal("0.01")
SIX = Decimal("0.000001")
SHIPPING_TAX_EXCL = Decimal("4.90")  # the seeded carrier's price, default currency, tax excluded

# (id, en name, config key, paid, shipped, delivery, logable, invoice, send_email, module, template, color)
# The ids after 10 follow a real shop where a payment module added a state (OCA test_import_basedata): code
# that hard-codes install ids breaks here, as it would in production.
ORDER_STATES: tuple[tuple[int, str, str, int, int, int, int, int, int, str, str, str], ...] = (
    (1, "Awaiting check payment", "PS_OS_CHEQUE", 0, 0, 0, 0, 0, 1, "ps_checkpayment", "cheque", "#34209E"),
    (2, "Payment accepted", "PS_OS_PAYMENT", 1, 0, 0, 1, 1, 1, "", "payment", "#3498D8"),
    (3, "Processing in progress", "PS_OS_PREPARATION", 1, 0, 1, 1, 1, 1, "", "preparation", "#3498D8"),
    (4, "Shipped", "PS_OS_SHIPPING", 1, 1, 1, 1, 1, 1, "", "shipped", "#01b887"),
    (5, "Delivered", "PS_OS_DELIVERED", 1, 1, 1, 1, 1, 0, "", "", "#01b887"),
    (6, "Canceled", "PS_OS_CANCELED", 0, 0, 0, 0, 0, 1, "", "order_canceled", "#2C3E50"),
    (7, "Refunded", "PS_OS_REFUND", 0, 0, 0, 0, 1, 1, "", "refund", "#ec2e15"),
    (8, "Payment error", "PS_OS_ERROR", 0, 0, 0, 0, 0, 1, "", "payment_error", "#ec2e15"),
    (9, "On backorder (paid)", "PS_OS_OUTOFSTOCK_PAID", 1, 0, 0, 0, 1, 1, "", "outofstock", "#3498D8"),
    (10, "Awaiting bank wire payment", "PS_OS_BANKWIRE", 0, 0, 0, 0, 0, 1, "ps_wirepayment", "bankwire",
     "#34209E"),
    (11, "Awaiting PayPal payment", "", 0, 0, 0, 0, 0, 1, "paypal", "", "#4169E1"),
    (12, "Remote payment accepted", "PS_OS_WS_PAYMENT", 1, 0, 0, 1, 1, 1, "", "payment", "#3498D8"),
    (13, "On backorder (not paid)", "PS_OS_OUTOFSTOCK_UNPAID", 0, 0, 0, 0, 0, 1, "", "outofstock", "#34209E"),
    (14, "Awaiting Cash On Delivery validation", "PS_OS_COD_VALIDATION", 0, 0, 0, 0, 0, 0, "ps_cashondelivery",
     "", "#34209E"),
)

PAYMENT_MODULES = (("ps_checkout", "Card payment", "VISA"), ("stripe_official", "Stripe", "MASTERCARD"),
                   ("ps_checkout", "PayPal", ""))

OFFLINE_PAYMENTS = {"ps_wirepayment": "Bank transfer", "ps_checkpayment": "Payments by check",
                    "ps_cashondelivery": "Cash on delivery (COD)", "paypal": "PayPal"}

COUNTRY_INFO = {"FR": (1, "33"), "DE": (1, "49"), "ES": (1, "34"), "IT": (1, "39"), "GB": (1, "44"),
                "US": (2, "1"), "AU": (5, "61"), "MX": (2, "52")}
# Shop groups and their shops: (group id, name, [(shop id, name)]). Group 3 has no shop, as a group an
# administrator created and never filled: WebserviceRequest::groupShopExists answers 500, code 999.
SHOP_GROUPS: tuple[tuple[int, str, tuple[tuple[int, str], ...]], ...] = (
    (1, "Default", ((1, "psinfor sandbox"),)),
    (2, "Outlets", ((2, "psinfor outlet Lyon"), (3, "psinfor outlet Madrid"))),
    (3, "Spring pop-ups", ()),
)
# What a day of checkouts looks like: (weight, initial state, cancelled later). Bank wires and cheques wait for
# their payment, a card payment can fail, and some customers cancel an order they have not paid.
CHECKOUT_MIX: tuple[tuple[int, str, bool], ...] = (
    (60, "PS_OS_PAYMENT", False),
    (18, "PS_OS_BANKWIRE", False),
    (4, "PS_OS_CHEQUE", False),
    (8, "PS_OS_ERROR", False),
    (10, "PS_OS_BANKWIRE", True),
)
CURRENCY_INFO = {"EUR": ("Euro", "€", "978"), "USD": ("US Dollar", "$", "840"), "GBP": ("British Pound", "£", "826")}
COUNTRY_CURRENCY = {"US": "USD", "GB": "GBP"}

EventSink = Callable[[str, int], None]


def money(value: Decimal) -> str:
    """PrestaShop's 6-decimal string for an amount."""
    return str(value.quantize(SIX, rounding=ROUND_HALF_UP))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _lang(text: str) -> dict[int, str]:
    return {i: text for i in LANGUAGES}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class KeyAccess:
    """A webservice key: active or not, and its permissions (None = every resource, every method)."""

    active: bool = True
    permissions: dict[str, set[str]] | None = None
    shops: set[int] | None = None  # shops the key is associated with (None = every shop)

    def methods_for(self, resource: str) -> set[str]:
        if self.permissions is None:
            return set(RESOURCES[resource].methods) if resource in RESOURCES else set()
        return set(self.permissions.get(resource, set()))


@dataclass
class Counters:
    emails: int = 0
    orders_placed: int = 0
    writes: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class ShopState:
    """All the sandbox shop's objects, with PrestaShop's write rules and side effects."""

    def __init__(self, *, timezone: str = catalogue.SHOP_TIMEZONE, seed: int = 42,
                 events: EventSink | None = None):
        self.tz = ZoneInfo(timezone)
        self.version = DEFAULT_VERSION
        self.webservice_enabled = True
        self.shop_name = "psinfor sandbox"
        self.tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in RESOURCES}
        self.next_id: dict[str, int] = {name: 1 for name in RESOURCES}
        self.keys: dict[str, KeyAccess] = {}
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.events: EventSink = events or (lambda event, object_id: None)
        self.counters = Counters()
        self.stock_index: dict[tuple[int, int], int] = {}
        self.carrier_rows: dict[int, int] = {}  # id_order -> order_carriers id
        self._invoice_number = 0
        self._delivery_number = 0
        self._cart_id = 100
        self._seed()

    # -- basics -----------------------------------------------------------------------------------------

    def now(self) -> str:
        return datetime.now(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def resource(self, name: str) -> Resource:
        return RESOURCES[name]

    def get(self, resource: str, object_id: int) -> dict[str, Any] | None:
        return self.tables[resource].get(object_id)

    def all(self, resource: str) -> list[dict[str, Any]]:
        return list(self.tables[resource].values())

    def _blank(self, resource: str) -> dict[str, Any]:
        spec = RESOURCES[resource]
        record: dict[str, Any] = {f.name: (_lang("") if f.lang else "") for f in spec.fields}
        if spec.associations:
            record["associations"] = {a.name: [] for a in spec.associations}
        return record

    def _insert(self, resource: str, values: dict[str, Any], object_id: int | None = None) -> dict[str, Any]:
        """Add a record (the caller holds the lock or is seeding); fills missing fields with blanks."""
        table = self.tables[resource]
        if object_id is None:
            object_id = self.next_id[resource]
        self.next_id[resource] = max(self.next_id[resource], object_id + 1)
        record = self._blank(resource)
        record.update(values)
        record["id"] = str(object_id)
        table[object_id] = record
        self._index(resource, record)
        return record

    def _replace(self, resource: str, record: dict[str, Any]) -> dict[str, Any]:
        self.tables[resource][int(record["id"])] = record
        self._index(resource, record)
        return record

    def _index(self, resource: str, record: dict[str, Any]) -> None:
        if resource == "stock_availables":
            self.stock_index[(int(record["id_product"]), int(record["id_product_attribute"] or 0))] = int(record["id"])
        elif resource == "order_carriers":
            self.carrier_rows.setdefault(int(record["id_order"]), int(record["id"]))

    # -- seed -------------------------------------------------------------------------------------------

    def _seed(self) -> None:
        when = "2025-11-03 09:12:45"
        self._insert("languages", {"name": "English (English)", "iso_code": "en", "locale": "en-US",
                                   "language_code": "en-us", "active": "1", "is_rtl": "0",
                                   "date_format_lite": "m/d/Y", "date_format_full": "m/d/Y H:i:s"}, 1)
        self._insert("languages", {"name": "Français (French)", "iso_code": "fr", "locale": "fr-FR",
                                   "language_code": "fr", "active": "1", "is_rtl": "0",
                                   "date_format_lite": "d/m/Y", "date_format_full": "d/m/Y H:i:s"}, 2)
        for group_id, group_name, shops in SHOP_GROUPS:
            self._insert("shop_groups", {"name": group_name, "color": "", "share_customer": "1",
                                         "share_order": "0", "share_stock": "0", "active": "1", "deleted": "0"},
                         group_id)
            for shop_id, shop_name in shops:
                self._insert("shops", {"id_shop_group": str(group_id), "id_category": "2", "active": "1",
                                       "deleted": "0", "name": self.shop_name if shop_id == SHOP_ID else shop_name,
                                       "color": "", "theme_name": "classic"}, shop_id)
        for currency in catalogue.CURRENCIES:
            name, symbol, numeric = CURRENCY_INFO[currency.iso_code]
            self._insert("currencies", {
                "names": _lang(name), "name": name, "symbol": _lang(symbol), "iso_code": currency.iso_code,
                "numeric_iso_code": numeric, "precision": "2", "conversion_rate": money(currency.conversion_rate),
                "deleted": "0", "active": "1", "unofficial": "0", "modified": "0", "pattern": _lang(""),
            }, currency.id)
        for country in catalogue.COUNTRIES:
            zone, prefix = COUNTRY_INFO.get(country.iso_code, (1, ""))
            self._insert("countries", {
                "id_zone": str(zone), "id_currency": "0", "call_prefix": prefix, "iso_code": country.iso_code,
                "active": "1", "contains_states": "1" if country.contains_states else "0",
                "need_identification_number": "0", "need_zip_code": "1" if country.need_zip_code else "0",
                "zip_code_format": country.zip_code_format, "display_tax_label": "1", "name": _lang(country.name),
            }, country.id)
        zones = {c.id: COUNTRY_INFO.get(c.iso_code, (1, ""))[0] for c in catalogue.COUNTRIES}
        for state in catalogue.STATES:
            self._insert("states", {"id_zone": str(zones.get(state.id_country, 2)), "id_country": str(state.id_country),
                                    "iso_code": state.iso_code, "name": state.name, "active": "1"}, state.id)
        for (sid, name, _key, paid, shipped, delivery, logable, invoice, send_email, module, template,
             color) in ORDER_STATES:
            self._insert("order_states", {
                "unremovable": "1" if _key else "0", "delivery": str(delivery), "hidden": "0",
                "send_email": str(send_email), "module_name": module, "invoice": str(invoice), "color": color,
                "logable": str(logable), "shipped": str(shipped), "paid": str(paid),
                "pdf_delivery": str(delivery and shipped), "pdf_invoice": str(invoice and paid), "deleted": "0",
                "name": _lang(name), "template": _lang(template),
            }, sid)
        config = {"PS_TIMEZONE": catalogue.SHOP_TIMEZONE, "PS_LANG_DEFAULT": "1",
                  "PS_CURRENCY_DEFAULT": str(catalogue.DEFAULT_CURRENCY_ID), "PS_COUNTRY_DEFAULT": "8",
                  "PS_SHOP_DEFAULT": str(SHOP_ID), "PS_MULTISHOP_FEATURE_ACTIVE": "1", "PS_WEBSERVICE": "1",
                  "PS_ROUND_TYPE": "1",
                  "PS_PRICE_ROUND_MODE": "2", "PS_INVOICE_PREFIX": "#IN"}
        config.update({key: str(sid) for sid, _n, key, *_rest in ORDER_STATES if key})
        for name, value in config.items():
            self._insert("configurations", {"value": value, "name": name, "id_shop_group": "", "id_shop": "",
                                            "date_add": when, "date_upd": when})
        self._insert("carriers", {
            "deleted": "0", "is_module": "0", "id_tax_rules_group": "1", "id_reference": "1",
            "name": "Click and collect", "active": "1", "is_free": "1", "url": "", "shipping_handling": "0",
            "shipping_external": "0", "range_behavior": "0", "shipping_method": "0", "max_width": "0",
            "max_height": "0", "max_depth": "0", "max_weight": "0.000000", "grade": "0",
            "external_module_name": "", "need_range": "0", "position": "0", "delay": _lang("Pick up in-store"),
        }, 1)
        self._insert("carriers", {
            "deleted": "0", "is_module": "0", "id_tax_rules_group": "1", "id_reference": "2",
            "name": "Colissimo", "active": "1", "is_free": "0",
            "url": "https://www.laposte.fr/outils/suivre-vos-envois?code=@", "shipping_handling": "1",
            "shipping_external": "0", "range_behavior": "0", "shipping_method": "1", "max_width": "0",
            "max_height": "0", "max_depth": "0", "max_weight": "30.000000", "grade": "0",
            "external_module_name": "", "need_range": "0", "position": "1", "delay": _lang("Delivery in 2-3 days"),
        }, 2)
        option_values: dict[tuple[str, str], int] = {}
        for product in catalogue.PRODUCTS:
            self._seed_product(product, option_values, when)
        for customer in (*catalogue.CUSTOMERS, *catalogue.MORE_CUSTOMERS):
            self._seed_customer(customer, when)

    def _seed_product(self, product: catalogue.Product, option_values: dict[tuple[str, str], int],
                      when: str) -> None:
        combos = product.combinations
        first_combo = combos[0].id if combos else 0
        stock_rows = [{"id": str(self.next_id["stock_availables"]), "id_product_attribute": "0"}]
        self._insert("stock_availables", self._stock_values(product.id, 0,
                                                             sum(c.stock for c in combos) if combos else product.stock))
        for combo in combos:
            values = []
            for group, value in combo.attributes:
                values.append(option_values.setdefault((group, value), len(option_values) + 1))
            self._insert("combinations", {
                "id_product": str(product.id), "location": "", "ean13": combo.ean13, "isbn": "", "upc": "",
                "mpn": "", "quantity": str(combo.stock), "reference": combo.reference, "supplier_reference": "",
                "wholesale_price": "0.000000", "price": money(combo.price_impact), "ecotax": "0.000000",
                "weight": "0.000000", "unit_price_impact": "0.000000", "minimal_quantity": "1",
                "low_stock_threshold": "", "low_stock_alert": "0",
                "default_on": "1" if combo.id == first_combo else "", "available_date": "0000-00-00",
                "associations": {"product_option_values": [{"id": str(v)} for v in values], "images": []},
            }, combo.id)
            stock_rows.append({"id": str(self.next_id["stock_availables"]), "id_product_attribute": str(combo.id)})
            self._insert("stock_availables", self._stock_values(product.id, combo.id, combo.stock))
        name = product.name
        self._insert("products", {
            "id_manufacturer": "0", "id_supplier": "0", "id_category_default": "2", "new": "",
            "cache_default_attribute": str(first_combo), "id_default_image": "",
            "id_default_combination": str(first_combo), "id_tax_rules_group": str(product.id_tax_rules_group),
            "position_in_category": str(product.id - 1), "manufacturer_name": "", "quantity": "0",
            "type": "simple", "id_shop_default": str(SHOP_ID), "reference": product.reference,
            "supplier_reference": "", "location": "", "width": "0.000000", "height": "0.000000",
            "depth": "0.000000", "weight": money(product.weight), "quantity_discount": "0", "ean13": product.ean13,
            "isbn": "", "upc": "", "mpn": "", "cache_is_pack": "0", "cache_has_attachments": "0", "is_virtual": "0",
            "state": "1", "additional_delivery_times": "1", "delivery_in_stock": _lang(""),
            "delivery_out_stock": _lang(""), "product_type": "combinations" if combos else "standard",
            "on_sale": "0", "online_only": "0", "ecotax": "0.000000", "minimal_quantity": "1",
            "low_stock_threshold": "", "low_stock_alert": "0", "price": money(product.price_tax_excl),
            "wholesale_price": money(cents(product.price_tax_excl * Decimal("0.4"))), "unity": "",
            "unit_price_ratio": "0.000000", "additional_shipping_cost": "0.000000", "customizable": "0",
            "text_fields": "0", "uploadable_files": "0", "active": "1", "redirect_type": "404",
            "id_type_redirected": "0", "available_for_order": "1", "available_date": "0000-00-00",
            "show_condition": "0", "condition": "new", "show_price": "1", "indexed": "1", "visibility": "both",
            "advanced_stock_management": "0", "date_add": when, "date_upd": when, "pack_stock_type": "3",
            "meta_description": _lang(""), "meta_keywords": _lang(""), "meta_title": _lang(""),
            "link_rewrite": _lang(_slug(name)), "name": _lang(name),
            "description": _lang(f"<p>{name}.</p>"), "description_short": _lang(f"<p>{name}</p>"),
            "available_now": _lang("In stock"), "available_later": _lang(""),
            "associations": {
                "categories": [{"id": "2"}], "images": [],
                "combinations": [{"id": str(c.id)} for c in combos],
                "product_option_values": [], "product_features": [], "tags": [], "stock_availables": stock_rows,
                "attachments": [], "accessories": [], "product_bundle": [],
            },
        }, product.id)

    @staticmethod
    def _stock_values(product_id: int, attribute_id: int, quantity: int) -> dict[str, Any]:
        return {"id_product": str(product_id), "id_product_attribute": str(attribute_id), "id_shop": str(SHOP_ID),
                "id_shop_group": "0", "quantity": str(quantity), "depends_on_stock": "0", "out_of_stock": "2",
                "location": ""}

    def _seed_customer(self, customer: catalogue.Customer, when: str) -> None:
        self._insert("customers", self._customer_values(
            firstname=customer.firstname, lastname=customer.lastname, email=customer.email,
            company=customer.company, group=customer.id_default_group, when=when), customer.id)
        for address in customer.addresses:
            self._insert("addresses", self._address_values(customer.id, address.__dict__, when), address.id)

    def _customer_values(self, *, firstname: str, lastname: str, email: str, company: str = "", group: int = 3,
                         when: str, is_guest: bool = False) -> dict[str, Any]:
        secret = hashlib.md5(f"{email}{self.rng.random()}".encode(), usedforsecurity=False).hexdigest()
        return {
            "id_default_group": str(group), "id_lang": "1", "newsletter_date_add": "0000-00-00 00:00:00",
            "ip_registration_newsletter": "", "last_passwd_gen": when, "secure_key": secret, "deleted": "0",
            "passwd": "$2y$10$" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=53)),
            "lastname": lastname, "firstname": firstname, "email": email, "id_gender": "0",
            "birthday": "0000-00-00", "newsletter": "0", "optin": "0", "website": "", "company": company,
            "siret": "", "ape": "", "outstanding_allow_amount": "0.000000", "show_public_prices": "0",
            "id_risk": "0", "max_payment_days": "0", "active": "1", "note": "",
            "is_guest": "1" if is_guest else "0", "id_shop": str(SHOP_ID), "id_shop_group": str(SHOP_GROUP_ID),
            "date_add": when, "date_upd": when, "reset_password_token": "",
            "reset_password_validity": "0000-00-00 00:00:00", "associations": {"groups": [{"id": str(group)}]},
        }

    @staticmethod
    def _address_values(customer_id: int, data: dict[str, Any], when: str) -> dict[str, Any]:
        return {
            "id_customer": str(customer_id), "id_manufacturer": "0", "id_supplier": "0", "id_warehouse": "0",
            "id_country": str(data.get("id_country", 8)), "id_state": str(data.get("id_state", 0) or 0),
            "alias": data.get("alias", "Home"), "company": data.get("company", ""),
            "lastname": data.get("lastname", ""), "firstname": data.get("firstname", ""),
            "vat_number": data.get("vat_number", ""), "address1": data.get("address1", ""),
            "address2": data.get("address2", ""), "postcode": data.get("postcode", ""),
            "city": data.get("city", ""), "other": "", "phone": data.get("phone", ""), "phone_mobile": "",
            "dni": "", "deleted": "0", "date_add": when, "date_upd": when,
        }

    # -- stock ------------------------------------------------------------------------------------------

    def _stock_row(self, product_id: int, attribute_id: int) -> dict[str, Any] | None:
        row_id = self.stock_index.get((product_id, attribute_id))
        return self.tables["stock_availables"].get(row_id) if row_id is not None else None

    def _variant_ids(self, product_id: int) -> list[int]:
        product = self.get("products", product_id)
        if product is None:
            return []
        return [int(c["id"]) for c in (product.get("associations") or {}).get("combinations", [])]

    def _recompute_product_row(self, product_id: int) -> None:
        """StockAvailable::postSave: the product row of a product with combinations is the sum of its variants."""
        variants = self._variant_ids(product_id)
        if not variants:
            return
        total = sum(int((self._stock_row(product_id, v) or {}).get("quantity") or 0) for v in variants)
        row = self._stock_row(product_id, 0)
        if row is not None and row["quantity"] != str(total):
            self._replace("stock_availables", {**row, "quantity": str(total)})

    def _add_stock(self, product_id: int, attribute_id: int, delta: int) -> None:
        row = self._stock_row(product_id, attribute_id)
        if row is None:
            return
        self._replace("stock_availables", {**row, "quantity": str(int(row["quantity"] or 0) + delta)})
        if attribute_id:
            self._recompute_product_row(product_id)

    def set_stock(self, product_id: int, attribute_id: int, quantity: int) -> dict[str, Any]:
        """The control API's stock change (a back-office edit): sets the row and fires ``stock.changed``."""
        with self.lock:
            row = self._stock_row(product_id, attribute_id)
            if row is None:
                raise KeyError(f"no stock row for product {product_id} combination {attribute_id}")
            self._replace("stock_availables", {**row, "quantity": str(int(quantity))})
            if attribute_id:
                self._recompute_product_row(product_id)
            result = self.tables["stock_availables"][int(row["id"])]
        self.events("stock.changed", product_id)
        return result

    # -- orders -----------------------------------------------------------------------------------------

    def state_id(self, key: str) -> int:
        for row in self.tables["configurations"].values():
            if row["name"] == key:
                return int(row["value"])
        raise KeyError(key)

    def _pick_lines(self) -> list[dict[str, int]]:
        sellable = [p for p in catalogue.PRODUCTS if p.in_erp]
        lines = []
        for product in self.rng.sample(sellable, k=self.rng.randint(1, 3)):
            combo = self.rng.choice(product.combinations).id if product.combinations else 0
            lines.append({"product_id": product.id, "combination_id": combo,
                          "quantity": self.rng.choice((1, 1, 1, 2, 3))})
        return lines

    def _by_reference(self, reference: str) -> tuple[int, int]:
        """(product id, combination id) of a sellable unit by its reference (= the Infor item number)."""
        for combo in self.tables["combinations"].values():
            if combo["reference"] == reference:
                return int(combo["id_product"]), int(combo["id"])
        for product in self.tables["products"].values():
            if product["reference"] == reference:
                return int(product["id"]), 0
        raise ValueError(f"no product or combination with reference {reference!r}")

    def _line_values(self, line: dict[str, Any], rate: Decimal) -> dict[str, Any]:
        if line.get("reference") and not line.get("product_id"):
            product_ref, combo_ref = self._by_reference(str(line["reference"]))
            line = {**line, "product_id": product_ref, "combination_id": combo_ref}
        if not line.get("product_id"):
            raise ValueError("each line needs product_id (and combination_id) or reference")
        product_id = int(line["product_id"])
        product = self.get("products", product_id)
        if product is None:
            raise ValueError(f"unknown product {product_id}")
        combo_id = int(line.get("combination_id") or 0)
        variants = self._variant_ids(product_id)
        if variants and combo_id == 0:
            raise ValueError(f"product {product_id} has combinations: give combination_id (one of {variants})")
        if combo_id and combo_id not in variants:
            raise ValueError(f"combination {combo_id} does not belong to product {product_id}")
        quantity = int(line.get("quantity") or 1)
        if quantity < 1:
            raise ValueError("quantity must be >= 1")
        combo = self.get("combinations", combo_id) if combo_id else None
        base = Decimal(product["price"]) + (Decimal(combo["price"]) if combo else Decimal(0))
        name = product["name"][1]
        if combo:
            labels = [self._option_label(int(v["id"])) for v in combo["associations"]["product_option_values"]]
            name = f"{name} - " + ", ".join(labels)
        unit_excl = cents(base * rate)
        unit_incl = cents(unit_excl * (1 + catalogue.TAX_RATE))
        return {
            "product_id": product_id, "combination_id": combo_id, "quantity": quantity, "name": name,
            "reference": (combo["reference"] if combo and combo["reference"] else product["reference"]),
            "ean13": (combo["ean13"] if combo and combo["ean13"] else product["ean13"]),
            "unit_excl": unit_excl, "unit_incl": unit_incl, "weight": Decimal(product["weight"]),
            "base": base, "wholesale": Decimal(product["wholesale_price"]),
        }

    @staticmethod
    def _option_label(value_id: int) -> str:
        return OPTION_LABELS.get(value_id, str(value_id))

    def checkout_outcome(self) -> tuple[str, bool]:
        """A realistic checkout's initial state and whether the customer cancels it later (CHECKOUT_MIX)."""
        weights = [weight for weight, _state, _cancel in CHECKOUT_MIX]
        _weight, state, cancel = self.rng.choices(CHECKOUT_MIX, weights=weights)[0]
        return state, cancel

    def place_order(self, *, customer_id: int | None = None, lines: Iterable[dict[str, Any]] | None = None,
                    currency: str | None = None, carrier_id: int = 2, state: str = "PS_OS_PAYMENT",
                    any_customer: bool = False) -> int:
        """Place an order as a checkout does (``validateOrder``); returns its id.

        By default the payment went through (PS_OS_PAYMENT: valid, invoiced, paid in full). ``state`` gives
        another initial state, e.g. ``PS_OS_BANKWIRE`` for an order still awaiting its bank transfer (not
        valid, no invoice, nothing paid). Without ``customer_id`` a customer is drawn from the first eight
        seeded ones and those added since; ``any_customer`` adds catalogue.MORE_CUSTOMERS (Australian and
        Mexican states, over-long e-mails) to the draw.
        """
        with self.lock:
            if customer_id is None:
                extra = set() if any_customer else {c.id for c in catalogue.MORE_CUSTOMERS}
                customer_id = self.rng.choice([int(i) for i, c in self.tables["customers"].items()
                                               if c["deleted"] == "0" and int(i) not in extra])
            customer = self.get("customers", int(customer_id))
            if customer is None:
                raise ValueError(f"unknown customer {customer_id}")
            addresses = [a for a in self.tables["addresses"].values()
                         if a["id_customer"] == customer["id"] and a["deleted"] == "0"]
            if not addresses:
                raise ValueError(f"customer {customer_id} has no address")
            invoice_address = addresses[0]
            delivery_address = addresses[-1]
            country = self.get("countries", int(delivery_address["id_country"]))
            iso = currency or COUNTRY_CURRENCY.get(country["iso_code"] if country else "", "EUR")
            currency_row = next((c for c in self.tables["currencies"].values() if c["iso_code"] == iso), None)
            if currency_row is None:
                raise ValueError(f"unknown currency {iso}")
            rate = Decimal(currency_row["conversion_rate"])
            priced = [self._line_values(line, rate) for line in (list(lines) if lines else self._pick_lines())]
            if not priced:
                raise ValueError("an order needs at least one line")
            state_id = self.state_id(state if state.startswith("PS_OS_") else "PS_OS_" + state.upper())
            return self._create_order(customer, delivery_address, invoice_address, currency_row, rate, priced,
                                      carrier_id, state_id)

    def _create_order(self, customer: dict[str, Any], delivery: dict[str, Any], invoice: dict[str, Any],
                      currency: dict[str, Any], rate: Decimal, lines: list[dict[str, Any]],
                      carrier_id: int, state: int) -> int:
        now = self.now()
        order_id = self.next_id["orders"]
        products_excl = sum((line["unit_excl"] * line["quantity"] for line in lines), Decimal(0))
        products_incl = sum((line["unit_incl"] * line["quantity"] for line in lines), Decimal(0))
        carrier = self.get("carriers", carrier_id) or self.get("carriers", 2)
        assert carrier is not None
        free = carrier["is_free"] == "1"
        shipping_excl = Decimal(0) if free else cents(SHIPPING_TAX_EXCL * rate)
        shipping_incl = cents(shipping_excl * (1 + catalogue.TAX_RATE))
        paid_incl = products_incl + shipping_incl
        paid_excl = products_excl + shipping_excl
        state_row = self.tables["order_states"][state]
        paid = state_row["paid"] == "1"
        invoiced = state_row["invoice"] == "1"
        if paid:
            module, payment, brand = self.rng.choice(PAYMENT_MODULES)
        elif state == self.state_id("PS_OS_ERROR"):  # a card payment the bank refused: no payment row
            module, payment, _brand = self.rng.choice(PAYMENT_MODULES)
            brand = ""
        else:  # an offline payment still to come: the module is the one the state belongs to
            module = state_row["module_name"] or "ps_wirepayment"
            payment, brand = OFFLINE_PAYMENTS.get(module, "Bank transfer"), ""
        reference = "".join(self.rng.choices(string.ascii_uppercase, k=9))
        self._cart_id += 1
        if invoiced:
            self._invoice_number += 1
        weight = sum((line["weight"] * line["quantity"] for line in lines), Decimal(0))
        rows = []
        for line in lines:
            detail = self._insert("order_details", {
                "id_order": str(order_id), "product_id": str(line["product_id"]),
                "product_attribute_id": str(line["combination_id"]), "product_quantity_reinjected": "0",
                "group_reduction": "0.00", "discount_quantity_applied": "0", "download_hash": "",
                "download_deadline": "0000-00-00 00:00:00", "id_order_invoice": "0", "id_warehouse": "0",
                "id_shop": str(SHOP_ID), "id_customization": "0", "product_name": line["name"],
                "product_quantity": str(line["quantity"]), "product_quantity_in_stock": str(line["quantity"]),
                "product_quantity_return": "0", "product_quantity_refunded": "0",
                "product_price": money(line["unit_excl"]), "reduction_percent": "0.00",
                "reduction_amount": "0.000000", "reduction_amount_tax_incl": "0.000000",
                "reduction_amount_tax_excl": "0.000000", "product_quantity_discount": "0.000000",
                "product_ean13": line["ean13"], "product_isbn": "", "product_upc": "", "product_mpn": "",
                "product_reference": line["reference"], "product_supplier_reference": "",
                "product_weight": money(line["weight"]), "tax_computation_method": "0",
                "id_tax_rules_group": "1", "ecotax": "0.000000", "ecotax_tax_rate": "0.000", "download_nb": "0",
                "unit_price_tax_incl": money(line["unit_incl"]), "unit_price_tax_excl": money(line["unit_excl"]),
                "total_price_tax_incl": money(line["unit_incl"] * line["quantity"]),
                "total_price_tax_excl": money(line["unit_excl"] * line["quantity"]),
                "total_shipping_price_tax_excl": "0.000000", "total_shipping_price_tax_incl": "0.000000",
                "purchase_supplier_price": "0.000000", "original_product_price": money(line["base"]),
                "original_wholesale_price": money(line["wholesale"]), "total_refunded_tax_excl": "0.000000",
                "total_refunded_tax_incl": "0.000000", "associations": {"taxes": [{"id": "1"}]},
            })
            rows.append({
                "id": detail["id"], "product_id": str(line["product_id"]),
                "product_attribute_id": str(line["combination_id"]), "product_quantity": str(line["quantity"]),
                "product_name": line["name"], "product_reference": line["reference"],
                "product_ean13": line["ean13"], "product_isbn": "", "product_upc": "",
                "product_price": money(line["unit_excl"]), "id_customization": "0",
                "unit_price_tax_incl": money(line["unit_incl"]), "unit_price_tax_excl": money(line["unit_excl"]),
            })
            self._add_stock(line["product_id"], line["combination_id"], -line["quantity"])
        self._insert("orders", {
            "id_address_delivery": delivery["id"], "id_address_invoice": invoice["id"],
            "id_cart": str(self._cart_id), "id_currency": currency["id"], "id_lang": customer["id_lang"],
            "id_customer": customer["id"], "id_carrier": carrier["id"], "current_state": str(state),
            "module": module, "invoice_number": str(self._invoice_number if invoiced else 0),
            "invoice_date": now if invoiced else "0000-00-00 00:00:00",
            "delivery_number": "0", "delivery_date": "0000-00-00 00:00:00", "valid": state_row["logable"],
            "date_add": now,
            "date_upd": now, "shipping_number": "", "note": "", "id_shop_group": str(SHOP_GROUP_ID),
            "id_shop": str(SHOP_ID), "secure_key": customer["secure_key"], "payment": payment, "recyclable": "0",
            "gift": "0", "gift_message": "", "mobile_theme": "0", "total_discounts": "0.000000",
            "total_discounts_tax_incl": "0.000000", "total_discounts_tax_excl": "0.000000",
            "total_paid": money(paid_incl), "total_paid_tax_incl": money(paid_incl),
            "total_paid_tax_excl": money(paid_excl), "total_paid_real": money(paid_incl if paid else Decimal(0)),
            "total_products": money(products_excl), "total_products_wt": money(products_incl),
            "total_shipping": money(shipping_incl), "total_shipping_tax_incl": money(shipping_incl),
            "total_shipping_tax_excl": money(shipping_excl),
            "carrier_tax_rate": f"{catalogue.TAX_RATE * 100:.3f}", "total_wrapping": "0.000000",
            "total_wrapping_tax_incl": "0.000000", "total_wrapping_tax_excl": "0.000000", "round_mode": "2",
            "round_type": "1", "conversion_rate": currency["conversion_rate"], "reference": reference,
            "associations": {"order_rows": rows},
        }, order_id)
        self._insert("order_carriers", {
            "id_order": str(order_id), "id_carrier": carrier["id"], "id_order_invoice": "0",
            "weight": money(weight), "shipping_cost_tax_excl": money(shipping_excl),
            "shipping_cost_tax_incl": money(shipping_incl), "tracking_number": "", "date_add": now,
        })
        if paid:
            self._insert_payment(reference, currency, paid_incl, payment, brand, now)
        self._insert("order_histories", {"id_employee": "0", "id_order_state": str(state),
                                         "id_order": str(order_id), "date_add": now})
        self.counters.orders_placed += 1
        return order_id

    def _insert_payment(self, reference: str, currency: dict[str, Any], amount: Decimal, payment: str, brand: str,
                        now: str) -> None:
        self._insert("order_payments", {
            "order_reference": reference, "id_currency": currency["id"], "amount": money(amount),
            "payment_method": payment, "conversion_rate": currency["conversion_rate"],
            "transaction_id": "txn_" + "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=16)),
            "card_number": "", "card_brand": brand, "card_expiration": "", "card_holder": "", "date_add": now,
        })

    def change_state(self, order_id: int, state_id: int, *, id_employee: int = 0,
                     send_email: bool = False) -> dict[str, Any]:
        """``OrderHistory::changeIdOrderState`` + ``addWs``: no guard against the current state, as in PrestaShop."""
        with self.lock:
            order = self.get("orders", order_id)
            if order is None:
                raise WsError(400, 85, 'Validation error: "Property OrderHistory->id_order is not valid"')
            new_state = self.get("order_states", state_id)
            if new_state is None or new_state["deleted"] == "1":
                raise WsError(400, 85, 'Validation error: "Property OrderHistory->id_order_state is not valid"')
            old_state = self.get("order_states", int(order["current_state"] or 0))
            now = self.now()
            history = self._insert("order_histories", {"id_employee": str(id_employee),
                                                       "id_order_state": str(state_id),
                                                       "id_order": str(order_id), "date_add": now})
            updated = {**order, "current_state": str(state_id), "valid": new_state["logable"], "date_upd": now}
            if new_state["invoice"] == "1" and updated["invoice_number"] in ("", "0"):
                self._invoice_number += 1
                updated["invoice_number"] = str(self._invoice_number)
                updated["invoice_date"] = now
            if new_state["delivery"] == "1" and updated["delivery_number"] in ("", "0"):
                self._delivery_number += 1
                updated["delivery_number"] = str(self._delivery_number)
                updated["delivery_date"] = now
            if new_state["paid"] == "1" and Decimal(updated["total_paid_real"] or 0) == 0:
                updated["total_paid_real"] = updated["total_paid"]  # OrderHistory: payment for the balance
                currency = self.tables["currencies"][int(updated["id_currency"])]
                self._insert_payment(updated["reference"], currency, Decimal(updated["total_paid"]),
                                     updated["payment"], "", now)
            was_logable = old_state is not None and old_state["logable"] == "1"
            if was_logable and state_id == self.state_id("PS_OS_CANCELED"):
                for row in order["associations"]["order_rows"]:
                    self._add_stock(int(row["product_id"]), int(row["product_attribute_id"] or 0),
                                    int(row["product_quantity"]))
            self._replace("orders", updated)
            if send_email and new_state["send_email"] == "1":
                self.counters.emails += 1
        self.events("order.status_changed", order_id)
        return history

    # -- generic webservice writes ----------------------------------------------------------------------

    def write(self, method: str, resource_name: str, objects: list[dict[str, Any]], *,
              send_email: bool = False) -> list[dict[str, Any]]:
        """POST / PUT / PATCH of parsed objects, with PrestaShop's id and field rules."""
        resource = RESOURCES[resource_name]
        saved = []
        events: list[tuple[str, int]] = []
        for obj in objects:
            with self.lock:
                record, pending = self._write_one(method, resource, obj, send_email=send_email)
            saved.append(record)
            if pending:
                events.append(pending)
        for event, object_id in events:
            self.events(event, object_id)
        return saved

    def _write_one(self, method: str, resource: Resource, obj: dict[str, Any], *,
                   send_email: bool) -> tuple[dict[str, Any], tuple[str, int] | None]:
        raw_id = obj.get("id")
        if method == "POST" and raw_id not in (None, ""):
            raise WsError(400, 91, "id is forbidden when adding a new resource")
        if method in ("PUT", "PATCH") and raw_id in (None, ""):
            raise WsError(400, 90, "id is required when modifying a resource")
        for spec in resource.fields:
            if spec.not_writable and spec.name in obj:
                raise WsError(400, 93, f'parameter "{spec.name}" not writable. Please remove this attribute of '
                                       "this XML")
        if resource.name == "order_histories" and method == "POST":
            self._validate(resource, obj, full=True)
            history = self.change_state(int(obj["id_order"]), int(obj["id_order_state"]),
                                        id_employee=int(obj.get("id_employee") or 0), send_email=send_email)
            return history, None
        if resource.name == "orders" and method == "POST":
            raise WsError(400, 85, "Cart cannot be loaded or an order has already been placed using this cart")
        existing = None
        if method != "POST":
            if not str(raw_id).isdigit() or int(str(raw_id)) not in self.tables[resource.name]:
                raise WsError(400, 92, "Invalid ID")
            existing = self.tables[resource.name][int(str(raw_id))]
        self._validate(resource, obj, full=method in ("POST", "PUT"))
        record = self._merge(resource, existing, obj, replace=method in ("POST", "PUT"))
        now = self.now()
        if "date_upd" in resource.by_name:
            record["date_upd"] = now
        if method == "POST":
            if "date_add" in resource.by_name and not obj.get("date_add"):
                record["date_add"] = now
            record = self._insert(resource.name, {k: v for k, v in record.items() if k != "id"})
            return record, self._event_for(resource.name, "POST", record)
        assert existing is not None
        if resource.name == "orders" and record["current_state"] != existing["current_state"]:
            # Order::setWsCurrentState: a state change through PUT/PATCH adds a history (and its e-mail).
            self._replace("orders", {**record, "current_state": existing["current_state"]})
            self.change_state(int(existing["id"]), int(record["current_state"]), send_email=True)
            return self.tables["orders"][int(existing["id"])], None
        if resource.name == "stock_availables":
            if existing["depends_on_stock"] == "1":
                raise WsError(500, 133, "You cannot update the available stock when it depends on stock.")
            self._replace(resource.name, record)
            attribute = int(record["id_product_attribute"] or 0)
            if attribute:
                self._recompute_product_row(int(record["id_product"]))
            self.counters.writes += 1
            return self.tables[resource.name][int(record["id"])], ("stock.changed", int(record["id_product"]))
        if resource.name == "order_carriers":
            if send_email and record["tracking_number"]:
                carrier = self.get("carriers", int(record["id_carrier"] or 0))
                if carrier is not None and carrier["url"]:
                    self.counters.emails += 1  # OrderCarrier::sendInTransitEmail
            order_id = int(record["id_order"] or 0)
            order = self.get("orders", order_id)
            if order is not None and self.carrier_rows.get(order_id) == int(record["id"]):
                # orders.shipping_number is a getter: the first carrier row's tracking number.
                self._replace("orders", {**order, "shipping_number": record["tracking_number"]})
        self._replace(resource.name, record)
        self.counters.writes += 1
        return record, self._event_for(resource.name, method, record)

    @staticmethod
    def _event_for(resource: str, method: str, record: dict[str, Any]) -> tuple[str, int] | None:
        object_id = int(record["id"])
        if resource == "customers":
            return ("customer.created" if method == "POST" else "customer.updated", object_id)
        if resource == "addresses" and record.get("id_customer") not in (None, "", "0"):
            return ("customer.updated", int(record["id_customer"]))
        if resource in ("products", "combinations"):
            product_id = object_id if resource == "products" else int(record["id_product"])
            return ("product.updated", product_id)
        return None

    def _merge(self, resource: Resource, existing: dict[str, Any] | None, obj: dict[str, Any], *,
               replace: bool) -> dict[str, Any]:
        """PUT/POST: missing fields become empty (PrestaShop's full replacement); PATCH: only what is sent."""
        record = dict(existing) if existing is not None else self._blank(resource.name)
        for spec in resource.fields:
            if spec.name == "id" or spec.ignored_on_write or spec.not_writable:
                continue
            if spec.name in obj:
                value = obj[spec.name]
                if spec.lang:
                    current = dict(record.get(spec.name) or {})
                    if isinstance(value, dict):
                        current.update({int(k): v for k, v in value.items() if int(k) in LANGUAGES})
                    else:
                        current = _lang(str(value))
                    record[spec.name] = current
                else:
                    record[spec.name] = "" if value is None else str(value)
            elif replace and existing is not None:
                record[spec.name] = _lang("") if spec.lang else ""
        associations = obj.get("associations")
        if isinstance(associations, dict):
            merged = dict(record.get("associations") or {})
            for name, items in associations.items():
                assoc = resource.association(name)
                if assoc is None:
                    raise WsError(400, 86, f"The association \"{name}\" does not exists")
                if assoc.writable:
                    merged[name] = items
            record["associations"] = merged
        if existing is not None:
            record["id"] = existing["id"]
        return record

    def _validate(self, resource: Resource, obj: dict[str, Any], *, full: bool) -> None:
        """Required fields (code 41) on POST/PUT; formats and sizes (code 85) on whatever is sent."""
        cls = "".join(part.capitalize() for part in resource.singular.split("_"))
        for spec in resource.fields:
            if spec.name == "id":
                continue
            present = spec.name in obj
            value = obj.get(spec.name)
            if full and spec.required and (not present or value in (None, "") or value == {}):
                raise WsError(400, 41, f'parameter "{spec.name}" required')
            if not present or value in (None, ""):
                continue
            texts = list(value.values()) if isinstance(value, dict) else [str(value)]
            for text in texts:
                if not valid_format(spec, str(text)):
                    raise WsError(400, 85, f'Validation error: "Property {cls}->{spec.name} is not valid"')
                if spec.max_size and len(str(text)) > spec.max_size:
                    raise WsError(400, 85, f'Validation error: "Property {cls}->{spec.name} length '
                                           f'({len(str(text))}) must be between 0 and {spec.max_size}"')

    def delete(self, resource_name: str, ids: list[int]) -> None:
        with self.lock:
            missing = [i for i in ids if i not in self.tables[resource_name]]
            if missing:
                raise WsError(404, 87, "Id(s) not exists: " + ", ".join(str(i) for i in missing))
            for object_id in ids:
                record = self.tables[resource_name][object_id]
                if "deleted" in RESOURCES[resource_name].by_name and resource_name in ("customers", "addresses"):
                    self._replace(resource_name, {**record, "deleted": "1"})  # soft delete, as PrestaShop does
                else:
                    del self.tables[resource_name][object_id]

    # -- control-API customer changes -------------------------------------------------------------------

    def add_customer(self, data: dict[str, Any]) -> tuple[int, int]:
        """A customer registering at checkout, with one address; fires ``customer.created``."""
        with self.lock:
            now = self.now()
            n = self.next_id["customers"]
            firstname = str(data.get("firstname") or self.rng.choice(("Alice", "Hugo", "Léa", "Mateo", "Sofia")))
            lastname = str(data.get("lastname") or self.rng.choice(("Bernard", "Dubois", "Schmidt", "Rossi")))
            email = str(data.get("email") or f"customer{n}@example.org")
            customer = self._insert("customers", self._customer_values(
                firstname=firstname, lastname=lastname, email=email, company=str(data.get("company") or ""),
                group=int(data.get("id_default_group") or 3), when=now, is_guest=bool(data.get("is_guest"))))
            address_data = {"firstname": firstname, "lastname": lastname, "alias": "Home",
                            "address1": "5 avenue Anatole France", "postcode": "75007", "city": "Paris",
                            "id_country": 8, "phone": "+33 1 23 45 67 89", **dict(data.get("address") or {})}
            address = self._insert("addresses", self._address_values(int(customer["id"]), address_data, now))
        self.events("customer.created", int(customer["id"]))
        return int(customer["id"]), int(address["id"])

    def update_customer(self, customer_id: int, fields: dict[str, Any]) -> None:
        with self.lock:
            customer = self.get("customers", customer_id)
            if customer is None:
                raise KeyError(f"unknown customer {customer_id}")
            allowed = {f.name for f in RESOURCES["customers"].fields} - {"id", "secure_key", "passwd"}
            changes = {k: str(v) for k, v in fields.items() if k in allowed}
            self._replace("customers", {**customer, **changes, "date_upd": self.now()})
        self.events("customer.updated", customer_id)


def _option_labels() -> dict[int, str]:
    """Attribute value id → "Color : White", numbered in catalogue order exactly as the seed numbers them."""
    labels: dict[int, str] = {}
    seen: dict[tuple[str, str], int] = {}
    for product in catalogue.PRODUCTS:
        for combo in product.combinations:
            for group, value in combo.attributes:
                index = seen.setdefault((group, value), len(seen) + 1)
                labels[index] = f"{group} : {value}"
    return labels


OPTION_LABELS = _option_labels()

_FORMATS: dict[str, re.Pattern[str]] = {
    "isUnsignedId": re.compile(r"\d+\Z"),
    "isNullOrUnsignedId": re.compile(r"\d*\Z"),
    "isUnsignedInt": re.compile(r"\d+\Z"),
    "isInt": re.compile(r"-?\d+\Z"),
    "isBool": re.compile(r"[01]\Z"),
    "isPrice": re.compile(r"\d{1,10}(\.\d{1,9})?\Z"),
    "isNegativePrice": re.compile(r"-?\d{1,10}(\.\d{1,9})?\Z"),
    "isFloat": re.compile(r"-?\d+(\.\d+)?\Z"),
    "isUnsignedFloat": re.compile(r"\d+(\.\d+)?\Z"),
    "isDate": re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?\Z"),
    "isDateFormat": re.compile(r"\d{4}-\d{2}-\d{2}\Z"),
    "isBirthDate": re.compile(r"\d{4}-\d{2}-\d{2}\Z"),
    "isEmail": re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+\Z"),
    "isGenericName": re.compile(r"[^<>={}]*\Z"),
    "isCatalogName": re.compile(r"[^<>;={}]*\Z"),
    "isName": re.compile(r"[^0-9!<>,;?=+()@#\"°{}_$%:¤|]*\Z"),
    "isCustomerName": re.compile(r"[^0-9!<>,;?=+()@#\"°{}_$%:¤|]*\Z"),
    "isAddress": re.compile(r"[^!<>?=+@{}_$%]*\Z"),
    "isCityName": re.compile(r"[^!<>;?=+@#\"°{}_$%]*\Z"),
    "isPhoneNumber": re.compile(r"[+0-9. ()/-]*\Z"),
    "isPostCode": re.compile(r"[a-zA-Z 0-9-]+\Z"),
    "isTrackingNumber": re.compile(r"[~:#,%&_=()\[\].? +\-@/a-zA-Z0-9]+\Z"),
    "isReference": re.compile(r"[^<>;={}]*\Z"),
    "isEan13": re.compile(r"[0-9]{0,13}\Z"),
    "isLanguageIsoCode": re.compile(r"[a-zA-Z]{2,3}\Z"),
    "isMd5": re.compile(r"[a-f0-9]{32}\Z"),
}


def valid_format(spec: Field, text: str) -> bool:
    """PrestaShop's ``Validate::<format>`` for the formats the sandbox knows; others accept anything."""
    pattern = _FORMATS.get(spec.fmt)
    if spec.is_date and text in ("0000-00-00 00:00:00", "0000-00-00"):
        return True
    return pattern is None or pattern.match(text) is not None
