"""The resources the sandbox serves, field by field, in PrestaShop 8's output order.

One table drives everything that must agree with the real webservice: output order, ``xlink:href``
targets, ``notFilterable`` markers, language fields, the blank and synopsis schemas, required and
not-writable fields on POST/PUT/PATCH, and which methods each resource accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    name: str
    required: bool = False
    fmt: str = ""
    max_size: int = 0
    lang: bool = False
    href: str = ""  # resource an id points at (rendered as xlink:href when the id is non-zero)
    not_filterable: bool = False  # computed by a getter: not filterable, not sortable
    not_writable: bool = False  # setter=false: sending it on a write is 400 code 93
    ignored_on_write: bool = False  # setter=null: accepted but never written (secure_key…)
    is_date: bool = False


@dataclass(frozen=True)
class Association:
    name: str
    node_type: str
    fields: tuple[str, ...] = ("id",)
    api: str = ""  # resource of the items (rendered as api=…), empty for virtual entities
    virtual: bool = False
    writable: bool = True


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    fields: tuple[Field, ...]
    associations: tuple[Association, ...] = ()
    methods: frozenset[str] = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
    description: str = ""
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def association(self, name: str) -> Association | None:
        return next((a for a in self.associations if a.name == name), None)


def F(name: str, **kwargs: object) -> Field:
    if name in ("date_add", "date_upd"):
        kwargs.setdefault("is_date", True)
        kwargs.setdefault("fmt", "isDate")
    return Field(name, **kwargs)  # type: ignore[arg-type]


def _ids(*names: str, href: dict[str, str] | None = None, required: tuple[str, ...] = ()) -> list[Field]:
    href = href or {}
    return [F(n, href=href.get(n, ""), required=n in required, fmt="isUnsignedId") for n in names]


ORDER_ROW_FIELDS = ("id", "product_id", "product_attribute_id", "product_quantity", "product_name",
                    "product_reference", "product_ean13", "product_isbn", "product_upc", "product_price",
                    "id_customization", "unit_price_tax_incl", "unit_price_tax_excl")

_MONEY = {"fmt": "isPrice"}

RESOURCES: dict[str, Resource] = {}


def _register(resource: Resource) -> None:
    RESOURCES[resource.name] = resource


_register(Resource("orders", "order", (
    F("id"),
    F("id_address_delivery", required=True, href="addresses", fmt="isUnsignedId"),
    F("id_address_invoice", required=True, href="addresses", fmt="isUnsignedId"),
    F("id_cart", required=True, href="carts", fmt="isUnsignedId"),
    F("id_currency", required=True, href="currencies", fmt="isUnsignedId"),
    F("id_lang", required=True, href="languages", fmt="isUnsignedId"),
    F("id_customer", required=True, href="customers", fmt="isUnsignedId"),
    F("id_carrier", required=True, href="carriers", fmt="isUnsignedId"),
    F("current_state", href="order_states", fmt="isUnsignedId"),
    F("module", required=True, fmt="isModuleName"),
    F("invoice_number"), F("invoice_date", is_date=True), F("delivery_number"),
    F("delivery_date", is_date=True), F("valid", fmt="isBool"), F("date_add"), F("date_upd"),
    F("shipping_number", not_filterable=True, fmt="isTrackingNumber"), F("note", fmt="isCleanHtml"),
    F("id_shop_group"), F("id_shop"), F("secure_key", fmt="isMd5"), F("payment", required=True, fmt="isGenericName"),
    F("recyclable", fmt="isBool"), F("gift", fmt="isBool"), F("gift_message", fmt="isMessage"),
    F("mobile_theme", fmt="isBool"),
    F("total_discounts", **_MONEY), F("total_discounts_tax_incl", **_MONEY),
    F("total_discounts_tax_excl", **_MONEY), F("total_paid", required=True, **_MONEY),
    F("total_paid_tax_incl", **_MONEY), F("total_paid_tax_excl", **_MONEY),
    F("total_paid_real", required=True, **_MONEY), F("total_products", required=True, **_MONEY),
    F("total_products_wt", required=True, **_MONEY), F("total_shipping", **_MONEY),
    F("total_shipping_tax_incl", **_MONEY), F("total_shipping_tax_excl", **_MONEY),
    F("carrier_tax_rate", fmt="isFloat"), F("total_wrapping", **_MONEY), F("total_wrapping_tax_incl", **_MONEY),
    F("total_wrapping_tax_excl", **_MONEY), F("round_mode"), F("round_type"),
    F("conversion_rate", required=True, fmt="isFloat"), F("reference"),
), associations=(Association("order_rows", "order_row", ORDER_ROW_FIELDS, virtual=True, writable=False),),
    description="The Customers orders"))

_register(Resource("order_details", "order_detail", (
    F("id"), F("id_order", required=True, href="orders"), F("product_id", href="products"),
    F("product_attribute_id", href="combinations"), F("product_quantity_reinjected"), F("group_reduction"),
    F("discount_quantity_applied"), F("download_hash"), F("download_deadline", is_date=True),
    F("id_order_invoice"), F("id_warehouse", required=True), F("id_shop", required=True), F("id_customization"),
    F("product_name", required=True), F("product_quantity", required=True),
    F("product_quantity_in_stock"), F("product_quantity_return"), F("product_quantity_refunded"),
    F("product_price", required=True), F("reduction_percent"), F("reduction_amount"),
    F("reduction_amount_tax_incl"), F("reduction_amount_tax_excl"), F("product_quantity_discount"),
    F("product_ean13"), F("product_isbn"), F("product_upc"), F("product_mpn"), F("product_reference"),
    F("product_supplier_reference"), F("product_weight"), F("tax_computation_method"),
    F("id_tax_rules_group"), F("ecotax"), F("ecotax_tax_rate"), F("download_nb"),
    F("unit_price_tax_incl"), F("unit_price_tax_excl"), F("total_price_tax_incl"),
    F("total_price_tax_excl"), F("total_shipping_price_tax_excl"), F("total_shipping_price_tax_incl"),
    F("purchase_supplier_price"), F("original_product_price"), F("original_wholesale_price"),
    F("total_refunded_tax_excl"), F("total_refunded_tax_incl"),
), associations=(Association("taxes", "tax", ("id",), api="taxes"),), description="Details of an order"))

_register(Resource("order_histories", "order_history", (
    F("id"), F("id_employee", fmt="isUnsignedId"),
    F("id_order_state", required=True, href="order_states", fmt="isUnsignedId"),
    F("id_order", required=True, href="orders", fmt="isUnsignedId"), F("date_add"),
), methods=frozenset({"GET", "HEAD", "POST"}), description="The Order histories"))

_register(Resource("order_states", "order_state", (
    F("id"), F("unremovable", fmt="isBool"), F("delivery", fmt="isBool"), F("hidden", fmt="isBool"),
    F("send_email", fmt="isBool"), F("module_name", fmt="isModuleName"), F("invoice", fmt="isBool"),
    F("color", fmt="isColor"), F("logable", fmt="isBool"), F("shipped", fmt="isBool"),
    F("paid", fmt="isBool"), F("pdf_delivery", fmt="isBool"), F("pdf_invoice", fmt="isBool"),
    F("deleted", fmt="isBool"), F("name", required=True, lang=True, max_size=64, fmt="isGenericName"),
    F("template", lang=True, max_size=64, fmt="isTplName"),
), description="The Order statuses"))

_register(Resource("order_carriers", "order_carrier", (
    F("id"), F("id_order", required=True, href="orders", fmt="isUnsignedId"),
    F("id_carrier", required=True, href="carriers", fmt="isUnsignedId"), F("id_order_invoice"),
    F("weight", fmt="isFloat"), F("shipping_cost_tax_excl", fmt="isFloat"),
    F("shipping_cost_tax_incl", fmt="isFloat"), F("tracking_number", fmt="isTrackingNumber", max_size=64),
    F("date_add"),
), methods=frozenset({"GET", "HEAD", "PUT", "PATCH"}), description="The Order carriers"))

_register(Resource("order_payments", "order_payment", (
    F("id"), F("order_reference", max_size=9), F("id_currency", required=True, href="currencies"),
    F("amount", required=True, **_MONEY), F("payment_method"), F("conversion_rate"), F("transaction_id"),
    F("card_number"), F("card_brand"), F("card_expiration"), F("card_holder"), F("date_add"),
), description="The Order payments"))

_register(Resource("customers", "customer", (
    F("id"), F("id_default_group", href="groups", fmt="isUnsignedId"),
    F("id_lang", href="languages", fmt="isUnsignedId"), F("newsletter_date_add", is_date=True),
    F("ip_registration_newsletter"), F("last_passwd_gen", ignored_on_write=True, is_date=True),
    F("secure_key", ignored_on_write=True, fmt="isMd5"), F("deleted", fmt="isBool"),
    F("passwd", required=True, max_size=255, fmt="isPlaintextPassword"),
    F("lastname", required=True, max_size=255, fmt="isCustomerName"),
    F("firstname", required=True, max_size=255, fmt="isCustomerName"),
    F("email", required=True, max_size=255, fmt="isEmail"), F("id_gender", fmt="isUnsignedId"),
    F("birthday", fmt="isBirthDate"), F("newsletter", fmt="isBool"), F("optin", fmt="isBool"),
    F("website", fmt="isUrl"), F("company", fmt="isGenericName"), F("siret", fmt="isGenericName"),
    F("ape", fmt="isApe"), F("outstanding_allow_amount", fmt="isFloat"), F("show_public_prices", fmt="isBool"),
    F("id_risk", fmt="isUnsignedInt"), F("max_payment_days", fmt="isUnsignedInt"), F("active", fmt="isBool"),
    F("note", fmt="isCleanHtml"), F("is_guest", fmt="isBool"), F("id_shop", fmt="isUnsignedId"),
    F("id_shop_group", fmt="isUnsignedId"), F("date_add"), F("date_upd"),
    F("reset_password_token", max_size=40), F("reset_password_validity", is_date=True),
), associations=(Association("groups", "group", ("id",), api="groups"),), description="The e-shop's customers"))

_register(Resource("addresses", "address", (
    F("id"), F("id_customer", href="customers", fmt="isNullOrUnsignedId"),
    F("id_manufacturer", href="manufacturers", fmt="isNullOrUnsignedId"),
    F("id_supplier", href="suppliers", fmt="isNullOrUnsignedId"),
    F("id_warehouse", href="warehouses", fmt="isNullOrUnsignedId"),
    F("id_country", required=True, href="countries", fmt="isUnsignedId"),
    F("id_state", href="states", fmt="isNullOrUnsignedId"),
    F("alias", required=True, max_size=32, fmt="isGenericName"),
    F("company", max_size=255, fmt="isGenericName"), F("lastname", required=True, max_size=255, fmt="isName"),
    F("firstname", required=True, max_size=255, fmt="isName"), F("vat_number", fmt="isGenericName"),
    F("address1", required=True, max_size=128, fmt="isAddress"), F("address2", max_size=128, fmt="isAddress"),
    F("postcode", max_size=12, fmt="isPostCode"), F("city", required=True, max_size=64, fmt="isCityName"),
    F("other", max_size=300, fmt="isMessage"), F("phone", max_size=32, fmt="isPhoneNumber"),
    F("phone_mobile", max_size=32, fmt="isPhoneNumber"), F("dni", max_size=16, fmt="isDniLite"),
    F("deleted", fmt="isBool"), F("date_add"), F("date_upd"),
), description="The Customer, Brand and Customer addresses"))

_register(Resource("countries", "country", (
    F("id"), F("id_zone", required=True, href="zones", fmt="isUnsignedId"),
    F("id_currency", href="currencies", fmt="isUnsignedId"), F("call_prefix", fmt="isInt"),
    F("iso_code", required=True, max_size=3, fmt="isLanguageIsoCode"), F("active", fmt="isBool"),
    F("contains_states", required=True, fmt="isBool"), F("need_identification_number", required=True, fmt="isBool"),
    F("need_zip_code", fmt="isBool"), F("zip_code_format", fmt="isZipCodeFormat"),
    F("display_tax_label", required=True, fmt="isBool"),
    F("name", required=True, lang=True, max_size=64, fmt="isGenericName"),
), description="The countries"))

_register(Resource("states", "state", (
    F("id"), F("id_zone", required=True, href="zones"), F("id_country", required=True, href="countries"),
    F("iso_code", required=True, max_size=7), F("name", required=True, max_size=80), F("active", fmt="isBool"),
), description="The available states of countries"))

_register(Resource("currencies", "currency", (
    F("id"), F("names", lang=True), F("name", required=True, max_size=255), F("symbol", lang=True),
    F("iso_code", required=True, max_size=3, fmt="isLanguageIsoCode"), F("numeric_iso_code"),
    F("precision", fmt="isInt"), F("conversion_rate", required=True, fmt="isUnsignedFloat"),
    F("deleted", fmt="isBool"), F("active", fmt="isBool"), F("unofficial", fmt="isBool"),
    F("modified", fmt="isBool"), F("pattern", lang=True),
), description="The currencies"))

_register(Resource("languages", "language", (
    F("id"), F("name", required=True, max_size=32), F("iso_code", required=True, max_size=2),
    F("locale", max_size=5), F("language_code", max_size=5), F("active", fmt="isBool"),
    F("is_rtl", fmt="isBool"), F("date_format_lite", required=True), F("date_format_full", required=True),
), description="Shop languages"))

_register(Resource("carriers", "carrier", (
    F("id"), F("deleted", fmt="isBool"), F("is_module", fmt="isBool"),
    F("id_tax_rules_group", href="tax_rule_groups"), F("id_reference"), F("name", required=True, max_size=64),
    F("active", required=True, fmt="isBool"), F("is_free", fmt="isBool"), F("url", fmt="isAbsoluteUrl"),
    F("shipping_handling", fmt="isBool"), F("shipping_external"), F("range_behavior", fmt="isBool"),
    F("shipping_method", fmt="isUnsignedInt"), F("max_width"), F("max_height"), F("max_depth"),
    F("max_weight", fmt="isFloat"), F("grade"), F("external_module_name"), F("need_range"), F("position"),
    F("delay", required=True, lang=True, max_size=512),
), description="The Carriers"))

_register(Resource("shops", "shop", (
    F("id"), F("id_shop_group", required=True), F("id_category", required=True), F("active", fmt="isBool"),
    F("deleted", fmt="isBool"), F("name", required=True, max_size=64), F("color"), F("theme_name"),
), description="Shops from multi-shop feature"))

_register(Resource("shop_groups", "shop_group", (
    F("id"), F("name", required=True, max_size=64, fmt="isGenericName"), F("color"),
    F("share_customer", fmt="isBool"), F("share_order", fmt="isBool"), F("share_stock", fmt="isBool"),
    F("active", fmt="isBool"), F("deleted", fmt="isBool"),
), description="Shop groups from multi-shop feature"))

_register(Resource("configurations", "configuration", (
    F("id"), F("value"), F("name", required=True, max_size=254, fmt="isConfigName"),
    F("id_shop_group"), F("id_shop"), F("date_add"), F("date_upd"),
), description="Shop configuration"))

_register(Resource("products", "product", (
    F("id"), F("id_manufacturer", href="manufacturers"), F("id_supplier", href="suppliers"),
    F("id_category_default", href="categories"), F("new"), F("cache_default_attribute"),
    F("id_default_image", href="images", not_filterable=True),
    F("id_default_combination", href="combinations", not_filterable=True),
    F("id_tax_rules_group", href="tax_rule_groups"), F("position_in_category", not_filterable=True),
    F("manufacturer_name", not_filterable=True, not_writable=True),
    F("quantity", not_filterable=True, not_writable=True), F("type", not_filterable=True),
    F("id_shop_default"), F("reference", max_size=64, fmt="isReference"), F("supplier_reference", max_size=64),
    F("location", max_size=255), F("width", fmt="isUnsignedFloat"), F("height", fmt="isUnsignedFloat"),
    F("depth", fmt="isUnsignedFloat"), F("weight", fmt="isUnsignedFloat"), F("quantity_discount", fmt="isBool"),
    F("ean13", max_size=13, fmt="isEan13"), F("isbn", max_size=32), F("upc", max_size=12), F("mpn", max_size=40),
    F("cache_is_pack", fmt="isBool"), F("cache_has_attachments", fmt="isBool"), F("is_virtual", fmt="isBool"),
    F("state"), F("additional_delivery_times"), F("delivery_in_stock", lang=True),
    F("delivery_out_stock", lang=True), F("product_type"), F("on_sale", fmt="isBool"),
    F("online_only", fmt="isBool"), F("ecotax", fmt="isPrice"), F("minimal_quantity", fmt="isUnsignedInt"),
    F("low_stock_threshold"), F("low_stock_alert", fmt="isBool"), F("price", required=True, fmt="isPrice"),
    F("wholesale_price", fmt="isPrice"), F("unity"), F("unit_price_ratio"),
    F("additional_shipping_cost", fmt="isPrice"), F("customizable"), F("text_fields"), F("uploadable_files"),
    F("active", fmt="isBool"), F("redirect_type"), F("id_type_redirected"),
    F("available_for_order", fmt="isBool"), F("available_date", fmt="isDateFormat"),
    F("show_condition", fmt="isBool"), F("condition"), F("show_price", fmt="isBool"), F("indexed", fmt="isBool"),
    F("visibility"), F("advanced_stock_management", fmt="isBool"), F("date_add"), F("date_upd"),
    F("pack_stock_type"), F("meta_description", lang=True), F("meta_keywords", lang=True),
    F("meta_title", lang=True), F("link_rewrite", lang=True),
    F("name", required=True, lang=True, max_size=128, fmt="isCatalogName"), F("description", lang=True),
    F("description_short", lang=True), F("available_now", lang=True), F("available_later", lang=True),
), associations=(
    Association("categories", "category", ("id",), api="categories"),
    Association("images", "image", ("id",), api="images"),
    Association("combinations", "combination", ("id",), api="combinations"),
    Association("product_option_values", "product_option_value", ("id",), api="product_option_values"),
    Association("product_features", "product_feature", ("id", "id_feature_value"), api="product_features"),
    Association("tags", "tag", ("id",), api="tags"),
    Association("stock_availables", "stock_available", ("id", "id_product_attribute"), api="stock_availables"),
    Association("attachments", "attachment", ("id",), api="attachments"),
    Association("accessories", "product", ("id",), api="products"),
    Association("product_bundle", "product", ("id", "id_product_attribute", "quantity"), api="products"),
), description="The products"))

_register(Resource("combinations", "combination", (
    F("id"), F("id_product", required=True, href="products", fmt="isUnsignedId"), F("location", max_size=255),
    F("ean13", max_size=13, fmt="isEan13"), F("isbn", max_size=32), F("upc", max_size=12),
    F("mpn", max_size=40), F("quantity", fmt="isInt"), F("reference", max_size=64, fmt="isReference"),
    F("supplier_reference", max_size=64), F("wholesale_price", fmt="isPrice"), F("price", fmt="isNegativePrice"),
    F("ecotax", fmt="isPrice"), F("weight", fmt="isFloat"), F("unit_price_impact", fmt="isNegativePrice"),
    F("minimal_quantity", required=True, fmt="isUnsignedId"), F("low_stock_threshold"),
    F("low_stock_alert", fmt="isBool"), F("default_on", fmt="isBool"), F("available_date", fmt="isDateFormat"),
), associations=(
    Association("product_option_values", "product_option_value", ("id",), api="product_option_values"),
    Association("images", "image", ("id",), api="images/products"),
), description="The product combinations"))

_register(Resource("stock_availables", "stock_available", (
    F("id"), F("id_product", required=True, href="products", fmt="isUnsignedId"),
    F("id_product_attribute", required=True, fmt="isUnsignedId"), F("id_shop", href="shops", fmt="isUnsignedId"),
    F("id_shop_group", fmt="isUnsignedId"), F("quantity", required=True, fmt="isInt"),
    F("depends_on_stock", required=True, fmt="isBool"), F("out_of_stock", required=True, fmt="isInt"),
    F("location", max_size=255),
), methods=frozenset({"GET", "HEAD", "PUT", "PATCH"}), description="Available quantities"))

SINGULAR_TO_RESOURCE = {r.singular: r.name for r in RESOURCES.values()}
