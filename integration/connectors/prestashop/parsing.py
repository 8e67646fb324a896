"""PrestaShop webservice XML to typed Python values, and typed values back to request XML.

PrestaShop sends everything as strings: ids as ``"5"``, money with six decimals, booleans as ``"0"``/``"1"``,
shop-local wall-clock dates without a zone, ``0000-00-00 00:00:00`` for "never". The rest of the system must
not guess, so the conversion happens once, here, by field name: ids and counts become ``int``, amounts
``Decimal``, flags ``bool``, dates timezone-aware ``datetime`` in the shop's zone. A value that does not fit
its expected type stays a string rather than being forced (a real shop's modules add surprises).

The body is untrusted: lxml runs with entity resolution and network access off, and anything that is not
PrestaShop XML (HTML, a truncated body) raises an error naming the URL and showing the start of the body
instead of a parser traceback. A shop running with ``display_errors`` on prints PHP notices and warnings
around the XML of every answer (reference §9 pitfall 19; the dispatcher does not stop them): that text is
recognised, stripped and logged once per process, so such a shop works instead of failing every call.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from integration.connectors.prestashop.errors import (
    PrestaShopError,
    PrestaShopNotWebservice,
    PrestaShopUnreadableResponse,
    body_preview,
    error_for_status,
    redact_url,
)

XLINK_NS = "http://www.w3.org/1999/xlink"
ZERO_DATETIME = "0000-00-00 00:00:00"
ZERO_DATE = "0000-00-00"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
log = logging.getLogger(__name__)

# What PHP prints with display_errors on: "<br />\n<b>Notice</b>:  Undefined index…" (html_errors on) or
# "\nNotice: Undefined index…" / "Deprecated: …" / "Warning: …" (html_errors off, which
# WebserviceRequest::fetch sets for its own part of the request).
_PHP_MESSAGE = re.compile(
    rb"(?:<b>)?\s*(?:PHP\s+)?(?:Notice|Warning|Deprecated|Strict Standards|User (?:notice|warning|deprecated)"
    rb"|Catchable fatal error|Recoverable fatal error)(?:</b>)?\s*:", re.IGNORECASE)
_CLOSE = b"</prestashop>"
_notice_seen = threading.Event()


def strip_php_output(content: bytes, url: str = "") -> bytes:
    """The body without the PHP notices printed before or after its ``<prestashop>`` document.

    Only text that reads like PHP's own messages is removed (logged once per process, with its start); any
    other text around the XML is left for the parser to refuse, since it is not known to be harmless.
    """
    start = content.find(b"<?xml")
    if start < 0:
        start = content.find(b"<prestashop")
    end = content.rfind(_CLOSE)
    if start < 0 or end < 0:
        return content
    end += len(_CLOSE)
    around = content[:start] + content[end:]
    if not around.strip():
        return content[start:end] if start else content
    if not _PHP_MESSAGE.search(around):
        return content
    if not _notice_seen.is_set():
        _notice_seen.set()
        log.warning("PrestaShop prints PHP messages around its XML (display_errors is on); they are stripped. "
                    "Turn display_errors off on the shop. First seen at %s: %r", redact_url(url),
                    body_preview(around, 300))
    return content[start:end]

# -- field typing ---------------------------------------------------------------------------------------

# Integer fields that are not ids (ids are recognised by name: ``id``, ``id_*``, ``*_id``).
INT_FIELDS = frozenset({
    "quantity", "product_quantity", "product_quantity_in_stock", "product_quantity_return",
    "product_quantity_refunded", "product_quantity_reinjected", "minimal_quantity", "low_stock_threshold",
    "current_state", "invoice_number", "delivery_number", "round_mode", "round_type", "out_of_stock",
    "position", "position_in_category", "max_payment_days", "number", "precision", "call_prefix",
    "text_fields", "uploadable_files", "pack_stock_type", "cache_default_attribute", "download_nb",
    "tax_computation_method", "shipping_tax_computation_method", "discount_quantity_applied",
    "customizable", "product_attribute_id", "product_id", "id_customization", "format", "nb_downloadable",
    "grade", "shipping_method",
})

BOOL_FIELDS = frozenset({
    "active", "deleted", "valid", "recyclable", "gift", "mobile_theme", "newsletter", "optin", "is_guest",
    "show_public_prices", "contains_states", "need_identification_number", "need_zip_code",
    "display_tax_label", "default_on", "depends_on_stock", "on_sale", "online_only", "available_for_order",
    "show_price", "indexed", "is_virtual", "cache_is_pack", "cache_has_attachments",
    "advanced_stock_management", "unremovable", "delivery", "hidden", "send_email", "invoice", "logable",
    "shipped", "paid", "pdf_delivery", "pdf_invoice", "low_stock_alert", "blank", "decimals", "unofficial",
    "modified", "quantity_discount", "new", "is_root_category", "is_default",
    "uses_stock", "is_free", "is_module", "shipping_handling", "range_behavior", "need_range", "is_rtl",
    "show_condition", "shipping_external",
})

# A name containing one of these words is an amount (``total_paid_tax_incl``, ``unit_price_tax_excl``,
# ``conversion_rate``, ``weight``) unless it is an id, an int or a flag above.
_DECIMAL_WORDS = ("price", "total", "amount", "rate", "weight", "width", "height", "depth", "ecotax",
                  "cost", "reduction", "discount", "ratio", "impact", "wholesale")
_DECIMAL_FIELDS = frozenset({"product_quantity_discount", "total_discounts"})

_INT_RE = re.compile(r"-?\d+\Z")
_DECIMAL_RE = re.compile(r"-?\d+(\.\d+)?\Z")
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_PRETTY_WS_RE = re.compile(r"\A\s*\n\s*|\s*\n\s*\Z")


def is_id_field(name: str) -> bool:
    return name == "id" or name.startswith("id_") or name.endswith("_id")


DATE_FIELD_NAMES = frozenset({"birthday", "last_passwd_gen", "reset_password_validity", "download_deadline",
                              "newsletter_date_add", "available_date"})


def is_date_field(name: str) -> bool:
    """Date columns by name: an empty value there is "no date" (None), like the zero date."""
    return name.startswith("date_") or name.endswith("_date") or name in DATE_FIELD_NAMES


@lru_cache(maxsize=4096)
def field_kind(name: str) -> str:
    """``int``, ``bool``, ``decimal`` or ``str``: how a field's value is typed. Cached: the names are the
    schema's few hundred, and every field of every record read asks."""
    if name in BOOL_FIELDS:
        return "bool"
    if is_id_field(name) or name in INT_FIELDS:
        return "int"
    if name in _DECIMAL_FIELDS or any(word in name for word in _DECIMAL_WORDS):
        return "decimal"
    return "str"


def clean_text(text: str | None) -> str:
    """The element's text without the indentation of pretty-printed XML (``<id>\\n  <![CDATA[67]]>\\n</id>``).

    Only whitespace that includes a line break is removed: ``"Paris "`` keeps its trailing space.
    """
    if not text:
        return ""
    if "\n" not in text:  # the usual case: nothing the pattern could remove
        return text
    return _PRETTY_WS_RE.sub("", text)


def parse_datetime(text: str, tz: ZoneInfo) -> datetime | None:
    """A shop-local ``YYYY-MM-DD HH:MM:SS`` as an aware datetime; the zero date means "never" (None)."""
    if _DATETIME_RE.match(text):
        return _matched_datetime(text, tz)
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)


def _matched_datetime(text: str, tz: ZoneInfo) -> datetime | None:
    """``parse_datetime`` of a value ``_DATETIME_RE`` matched already: in ASCII digits, ``fromisoformat`` makes
    the same checks as strptime at a tenth of its cost."""
    if text == ZERO_DATETIME:
        return None
    if text.isascii():
        return datetime.fromisoformat(text).replace(tzinfo=tz)
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)


def convert_value(name: str, text: str, tz: ZoneInfo) -> Any:
    """Type one field's string value; empty typed fields are None, odd values stay strings."""
    length = len(text)  # the two patterns match 19 and 10 characters exactly: most values are neither
    if length == 19 and _DATETIME_RE.match(text):
        try:
            return _matched_datetime(text, tz)
        except ValueError:
            return text
    if length == 10 and _DATE_RE.match(text):
        if text == ZERO_DATE:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text
    if text == "" and is_date_field(name):
        return None
    kind = field_kind(name)
    if kind == "str":
        return text
    if text == "":
        return None
    if kind == "int":
        return int(text) if _INT_RE.match(text) else text
    if kind == "bool":
        return text == "1" if text in ("0", "1") else text
    if _DECIMAL_RE.match(text):
        try:
            return Decimal(text)
        except InvalidOperation:
            return text
    return text


# -- XML to dicts ---------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    """The tag's local name (``{namespace}name`` → ``name``); comments and processing instructions have none."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


def _children(element: etree._Element) -> list[etree._Element]:
    if not len(element):  # a leaf, as most fields are
        return []
    return [c for c in element if isinstance(c.tag, str)]


def _is_language_field(element: etree._Element, children: list[etree._Element]) -> bool:
    return bool(children) and all(_local(c.tag) == "language" for c in children)


def element_to_record(element: etree._Element, tz: ZoneInfo) -> dict[str, Any]:
    """One ``<order>``/``<order_row>``… element as a typed dict."""
    record: dict[str, Any] = {}
    for child in _children(element):
        name = _local(child.tag)
        grandchildren = _children(child)
        if name == "associations":
            record["associations"] = {
                _local(assoc.tag): [element_to_record(item, tz) for item in _children(assoc)]
                for assoc in grandchildren
            }
        elif _is_language_field(child, grandchildren):
            record[name] = {int(lang.get("id", "0")): clean_text(lang.text) for lang in grandchildren}
        elif grandchildren:  # a nested object (rare: e.g. a price[] virtual field); keep its structure
            record[name] = element_to_record(child, tz)
        else:
            record[name] = convert_value(name, clean_text(child.text), tz)
    if "id" not in record and element.get("id") is not None:
        record["id"] = convert_value("id", element.get("id", ""), tz)
    return record


def _list_item(element: etree._Element, tz: ZoneInfo) -> dict[str, Any]:
    """A list entry: ``<order id="1" xlink:href=…/>`` without display, a full record with it."""
    if not _children(element):
        return {"id": convert_value("id", element.get("id", ""), tz)}
    return element_to_record(element, tz)


SINGULAR_TO_PLURAL: dict[str, str] = {
    "address": "addresses", "country": "countries", "currency": "currencies",
    "order_history": "order_histories", "category": "categories", "tax": "taxes",
    "order_tax": "order_taxes", "state": "states", "stock_available": "stock_availables",
    "image_type": "image_types", "search": "search",
}
PLURAL_TO_SINGULAR: dict[str, str] = {v: k for k, v in SINGULAR_TO_PLURAL.items()}


def plural(singular: str) -> str:
    return SINGULAR_TO_PLURAL.get(singular, singular + "s")


def singular(resource: str) -> str:
    """``orders`` → ``order``, ``addresses`` → ``address``: the element name of one object."""
    if resource in PLURAL_TO_SINGULAR:
        return PLURAL_TO_SINGULAR[resource]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource[:-1] if resource.endswith("s") else resource


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head


def unreadable(content: bytes, url: str, reason: str, status: int | None = None) -> PrestaShopError:
    """The error for a body that is not PrestaShop XML: says why, names the URL, shows the body's start."""
    text = body_preview(content)
    where = redact_url(url)
    start = text[:300].replace("\n", "\\n")
    if _looks_like_html(text):
        return PrestaShopNotWebservice(
            f"PrestaShop answered HTML instead of XML ({where}): {start!r}",
            status=status, url=url, body=content,
            resolution="check the shop URL ends in /api and the /api rewrite rule (Apache .htaccess or nginx) "
                       "is in place; the webservice must be enabled")
    start_of_xml = min((i for i in (text.find("<?xml"), text.find("<prestashop")) if i >= 0), default=-1)
    if (start_of_xml > 0 and text[:start_of_xml].strip()) or (text.strip() and not text.lstrip().startswith("<")):
        reason = "text before the XML (a PHP notice or warning?)"
    return PrestaShopUnreadableResponse(
        f"PrestaShop response is not readable XML: {reason} ({where}); body starts {start!r}",
        status=status, url=url, body=content,
        resolution="retried automatically; if it persists, turn display_errors off on the shop and read its "
                   "PHP error log")


def parse_document(content: bytes, url: str, status: int | None = None) -> etree._Element:
    """The ``<prestashop>`` root of a body, or an error that says what came back instead."""
    if not content or not content.strip():
        raise unreadable(content, url, "empty body", status)
    content = strip_php_output(content, url)
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise unreadable(content, url, f"{exc.msg or 'XML syntax error'}", status) from None
    if _local(root.tag) != "prestashop":
        raise unreadable(content, url, f"root element is <{_local(root.tag)}>, not <prestashop>", status)
    return root


def errors_in(root: etree._Element) -> list[dict[str, Any]]:
    """PrestaShop's ``<errors><error><code/><message/></error>…</errors>`` as dicts (empty if none)."""
    found: list[dict[str, Any]] = []
    for errors in root.findall("errors"):
        for error in errors.findall("error"):
            code_text = clean_text(error.findtext("code")).strip()
            found.append({
                "code": int(code_text) if _INT_RE.match(code_text) else (code_text or None),
                "message": clean_text(error.findtext("message")),
            })
    return found


def parse_xml(
    content: bytes | str, url: str = "", *, timezone: str | ZoneInfo = "Europe/Paris", status: int = 200,
) -> tuple[str, dict[str, Any] | list[dict[str, Any]]]:
    """``(resource, record)`` for one object, ``(resource, [records])`` for a list.

    ``resource`` is the API resource name (``orders``, ``addresses``) whether the body holds one object or a
    list. An ``<errors>`` body raises the matching ``PrestaShopError``.
    """
    raw = content.encode("utf-8") if isinstance(content, str) else content
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    root = parse_document(raw, url, status)
    children = _children(root)
    if not children:
        raise unreadable(raw, url, "empty <prestashop> envelope", status)
    errors = errors_in(root)
    if errors:
        raise error_for_status(status if status >= 400 else 500, url, errors=errors, body=raw)
    node = children[0]
    name = _local(node.tag)
    items = _children(node)
    is_list = name not in PLURAL_TO_SINGULAR.values() and (
        name in PLURAL_TO_SINGULAR or (not items and not clean_text(node.text)) or
        (bool(items) and all(_local(i.tag) == singular(name) for i in items) and name != singular(name))
    )
    if is_list:
        return name, [_list_item(item, tz) for item in items]
    return plural(name), element_to_record(node, tz)


def parse_json_errors(content: bytes) -> list[dict[str, Any]]:
    """Errors from a JSON error body (``{"errors":[{"code":23,"message":"…"}]}``), else empty."""
    import json

    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return []
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        return [e for e in data["errors"] if isinstance(e, dict)]
    return []


# -- dicts to request XML -------------------------------------------------------------------------------


def format_value(value: Any, tz: ZoneInfo) -> str:
    """A typed value as PrestaShop expects it in a request: ``1``/``0``, plain decimals, shop-local dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):  # tolerated on input only; money should already be Decimal
        return format(Decimal(str(value)), "f")
    if isinstance(value, datetime):
        local = value.astimezone(tz) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _append_field(parent: etree._Element, name: str, value: Any, tz: ZoneInfo,
                  template: etree._Element | None) -> None:
    node = etree.SubElement(parent, name)
    if isinstance(value, Mapping):  # language field {id_lang: text}
        for lang_id, text in value.items():
            lang = etree.SubElement(node, "language", id=str(lang_id))
            lang.text = format_value(text, tz)
        return
    template_langs = [] if template is None else [c for c in _children(template) if _local(c.tag) == "language"]
    if template_langs and not isinstance(value, Mapping):  # a plain string for a language field: every language
        for lang_template in template_langs:
            lang = etree.SubElement(node, "language", id=lang_template.get("id", "1"))
            lang.text = format_value(value, tz)
        return
    node.text = format_value(value, tz)


def _append_associations(parent: etree._Element, associations: Mapping[str, Any], tz: ZoneInfo,
                         template: etree._Element | None) -> None:
    node = etree.SubElement(parent, "associations")
    for assoc_name, items in associations.items():
        assoc = etree.SubElement(node, assoc_name)
        item_tag = singular(assoc_name)
        if template is not None:
            tmpl_assoc = template.find(assoc_name)
            if tmpl_assoc is not None:
                item_tag = tmpl_assoc.get("nodeType") or next(
                    (_local(c.tag) for c in _children(tmpl_assoc)), item_tag)
        for item in items or []:
            entry = etree.SubElement(assoc, item_tag)
            for key, value in item.items():
                _append_field(entry, key, value, tz, None)


def build_xml(
    resource: str,
    fields: Mapping[str, Any],
    *,
    timezone: str | ZoneInfo = "Europe/Paris",
    template: bytes | None = None,
    exclude: frozenset[str] | set[str] = frozenset(),
    include_id: bool = True,
) -> bytes:
    """The request body for one object of ``resource``.

    With a blank-schema ``template`` the fields come out in the template's order (PrestaShop does not care,
    but diffs and logs read better) and unknown names are refused early. Fields in ``exclude`` (read-only
    ones) are left out; ``include_id=False`` drops ``id`` for a POST. No pretty-printing: PrestaShop's
    validators reject whitespace inside values.
    """
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    root = etree.Element("prestashop", nsmap={"xlink": XLINK_NS})
    obj = etree.SubElement(root, singular(resource))
    template_obj: etree._Element | None = None
    order: list[str] = list(fields)
    if template is not None:
        template_root = etree.fromstring(template, parser=_PARSER)
        template_children = _children(template_root)
        if template_children:
            template_obj = template_children[0]
            names = [_local(c.tag) for c in _children(template_obj)]
            unknown = [k for k in fields if k not in names]
            if unknown:
                raise ValueError(f"{resource}: unknown field(s) {', '.join(sorted(unknown))}")
            order = [n for n in names if n in fields]
    for name in order:
        if name in exclude or (name == "id" and not include_id):
            continue
        value = fields[name]
        if name == "associations":
            if value:
                assoc_template = template_obj.find("associations") if template_obj is not None else None
                _append_associations(obj, value, tz, assoc_template)
            continue
        field_template = template_obj.find(name) if template_obj is not None else None
        _append_field(obj, name, value, tz, field_template)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + bytes(etree.tostring(root, encoding="UTF-8"))


def template_fields(template: bytes) -> dict[str, dict[str, str]]:
    """Field name → its attributes (``required``, ``readOnly``, ``format``…) from a blank/synopsis schema."""
    root = etree.fromstring(template, parser=_PARSER)
    children = _children(root)
    if not children:
        return {}
    return {_local(c.tag): {k: str(v) for k, v in c.attrib.items()} for c in _children(children[0])}
