"""Validation before every load: required fields, types, business rules, and M3's own limits.

Everything is checked and every failure is returned (not just the first), each naming the record, the field
and the rule, so an operator fixes an order in one pass. Nothing here talks to a system: whether an item
exists is asked through the ``known_item`` callable the flow passes in (backed by the binding table or the
item master), which keeps the rules testable with plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from integration.canonical import Customer, Order
from integration.errors import MappingError, ValidationFailed
from integration.mapping import m3fields
from integration.transform.address import country_alpha2, split_street
from integration.transform.money import minor_units


@dataclass(frozen=True)
class ValidationFailure:
    record: str  # "order 5", "order 5 line 2", "OIS100MI/AddBatchLine #2"
    field: str
    rule: str  # required | type | quantity_positive | max_quantity | totals_consistent | known_item | ...
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def raise_if_failed(failures: Sequence[ValidationFailure], what: str) -> None:
    """Turn failures into ``ValidationFailed`` (a permanent error: the event is dead-lettered with them)."""
    if not failures:
        return
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise ValidationFailed(
        f"{what} failed validation: {first.message}{more}",
        failures=[f.to_dict() for f in failures],
        resolution="correct the fields named in the failures at their source (shop or mapping files), then "
        "replay the event",
    )


def check_calls(calls: Iterable[dict[str, Any]]) -> list[ValidationFailure]:
    """M3's contract for each call: known transaction, known fields, string values, required fields, lengths.

    ORNO is never required here: M3 assigns it and the connector fills it in.
    """
    failures: list[ValidationFailure] = []
    counts: dict[str, int] = {}
    for call in calls:
        program, transaction = call.get("program", ""), call.get("transaction", "")
        counts[transaction] = counts.get(transaction, 0) + 1
        where = f"{program}/{transaction} #{counts[transaction]}"
        if not m3fields.has_transaction(program, transaction):
            failures.append(ValidationFailure(where, "transaction", "known_transaction",
                                              f"{where}: unknown M3 transaction", f"{program}/{transaction}"))
            continue
        lengths = m3fields.field_lengths(program, transaction)
        record = call.get("record") or {}
        for name, value in record.items():
            if name not in lengths:
                failures.append(ValidationFailure(where, name, "known_field",
                                                  f"{where}: {program}/{transaction} has no field {name}", value))
                continue
            if not isinstance(value, str):
                failures.append(ValidationFailure(where, name, "type",
                                                  f"{where}: {name} must be a string for M3, got {value!r}", value))
                continue
            limit = lengths[name]
            if limit is not None and len(value) > limit:
                failures.append(ValidationFailure(
                    where, name, "max_length",
                    f"{where}: {name} is {len(value)} characters, M3 takes at most {limit}: {value!r}", value))
        for name in m3fields.required_fields(program, transaction):
            if name != "ORNO" and not record.get(name):
                failures.append(ValidationFailure(where, name, "required",
                                                  f"{where}: {name} is required by M3 and is empty", None))
    return failures


def check_order(
    order: Order,
    *,
    known_item: Callable[[str], bool] | None = None,
    max_line_quantity: int | None = None,
    max_difference: Any = None,
    blocked_customers: frozenset[str] = frozenset(),
    allowed_countries: frozenset[str] = frozenset(),
    cuno: str | None = None,
    line_width: int = 36,
    max_lines: int = 4,
) -> list[ValidationFailure]:
    """The canonical order's own rules (the calls are checked by ``check_calls``)."""
    rec = f"order {order.ps_order_id}"
    out: list[ValidationFailure] = []

    def fail(record: str, field: str, rule: str, message: str, value: Any = None) -> None:
        out.append(ValidationFailure(record, field, rule, f"{record}: {message}", value))

    if not order.customer_order_number:
        fail(rec, "customer_order_number", "required", "customer_order_number is empty")
    if not order.lines:
        fail(rec, "lines", "required", "the order has no lines")
    for field in ("currency", "erp_currency"):
        try:
            minor_units(getattr(order, field))
        except MappingError:
            fail(rec, field, "known_currency", f"{field} {getattr(order, field)!r} is not an ISO 4217 code",
                 getattr(order, field))

    customer = order.customer
    if customer.blocked:
        fail(rec, "customer", "customer_not_blocked",
             f"customer {customer.ps_customer_id} is {'deleted' if customer.deleted else 'inactive'} in the shop",
             customer.ps_customer_id)
    ids = {str(customer.ps_customer_id)} | ({cuno} if cuno else set())
    if customer.infor_customer_number:
        ids.add(customer.infor_customer_number)
    if ids & blocked_customers:
        fail(rec, "customer", "customer_not_blocked",
             f"customer {', '.join(sorted(ids & blocked_customers))} is blocked in mappings/validation.yaml",
             sorted(ids & blocked_customers))

    for role, address in (("delivery_address", order.delivery_address), ("invoice_address", order.invoice_address)):
        for field in ("city", "country"):
            if not getattr(address, field):
                fail(rec, f"{role}.{field}", "required", f"{role}.{field} is empty")
        if not address.name:
            fail(rec, f"{role}.name", "required", f"{role} has neither a company nor a person name")
        if not address.street:
            fail(rec, f"{role}.street", "required", f"{role} has no street")
        if address.country and country_alpha2(address.country) != address.country:
            fail(rec, f"{role}.country", "known_country",
                 f"{role}.country {address.country!r} is not an ISO 3166-1 alpha-2 code", address.country)
        wrapped = split_street(address.street, line_width, max_lines)
        if wrapped.overflow:
            fail(rec, f"{role}.street", "fits_m3",
                 f"{role} street needs more than {max_lines} lines of {line_width} characters; "
                 f"left over: {wrapped.overflow!r}", wrapped.overflow)
    if allowed_countries and order.delivery_address.country not in allowed_countries:
        fail(rec, "delivery_address.country", "allowed_country",
             f"delivery country {order.delivery_address.country} is not one the ERP ships to "
             f"({', '.join(sorted(allowed_countries))})", order.delivery_address.country)

    for line in order.lines:
        lrec = f"{rec} line {line.line_no}"
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool):
            fail(lrec, "quantity", "type", f"quantity must be a whole number, got {line.quantity!r}", line.quantity)
            continue
        if line.quantity <= 0:
            fail(lrec, "quantity", "quantity_positive", f"quantity must be more than 0, got {line.quantity}",
                 line.quantity)
        if max_line_quantity is not None and line.quantity > max_line_quantity:
            fail(lrec, "quantity", "max_quantity",
                 f"quantity {line.quantity} is above the {max_line_quantity} allowed per line", line.quantity)
        if not line.item_number:
            fail(lrec, "item_number", "required", "no Infor item number", None)
        elif known_item is not None and not known_item(line.item_number):
            fail(lrec, "item_number", "known_item",
                 f"item {line.item_number} ({line.name or 'no name'}) does not exist in Infor", line.item_number)
        if line.unit_price_tax_excl < 0 or line.unit_price_tax_incl < 0:
            fail(lrec, "unit_price", "price_not_negative", "unit price is negative", str(line.unit_price_tax_excl))

    if max_difference is not None:
        for check in order.reconciliation:
            if abs(check.difference) > max_difference:
                fail(rec, f"totals.{check.name}", "totals_consistent",
                     f"{check.name}: lines add up to {check.computed} {check.currency}, the order says "
                     f"{check.expected} (difference {check.difference}, more than {max_difference} allowed)",
                     str(check.difference))
    return out


def check_customer(customer: Customer, *, blocked_customers: frozenset[str] = frozenset(),
                   cuno: str | None = None) -> list[ValidationFailure]:
    rec = f"customer {customer.ps_customer_id}"
    out: list[ValidationFailure] = []
    if customer.blocked:
        out.append(ValidationFailure(rec, "active", "customer_not_blocked",
                                     f"{rec}: the shop account is {'deleted' if customer.deleted else 'inactive'}"))
    if (str(customer.ps_customer_id) in blocked_customers) or (cuno and cuno in blocked_customers):
        out.append(ValidationFailure(rec, "ps_customer_id", "customer_not_blocked",
                                     f"{rec}: blocked in mappings/validation.yaml", customer.ps_customer_id))
    if not customer.name:
        out.append(ValidationFailure(rec, "name", "required", f"{rec}: neither a company nor a person name"))
    if customer.address is None or not customer.address.street:
        out.append(ValidationFailure(rec, "address", "required", f"{rec}: no address with a street"))
    return out
