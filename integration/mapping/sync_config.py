"""The mapping files of the customer, invoice and payment flows: ``customer_sync.yaml`` and ``invoices.yaml``.

Both are optional (a deployment that has not written them gets the defaults below) and are checked at start-up
like every other mapping file: a bad key names file, key and problem. What each key means is said in the YAML
files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate

from integration.connectors.infor import metadata

from .fieldmap import FieldSpec
from .schema import FieldSpecSchema, Scalar, Strict

DEFAULT_MESSAGE = "M3 invoice {number} of {date}: {amount} {currency}, due {due_date}"
MATCHES = ("email", "vat_number", "none")
KINDS = ("guest", "b2c", "b2b")
RECEIVABLE_SOURCES = ("ARS200MI", "OIS350MI")
ADDRESS_ROOT_FIELDS = ("type", "name", "person", "first_name", "last_name", "company", "lines", "postcode",
                       "city", "country", "state", "phone", "phone_raw", "vat_number")

_FIELD_NAME = fields.String(validate=validate.Regexp(r"^[A-Z0-9]{4}$", error="M3 field names are 4 capitals"))


class KindSchema(Strict):
    template = Scalar(load_default="WEBTMPL")
    match = fields.String(validate=validate.OneOf(MATCHES), load_default="none")


class GuestsSchema(Strict):
    mode = fields.String(validate=validate.OneOf(["own", "shared"]), load_default="own")
    shared_customer = Scalar(load_default="")


def _default_address_fields() -> dict[str, dict[str, Any]]:
    return {
        "CUNM": {"source": "address.name", "truncate": True}, "CUA1": {"source": "address.lines.0", "default": "-"},
        "CUA2": {"source": "address.lines.1"}, "CUA3": {"source": "address.lines.2"},
        "CUA4": {"source": "address.lines.3"}, "PONO": {"source": "address.postcode"},
        "TOWN": {"source": "address.city", "truncate": True}, "CSCD": {"source": "address.country"},
        "ECAR": {"source": "address.state"}, "PHNO": {"source": "address.phone"},
        "YREF": {"source": "address.person", "truncate": True},
    }


class AddressesSchema(Strict):
    type = Scalar(load_default="1")
    fields_ = fields.Dict(keys=_FIELD_NAME, values=fields.Nested(FieldSpecSchema), data_key="fields",
                          load_default=None)


class CreditStopSchema(Strict):
    field_ = fields.String(validate=validate.Regexp(r"^[A-Z0-9]{4}$", error="M3 field names are 4 capitals"),
                           data_key="field", load_default="STAT")
    stopped_values = fields.List(Scalar(), load_default=lambda: ["90"])
    shop_group = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))


class CustomerSyncFile(Strict):
    kinds = fields.Dict(keys=fields.String(validate=validate.OneOf(KINDS)), values=fields.Nested(KindSchema),
                        load_default=dict)
    guests = fields.Nested(GuestsSchema, load_default=dict)
    addresses = fields.Nested(AddressesSchema, load_default=dict)
    credit_stop = fields.Nested(CreditStopSchema, load_default=dict)
    vat_check = fields.String(validate=validate.OneOf(["none", "format", "checksum"]), load_default="format")


class ReceivablesSchema(Strict):
    source = fields.String(validate=validate.OneOf(RECEIVABLE_SOURCES), load_default="ARS200MI")
    invoice_key = fields.String(validate=validate.OneOf(["IVNO", "EXIN"]), load_default="IVNO")


class InvoicesFile(Strict):
    message = fields.String(load_default=DEFAULT_MESSAGE)
    message_private = fields.Boolean(load_default=True)
    invoiced_state = fields.String(allow_none=True, load_default=None)
    paid_state = fields.String(allow_none=True, load_default="PS_OS_PAYMENT")
    receivables = fields.Nested(ReceivablesSchema, load_default=dict)
    record_payments = fields.String(validate=validate.OneOf(["none"]), load_default="none")


OPTIONAL_FILES: dict[str, type[Schema]] = {"customer_sync.yaml": CustomerSyncFile, "invoices.yaml": InvoicesFile}
MESSAGE_PLACEHOLDERS = ("number", "date", "amount", "currency", "due_date", "order", "reference")


@dataclass(frozen=True)
class CustomerKind:
    template: str = "WEBTMPL"
    match: str = "none"


@dataclass(frozen=True)
class AddressMap:
    """``AddAddress``/``ChgAddress`` field maps (the same fields; ``ChgAddress`` sends only what changed)."""

    type: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class CustomerSyncConfig:
    kinds: dict[str, CustomerKind] = field(default_factory=lambda: {
        "guest": CustomerKind(match="none"), "b2c": CustomerKind(match="email"),
        "b2b": CustomerKind(match="vat_number")})
    guest_mode: str = "own"
    shared_customer: str = ""
    addresses: AddressMap = field(default_factory=lambda: AddressMap("1", {}))
    credit_field: str = "STAT"
    stopped_values: frozenset[str] = frozenset({"90"})
    stop_group: int | None = None
    vat_check: str = "format"

    def kind(self, name: str) -> CustomerKind:
        return self.kinds.get(name) or CustomerSyncConfig().kinds[name]


@dataclass(frozen=True)
class InvoicesConfig:
    message: str = DEFAULT_MESSAGE
    message_private: bool = True
    invoiced_state: str | None = None
    paid_state: str | None = "PS_OS_PAYMENT"
    receivable_source: str = "ARS200MI"
    invoice_key: str = "IVNO"
    record_payments: str = "none"


def _spec(raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(source=raw.get("source"), const=raw.get("const"), default=raw.get("default"),
                     lookup=raw.get("lookup"), format=raw.get("format", "text"), truncate=raw.get("truncate", False),
                     only_if=raw.get("only_if"), omit_zero=raw.get("omit_zero", False))


def build_customer_sync(data: dict[str, Any], add_problem: Any) -> CustomerSyncConfig:
    """``add_problem(file, key, problem)`` collects what is wrong, as the loader does for every file."""
    from .fieldmap import check_path
    from .loader import ADDRESS_ROOT, CUSTOMER_ROOTS

    file = "customer_sync.yaml"
    kinds = {**CustomerSyncConfig().kinds}
    for name, raw in (data.get("kinds") or {}).items():
        kinds[name] = CustomerKind(str(raw["template"]), raw["match"])
        if len(kinds[name].template) > 10:
            add_problem(file, f"kinds.{name}.template", "longer than CUTM's 10 characters")
    guests = data.get("guests") or {"mode": "own", "shared_customer": ""}
    if guests["mode"] == "shared" and not guests["shared_customer"]:
        add_problem(file, "guests.shared_customer", "mode 'shared' needs the M3 customer number guests order on")
    addresses = data.get("addresses") or {"type": "1", "fields_": None}
    raw_fields = addresses.get("fields_") or _default_address_fields()
    specs: dict[str, FieldSpec] = {}
    lengths = metadata.transaction_meta("CRS610MI", "AddAddress")
    for name, raw in raw_fields.items():
        spec = _spec(raw)
        if lengths is not None and name not in lengths.inputs:
            add_problem(file, f"addresses.fields.{name}", f"CRS610MI/AddAddress has no field {name}")
            continue
        if name in ("CUNO", "ADRT", "ADID"):
            add_problem(file, f"addresses.fields.{name}", "set by the flow (customer number, type, address id)")
            continue
        if spec.source is not None:
            problem = check_path(spec.source, {**CUSTOMER_ROOTS, "address": ADDRESS_ROOT})
            if problem:
                add_problem(file, f"addresses.fields.{name}.from", problem)
        specs[name] = spec
    for name in ("CUA1", "PONO", "CSCD", "TOWN"):  # AddAddress's mandatory inputs besides the keys
        if name not in specs:
            add_problem(file, "addresses.fields", f"CRS610MI/AddAddress requires {name}, which is not mapped")
    adrt = str(addresses.get("type", "1"))
    if len(adrt) > 2:
        add_problem(file, "addresses.type", "longer than ADRT's 2 characters")
    credit = data.get("credit_stop") or {"field_": "STAT", "stopped_values": ["90"], "shop_group": None}
    return CustomerSyncConfig(kinds=kinds, guest_mode=guests["mode"], shared_customer=str(guests["shared_customer"]),
                              addresses=AddressMap(adrt, specs), credit_field=credit["field_"],
                              stopped_values=frozenset(str(v) for v in credit["stopped_values"]),
                              stop_group=credit["shop_group"], vat_check=data.get("vat_check", "format"))


def build_invoices(data: dict[str, Any], add_problem: Any) -> InvoicesConfig:
    import string

    file = "invoices.yaml"
    loaded = data or InvoicesFile().load({})
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(loaded["message"]) if f is not None}
    except ValueError as exc:
        add_problem(file, "message", f"not a valid template: {exc}")
        names = set()
    unknown = sorted(n for n in names if n not in MESSAGE_PLACEHOLDERS)
    if unknown:
        add_problem(file, "message", f"unknown placeholder(s) {', '.join(unknown)} "
                                     f"(allowed: {', '.join(MESSAGE_PLACEHOLDERS)})")
    for key in ("invoiced_state", "paid_state"):
        value = loaded[key]
        if value is not None and not value.startswith("PS_OS_"):
            add_problem(file, key, f"{value!r} is not a PS_OS_* configuration key (null: leave the state)")
    receivables = loaded.get("receivables") or {"source": "ARS200MI", "invoice_key": "IVNO"}
    return InvoicesConfig(message=loaded["message"], message_private=loaded["message_private"],
                          invoiced_state=loaded["invoiced_state"], paid_state=loaded["paid_state"],
                          receivable_source=receivables["source"], invoice_key=receivables["invoice_key"],
                          record_payments=loaded["record_payments"])
