"""The mapping engine: PrestaShop records → canonical entities → M3 transactions, as the YAML says.

One ``MappingEngine`` is built per deployment at start-up (``MappingEngine.load(mappings_dir)``), after which
it is immutable and pure: every method maps data to data, with no I/O, so flows can call it from any worker
and tests can call it with plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from integration.canonical import (
    Address,
    Customer,
    Invoice,
    Item,
    Order,
    OrderLine,
    ReconciliationLine,
    Shipment,
    StockLevel,
    Totals,
)
from integration.errors import HeldForReview, MappingError, ValidationFailed
from integration.transform import money
from integration.transform.address import (
    country_alpha2,
    m3_state,
    normalise_postcode,
    person_name,
    phone_e164,
    postcode_matches,
    split_street,
    subdivision_code,
    transliterate,
)
from integration.transform.enrichment import enrich
from integration.transform.status import infor_action_for_ps_state
from integration.transform.status import ps_state_for_infor_status as _ps_state_for
from integration.transform.variants import resolve_item
from integration.validation.anomalies import Anomaly, detect_anomalies
from integration.validation.rules import ValidationFailure, check_calls, check_customer, check_order

from . import m3fields
from .fieldmap import render
from .inbound import infor_to_canonical
from .loader import MappingConfig, TransactionMap, load_mappings
from .records import RecordReader, order_rows


class InforCall(TypedDict):
    program: str
    transaction: str
    record: dict[str, str]


class MappingEngine:
    def __init__(self, config: MappingConfig):
        self.config = config

    @classmethod
    def load(cls, mappings_dir: str | Path) -> MappingEngine:
        """Read and check every mapping file (``ConfigurationError`` naming file, key and problem)."""
        return cls(load_mappings(mappings_dir))

    # --- customers ------------------------------------------------------------------------------------

    def cuno_for(self, ps_customer_id: int) -> str:
        """The Infor customer number for a shop customer: the configured template, deterministic."""
        return self.config.customers.customer_number.format(id=int(ps_customer_id))

    def ps_address_to_canonical(
        self,
        address: Mapping[str, Any] | None,
        country: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        *,
        notes: list[str] | None = None,
        failures: list[dict[str, Any]] | None = None,
        id_lang: int | None = None,
    ) -> Address:
        """A standardised address: ISO country and subdivision, clean postcode, E.164 phone, cleaned text."""
        notes = notes if notes is not None else []
        failures = failures if failures is not None else []
        tz = self.config.orders.timezone
        rec = RecordReader(address, f"address {(address or {}).get('id', '?')}", failures, tz, id_lang)
        ctry = RecordReader(country, f"country {(country or {}).get('id', '?')}", failures, tz, id_lang)
        st = RecordReader(state, f"state {(state or {}).get('id', '?')}", failures, tz, id_lang)
        raw_iso = ctry.text("iso_code").upper() or rec.text("country_iso").upper()
        raw_iso = self.config.addresses.country_aliases.get(raw_iso, raw_iso)
        iso = country_alpha2(raw_iso)
        if raw_iso and iso is None:
            notes.append(f"{rec.name}: country code {raw_iso!r} is not ISO 3166-1")
        country_code = iso or raw_iso
        state_code = None
        if state:
            raw_state = st.text("iso_code")
            state_code = subdivision_code(country_code, raw_state) or (raw_state.upper() or None)
        postcode = normalise_postcode(rec.text("postcode"), country_code)
        if postcode and not postcode_matches(postcode, ctry.text("zip_code_format"), country_code):
            notes.append(f"{rec.name}: postcode {postcode!r} does not match {country_code}'s format "
                         f"{ctry.text('zip_code_format')!r}")
        phone_raw = rec.text("phone") or rec.text("phone_mobile")
        phone = phone_e164(phone_raw, country_code)
        if phone_raw and phone is None:
            notes.append(f"{rec.name}: phone {phone_raw!r} is not a valid number for {country_code or 'its country'}")
        return Address(
            first_name=rec.text("firstname"),
            last_name=rec.text("lastname"),
            company=rec.text("company"),
            street=[s for s in (rec.text("address1"), rec.text("address2")) if s],
            postcode=postcode,
            city=rec.text("city"),
            country=country_code,
            state=state_code,
            phone=phone,
            phone_raw=phone_raw,
            vat_number=rec.text("vat_number").replace(" ", "").upper(),
            ps_address_id=rec.integer("id", None),
        )

    def ps_customer_to_canonical(
        self,
        customer: Mapping[str, Any],
        address: Mapping[str, Any] | None = None,
        *,
        country: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Customer:
        """A shop customer (and its main address, with the address's country and state records when known:
        the country gives the ISO code M3 needs) as a canonical Customer."""
        failures: list[dict[str, Any]] = []
        result = self._customer(customer, address, country, state, failures, [])
        _raise_type_failures(failures, f"customer {result.ps_customer_id}")
        return result

    def _customer(self, customer: Mapping[str, Any], address: Mapping[str, Any] | None,
                  country: Mapping[str, Any] | None, state: Mapping[str, Any] | None,
                  failures: list[dict[str, Any]], notes: list[str]) -> Customer:
        rec = RecordReader(customer, f"customer {customer.get('id', '?')}", failures, self.config.orders.timezone)
        canonical_address = (self.ps_address_to_canonical(address, country, state, notes=notes, failures=failures)
                             if address else None)
        company = rec.text("company") or (canonical_address.company if canonical_address else "")
        vat = canonical_address.vat_number if canonical_address else ""
        return Customer(
            ps_customer_id=rec.integer("id", 0) or 0,
            email=rec.text("email").lower(),
            first_name=rec.text("firstname"),
            last_name=rec.text("lastname"),
            company=company,
            group_id=rec.integer("id_default_group", None),
            language_id=rec.integer("id_lang", None),
            is_guest=rec.boolean("is_guest"),
            active=rec.boolean("active", True),
            deleted=rec.boolean("deleted"),
            vat_number=vat,
            address=canonical_address,
        )

    def customer_to_infor(self, customer: Customer, *, cuno: str) -> list[InforCall]:
        """CRS610MI calls creating the customer (Add with the template, then e.g. ChgFinancial for a VAT
        number), as the ``calls`` of customers.yaml say."""
        context = {"customer": customer, "cuno": cuno, "address": self._address_context(customer.address, "")}
        calls: list[InforCall] = []
        for tmap in self.config.customers.calls:
            record = self._render(tmap, context, f"customer {customer.ps_customer_id}")
            if tmap.skip_unless and not record.get(tmap.skip_unless):
                continue
            calls.append({"program": tmap.program, "transaction": tmap.transaction, "record": record})
        return calls

    def customer_update_to_infor(self, customer: Customer, *, cuno: str,
                                 changed: Iterable[str] | None = None) -> list[InforCall]:
        """The CRS610MI call (``update`` in customers.yaml) for a shop edit to an existing M3 customer.

        A field is sent only when its canonical source is owned by PrestaShop (ownership.yaml), and, when
        ``changed`` names the canonical fields that changed (``email``, ``address``...), only when its source
        is one of them. Nothing to send gives an empty list.
        """
        tmap = self.config.customers.update
        if tmap is None:
            return []
        changed_set = set(changed) if changed is not None else None
        context = {"customer": customer, "cuno": cuno, "address": self._address_context(customer.address, "")}
        record = self._render(tmap, context, f"customer {customer.ps_customer_id}")
        keep: dict[str, str] = {}
        for name, value in record.items():
            spec = tmap.fields[name]
            if spec.source in (None, "cuno"):
                keep[name] = value
                continue
            sources = _canonical_sources(spec.source or "")
            if any(self.owner_of(entity, field) == "infor" for entity, field in sources):
                continue
            if changed_set is not None and not any(
                    (field if entity == "customer" else "address") in changed_set for entity, field in sources):
                continue
            keep[name] = value
        if set(keep) <= {"CUNO"}:
            return []
        return [{"program": tmap.program, "transaction": tmap.transaction, "record": keep}]

    def validate_customer(self, customer: Customer, calls: Sequence[InforCall], *,
                          cuno: str | None = None) -> list[ValidationFailure]:
        return [*check_customer(customer, blocked_customers=self.config.validation.blocked_customers, cuno=cuno),
                *check_calls([dict(c) for c in calls])]

    # --- orders ---------------------------------------------------------------------------------------

    def ps_order_to_canonical(
        self,
        bundle: Mapping[str, Any],
        *,
        known_item: Callable[[str], bool] | None = None,
        ean_index: Mapping[str, Sequence[str]] | None = None,
        rates: Mapping[str, Decimal] | None = None,
    ) -> Order:
        """The canonical order for an order bundle (typed, or its ``to_jsonable`` form).

        ``known_item`` lets the ``reference`` strategy skip references that are not Infor items;
        ``ean_index`` (EAN → ITNOs) feeds the ``ean`` strategy; ``rates`` (ISO code → units per one ERP
        currency unit) is required when ``rate_source`` is ``infor``. Raises ``ValidationFailed`` for values
        of the wrong type (each named) and ``MappingError`` for what has no mapping (a variant, a currency).
        """
        cfg = self.config
        tz = cfg.orders.timezone
        failures: list[dict[str, Any]] = []
        notes: list[str] = []
        raw_order = bundle.get("order") or {}
        o = RecordReader(raw_order, f"order {raw_order.get('id', '?')}", failures, tz)
        id_lang = o.integer("id_lang", None)
        o.id_lang = id_lang
        order_id = o.integer("id", 0) or 0
        currency_rec = RecordReader(bundle.get("currency"), "currency", failures, tz, id_lang)
        currency = currency_rec.text("iso_code").upper()
        if not currency:
            raise MappingError(f"order {order_id}: the bundle has no currency iso_code",
                               resolution="include the order's currencies record in the bundle",
                               details={"ps_order_id": order_id})
        conversion_rate = o.decimal("conversion_rate", Decimal("1")) or Decimal("1")

        customer = self._customer(bundle.get("customer") or {}, bundle.get("address_invoice"),
                                  bundle.get("country_invoice"), bundle.get("state_invoice"), failures, notes)
        delivery = self.ps_address_to_canonical(bundle.get("address_delivery"), bundle.get("country_delivery"),
                                                bundle.get("state_delivery"), notes=notes, failures=failures,
                                                id_lang=id_lang)
        # An order always has both addresses; should the invoice one be missing, bill where it is delivered.
        invoice = customer.address if customer.address is not None else delivery
        carrier = RecordReader(bundle.get("carrier"), "carrier", failures, tz, id_lang)

        erp_currency, erp_rate, rate_source = self._rate(currency, conversion_rate, rates, order_id)
        basis = cfg.orders.price_basis
        rounding = cfg.currencies.rounding

        enrichment, applied = enrich(cfg.enrichment_defaults, cfg.enrichment_rules, {
            "shop": str(o.integer("id_shop", 1)),
            "country": delivery.country,
            "customer_group": str(customer.group_id or ""),
            "carrier": str(o.integer("id_carrier", 0)),
            "payment": o.text("module"),
            "currency": currency,
        })

        lines: list[OrderLine] = []
        unresolved: list[str] = []
        for index, row in enumerate(order_rows(raw_order), start=1):
            r = RecordReader(row, f"order {order_id} row {index}", failures, tz, id_lang)
            quantity = r.integer("product_quantity", 0) or 0
            unit_excl = r.decimal("unit_price_tax_excl") or Decimal(0)
            unit_incl = r.decimal("unit_price_tax_incl") or Decimal(0)
            product_id = r.integer("product_id", 0) or 0
            combination_id = r.integer("product_attribute_id", 0) or 0
            reference = r.text("product_reference")
            ean13 = r.text("product_ean13")
            try:
                resolution = resolve_item(product_id, combination_id, reference, ean13,
                                          order=cfg.variant_order, table=cfg.variant_table,
                                          ean_index=ean_index, known_item=known_item)
                item_number, resolved_by = resolution.item_number, resolution.strategy
            except MappingError as exc:
                unresolved.append(f"row {index}: {exc.message}")
                item_number, resolved_by = "", ""
            unit_basis = unit_excl if basis == "tax_excl" else unit_incl
            erp_unit = money.quantize(money.convert(unit_basis, erp_rate), erp_currency, rounding)
            lines.append(OrderLine(
                line_no=index,
                product_id=product_id,
                combination_id=combination_id,
                quantity=quantity,
                item_number=item_number,
                resolved_by=resolved_by,
                reference=reference,
                ean13=ean13,
                name=r.text("product_name"),
                ps_order_detail_id=r.integer("id", None),
                unit_price_tax_excl=unit_excl,
                unit_price_tax_incl=unit_incl,
                total_tax_excl=money.quantize(unit_excl * quantity, currency, rounding),
                total_tax_incl=money.quantize(unit_incl * quantity, currency, rounding),
                erp_unit_price=erp_unit,
                erp_total=money.quantize(erp_unit * quantity, erp_currency, rounding),
                warehouse=enrichment.get("warehouse", ""),
            ))
        _raise_type_failures(failures, f"order {order_id}")
        if unresolved:
            raise MappingError(
                f"order {order_id}: {len(unresolved)} line(s) have no Infor item: " + " | ".join(unresolved),
                resolution="set the references to Infor item numbers, or add the variants to the table in "
                "mappings/variants.yaml",
                details={"ps_order_id": order_id, "lines": unresolved},
            )

        totals = Totals(
            currency=currency,
            products_tax_excl=o.decimal("total_products") or Decimal(0),
            products_tax_incl=o.decimal("total_products_wt") or Decimal(0),
            shipping_tax_excl=o.decimal("total_shipping_tax_excl") or Decimal(0),
            shipping_tax_incl=o.decimal("total_shipping_tax_incl") or Decimal(0),
            wrapping_tax_excl=o.decimal("total_wrapping_tax_excl") or Decimal(0),
            wrapping_tax_incl=o.decimal("total_wrapping_tax_incl") or Decimal(0),
            discounts_tax_excl=o.decimal("total_discounts_tax_excl") or Decimal(0),
            discounts_tax_incl=o.decimal("total_discounts_tax_incl") or Decimal(0),
            paid_tax_excl=o.decimal("total_paid_tax_excl") or Decimal(0),
            paid_tax_incl=o.decimal("total_paid_tax_incl") or Decimal(0),
        )
        erp_totals = Totals(currency=erp_currency, **{
            name: money.quantize(money.convert(getattr(totals, name), erp_rate), erp_currency, rounding)
            for name in Totals.__dataclass_fields__ if name != "currency"
        })
        reconciliation = _reconcile(totals, erp_totals, lines, basis)
        _raise_type_failures(failures, f"order {order_id}")

        reference = o.text("reference")
        id_shop = o.integer("id_shop", 1) or 1
        return Order(
            ps_order_id=order_id,
            reference=reference,
            customer=customer,
            delivery_address=delivery,
            invoice_address=invoice,
            order_date=o.datetime("date_add") or _missing_date(order_id),
            currency=currency,
            erp_currency=erp_currency,
            erp_rate=erp_rate,
            rate_source=rate_source,
            price_basis=basis,
            customer_order_number=cfg.orders.customer_order_number.format(
                reference=reference, id_order=order_id, id_shop=id_shop),
            id_shop=id_shop,
            ps_state_id=o.integer("current_state", None),
            payment_module=o.text("module"),
            payment_name=o.text("payment"),
            carrier_id=o.integer("id_carrier", None),
            carrier_name=carrier.text("name"),
            updated_at=o.datetime("date_upd"),
            conversion_rate=conversion_rate,
            gift_message=o.text("gift_message"),
            lines=lines,
            totals=totals,
            erp_totals=erp_totals,
            reconciliation=reconciliation,
            enrichment=enrichment,
            enrichment_rules=applied,
            notes=notes,
        )

    def _rate(self, currency: str, conversion_rate: Decimal, rates: Mapping[str, Decimal] | None,
              order_id: int) -> tuple[str, Decimal, str]:
        cur = self.config.currencies
        money.minor_units(currency)  # an unknown code fails here, named
        if cur.erp_currency in ("ORDER", currency):
            return currency, Decimal(1), "identity"
        if cur.rate_source == "prestashop":
            return cur.erp_currency, conversion_rate, "prestashop"
        table = cur.fixed_rates if cur.rate_source == "fixed" else {k.upper(): v for k, v in (rates or {}).items()}
        if currency not in table:
            where = "fixed_rates in mappings/currencies.yaml" if cur.rate_source == "fixed" else \
                "the rates read from Infor (passed as rates=...)"
            raise MappingError(
                f"order {order_id}: no conversion rate from {currency} to {cur.erp_currency}",
                resolution=f"add {currency} to {where}",
                details={"ps_order_id": order_id, "currency": currency, "erp_currency": cur.erp_currency,
                         "rate_source": cur.rate_source},
            )
        return cur.erp_currency, Decimal(table[currency]), cur.rate_source

    def order_to_infor(self, order: Order, *, cuno: str) -> list[InforCall]:
        """OIS100MI calls for a batch order: AddBatchHead, AddBatchAddress (delivery, and invoice when the
        policy says), AddBatchLine per line, AddBatchHeadChg per non-zero configured charge (shipping...).
        No ORNO: M3 assigns it and the connector fills it in."""
        cfg = self.config.orders
        base = {"order": order, "cuno": cuno, "enrichment": order.enrichment}
        where = f"order {order.ps_order_id}"
        calls: list[InforCall] = [self._call(cfg.head, base, where)]
        addresses = [("delivery", order.delivery_address)]
        same = _address_key(order.invoice_address) == _address_key(order.delivery_address)
        if cfg.invoice_address == "always" or (cfg.invoice_address == "if_different" and not same):
            addresses.append(("invoice", order.invoice_address))
        for role, address in addresses:
            context = {**base, "address": self._address_context(address, cfg.address_types[role])}
            calls.append(self._call(cfg.address, context, f"{where} {role} address"))
        for line in order.lines:
            calls.append(self._call(cfg.line, {**base, "line": line}, f"{where} line {line.line_no}"))
        if cfg.charge is not None and order.erp_totals is not None:
            suffix = "tax_excl" if order.price_basis == "tax_excl" else "tax_incl"
            for name, crid in cfg.charges:
                amount = getattr(order.erp_totals, f"{name}_{suffix}")
                if amount:
                    charge = {"id": crid, "name": name, "amount": amount}
                    calls.append(self._call(cfg.charge, {**base, "charge": charge}, f"{where} {name} charge"))
        return calls

    def validate_order(self, order: Order, calls: Sequence[InforCall], *,
                       known_item: Callable[[str], bool] | None = None,
                       cuno: str | None = None) -> list[ValidationFailure]:
        """Every failure of the order and of its M3 calls (empty list = fit to load)."""
        v = self.config.validation
        a = self.config.addresses
        return [
            *check_order(order, known_item=known_item, max_line_quantity=v.max_line_quantity,
                         max_difference=self.config.currencies.max_difference,
                         blocked_customers=v.blocked_customers, allowed_countries=v.allowed_countries,
                         cuno=cuno, line_width=a.line_width, max_lines=a.max_lines),
            *check_calls([dict(c) for c in calls]),
        ]

    def anomalies(self, order: Order, *, usual_quantity: Decimal | None = None,
                  usual_amount: Decimal | None = None) -> list[Anomaly]:
        """Suspicious but valid: what ``check_anomalies`` would hold the order for."""
        a = self.config.validation.anomalies
        return detect_anomalies(order, max_line_quantity=a.max_line_quantity, max_order_amount=a.max_order_amount,
                                quantity_factor=a.quantity_factor, amount_factor=a.amount_factor,
                                countries_must_match=a.countries_must_match, usual_quantity=usual_quantity,
                                usual_amount=usual_amount)

    def check_anomalies(self, order: Order, *, usual_quantity: Decimal | None = None,
                        usual_amount: Decimal | None = None) -> None:
        """Raise ``HeldForReview`` when the order looks wrong enough for an operator to see it first."""
        found = self.anomalies(order, usual_quantity=usual_quantity, usual_amount=usual_amount)
        if found:
            raise HeldForReview(
                f"order {order.ps_order_id} held for review: " + "; ".join(x.message for x in found),
                resolution="check the order with the customer, then release it (or cancel it in the shop)",
                details={"anomalies": [x.to_dict() for x in found]},
            )

    # --- statuses ---------------------------------------------------------------------------------------

    def ps_state_for_infor_status(self, lowest: object, highest: object) -> str | None:
        """PrestaShop configuration key (``PS_OS_SHIPPING``...) for M3's lowest/highest line status; None
        means the mapping says "leave the shop's state as it is". ``MappingError`` when unmapped."""
        return _ps_state_for(self.config.statuses, lowest, highest)

    def infor_status_for_ps_state(self, state_key: str | None, flags: Mapping[str, bool] | None = None) -> str:
        """What M3 does with an order in this shop state: ``open``, ``hold``, ``cancel`` or ``ignore``."""
        return infor_action_for_ps_state(self.config.statuses, state_key, flags)

    # --- Infor → canonical ------------------------------------------------------------------------------

    def _inbound(self, entity: str, model: type[Any], record: Mapping[str, Any], what: str,
                 extra: Mapping[str, Any] | None = None) -> Any:
        inbound = self.config.inbound
        return infor_to_canonical(model, inbound.entities.get(entity, {}), record, tz=inbound.timezone,
                                  what=what, extra=extra)

    def infor_item_to_canonical(self, record: Mapping[str, Any]) -> Item:
        """An item from MMS200MI (Get, LstItmByItm...) as a canonical Item."""
        item: Item = self._inbound("item", Item, record, f"item {record.get('ITNO', '?')}")
        return item

    def item_is_sellable(self, item: Item) -> bool:
        """Whether the item's M3 status lets the shop sell it (``sellable_item_statuses`` in inbound.yaml)."""
        return item.status in self.config.inbound.sellable_item_statuses

    def infor_stock_to_canonical(self, record: Mapping[str, Any], **extra: Any) -> StockLevel:
        """A warehouse balance (OIS100MI LstNewBalances, MMS200MI GetItmWhsBal) as a StockLevel; ``extra``
        sets what M3 does not say (``as_of``, the shop's product and combination ids)."""
        what = f"stock {record.get('ITNO', '?')}@{record.get('WHLO', '?')}"
        level: StockLevel = self._inbound("stock_level", StockLevel, record, what, extra)
        return level

    def infor_shipment_to_canonical(self, record: Mapping[str, Any], **extra: Any) -> Shipment:
        """A delivery head (MWS410MI GetHead) as a Shipment: tracking number, carrier, date."""
        shipment: Shipment = self._inbound("shipment", Shipment, record,
                                           f"delivery {record.get('DLIX', '?')}", extra)
        return shipment

    def infor_invoice_to_canonical(self, record: Mapping[str, Any], **extra: Any) -> Invoice:
        """An invoice (OIS350MI) as a canonical Invoice."""
        invoice: Invoice = self._inbound("invoice", Invoice, record, f"invoice {record.get('IVNO', '?')}", extra)
        return invoice

    # --- ownership ------------------------------------------------------------------------------------

    def owner_of(self, entity: str, field: str) -> str:
        """``prestashop`` or ``infor``: the system that is the master of ``entity.field``."""
        return self.config.ownership.get(entity, {}).get(field) or self.config.ownership_defaults.get(
            entity, "prestashop")

    def fields_to_write(self, entity: str, changes: Mapping[str, Any], *, target: str) -> dict[str, Any]:
        """The changes that may be written to ``target``: those whose master is the other system."""
        return {k: v for k, v in changes.items() if self.owner_of(entity, k) != target}

    # --- helpers ----------------------------------------------------------------------------------------

    def _address_context(self, address: Address | None, address_type: str) -> dict[str, Any]:
        if address is None:
            return {"type": address_type, "lines": []}
        a = self.config.addresses
        # Transliterated before wrapping, so the ASCII lines are the ones that fit CUA1-CUA4 ("ß" → "ss").
        street = [transliterate(s) for s in address.street] if a.transliterate else address.street
        wrapped = split_street(street, a.line_width, a.max_lines)
        return {
            "type": address_type, "name": address.name,
            "person": person_name(address.first_name, address.last_name),
            "first_name": address.first_name, "last_name": address.last_name, "company": address.company,
            "lines": wrapped.lines, "postcode": address.postcode, "city": address.city,
            "country": address.country, "state": address.state,
            "m3_state": m3_state(address.country, address.state, a.state_codes), "phone": address.phone,
            "phone_raw": address.phone_raw, "vat_number": address.vat_number,
        }

    def _render(self, tmap: TransactionMap, context: Mapping[str, Any], where: str) -> dict[str, str]:
        lengths = m3fields.field_lengths(tmap.program, tmap.transaction)
        record: dict[str, str] = {}
        for name, spec in tmap.fields.items():
            value = render(spec, context, lookups=self.config.lookups, options=self.config.orders.options,
                           max_length=lengths.get(name), where=f"{where} {tmap.transaction}.{name}",
                           tz=self.config.orders.timezone, ascii_only=self.config.addresses.transliterate)
            if value is not None:
                record[name] = value
        return record

    def _call(self, tmap: TransactionMap, context: Mapping[str, Any], where: str) -> InforCall:
        return {"program": tmap.program, "transaction": tmap.transaction,
                "record": self._render(tmap, context, where)}


# Derived values and the canonical fields they come from (for ownership and "what changed").
_DERIVED_CUSTOMER = {"name": ("company", "first_name", "last_name"), "person_name": ("first_name", "last_name"),
                     "blocked": ("active", "deleted")}
_ADDRESS_CONTEXT = {"lines": ("street",), "name": ("company", "first_name", "last_name"),
                    "person": ("first_name", "last_name"), "type": ()}


def _canonical_sources(path: str) -> list[tuple[str, str]]:
    """(entity, canonical field) pairs a field-map path reads: ``customer.name`` → company, first/last name."""
    parts = path.split(".")
    if parts[0] == "customer" and len(parts) > 1:
        if parts[1] == "address" and len(parts) > 2:
            return [("address", parts[2])]
        return [("customer", f) for f in _DERIVED_CUSTOMER.get(parts[1], (parts[1],))]
    if parts[0] == "address" and len(parts) > 1:
        return [("address", f) for f in _ADDRESS_CONTEXT.get(parts[1], (parts[1],))]
    return []


def _address_key(address: Address) -> tuple[Any, ...]:
    return (address.name, tuple(address.street), address.postcode, address.city, address.country, address.state)


def _reconcile(totals: Totals, erp: Totals, lines: list[OrderLine], basis: str) -> list[ReconciliationLine]:
    """Every total checked against its parts, in the order currency and after conversion to the ERP's."""
    suffix = "tax_excl" if basis == "tax_excl" else "tax_incl"
    checks = [
        money.reconcile("products_tax_excl", totals.products_tax_excl, [ln.total_tax_excl for ln in lines],
                        totals.currency),
        money.reconcile("products_tax_incl", totals.products_tax_incl, [ln.total_tax_incl for ln in lines],
                        totals.currency),
        money.reconcile("paid_tax_incl", totals.paid_tax_incl,
                        [totals.products_tax_incl, totals.shipping_tax_incl, totals.wrapping_tax_incl,
                         -totals.discounts_tax_incl], totals.currency),
        money.reconcile(f"erp_products_{suffix}", getattr(erp, f"products_{suffix}"),
                        [ln.erp_total for ln in lines], erp.currency),
        money.reconcile(f"erp_paid_{suffix}", getattr(erp, f"paid_{suffix}"),
                        [*(ln.erp_total for ln in lines), getattr(erp, f"shipping_{suffix}"),
                         getattr(erp, f"wrapping_{suffix}"), -getattr(erp, f"discounts_{suffix}")], erp.currency),
    ]
    return [ReconciliationLine(c.name, c.currency, c.expected, c.computed, c.difference) for c in checks]


def _raise_type_failures(failures: list[dict[str, Any]], what: str) -> None:
    if failures:
        raise ValidationFailed(
            f"{what}: {len(failures)} value(s) of the wrong type: " + "; ".join(f["message"] for f in failures[:5]),
            failures=list(failures),
            resolution="correct the values named above in the shop, or the reader that produced them",
        )


def _missing_date(order_id: int) -> Any:
    raise ValidationFailed(
        f"order {order_id}: date_add is missing",
        failures=[{"record": f"order {order_id}", "field": "date_add", "rule": "required",
                   "message": f"order {order_id}: date_add is missing", "value": None}],
    )


__all__ = ["InforCall", "MappingEngine", "ValidationFailure"]
