"""Customer-order invoices (OIS350MI) and their receivables in accounts receivable (ARS200MI).

The invoice feed: ``OIS350MI/LstInvHead`` lists a year's invoice heads from an invoice number on (IVNO counts
up within a year), so the last number read is the feed's position; ``OIS350MI/LstDelHeadByInv`` names the
customer order behind an invoice. ``LstInvHeadByCo`` and ``LstAllInvByCO`` give an order's invoices with the
amount including VAT (IVAV) and what remains to be paid (RAFC). All of these are in the M3 swagger.

The receivable: ``ARS200MI/LstInvoices`` (per customer: year, journal and sequence of every AR entry with its
invoice number CINO, transaction code TRCD and reconciliation code RECO, 9 = settled) and ``ARS200MI/GetInvoice``
(one entry: CUAM, the amount in the invoice currency). An invoice is its TRCD 10 entry; payments and
settlements against it are further entries under the same CINO with negative amounts. ARS200MI is not in the
swagger we hold: its fields come from public M3 API listings, and the TRCD/RECO meanings are UNCONFIRMED on a
tenant, so the flow can read the receivable from OIS350MI's RAFC instead (mappings/invoices.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from integration.connectors.infor.m3 import M3Client, Record
from integration.connectors.infor.orders import m3_decimal

OIS350 = "OIS350MI"
ARS200 = "ARS200MI"
INVOICE_TRCD = "10"  # the invoice's own AR entry; payments and settlements carry other codes
SETTLED_RECO = "9"


def m3_date(value: str | None) -> date | None:
    """M3's yyyyMMdd (YMD8) as a date; None when empty or zero."""
    text = (value or "").strip()
    if not text or text.strip("0") == "":
        return None
    return datetime.strptime(text, "%Y%m%d").date()


def invoice_key(year: str | int, number: str | int) -> str:
    """The one name of an invoice across flows, bindings and the inbox: ``<YEA4>-<IVNO>``."""
    return f"{int(year)}-{int(number)}"


def split_invoice_key(key: str) -> tuple[str, str]:
    year, _, number = key.partition("-")
    if not (year.isdigit() and number.isdigit()):
        raise ValueError(f"not an invoice key (YEA4-IVNO): {key!r}")
    return year, number


@dataclass(frozen=True)
class Invoice:
    """One customer-order invoice as M3 shows it (amounts in the invoice currency)."""

    year: str
    number: str
    order: str
    customer: str
    currency: str
    amount: Decimal | None  # IVAV, including VAT
    remaining: Decimal | None  # RAFC
    invoice_date: date | None
    due_date: date | None
    extended_number: str = ""  # EXIN

    @property
    def key(self) -> str:
        return invoice_key(self.year, self.number)


def new_invoices(client: M3Client, year: int | str, after: int | str | None) -> list[Record]:
    """Invoice heads of ``year`` numbered after ``after`` (all of the year when None), lowest first."""
    start = int(after) + 1 if after not in (None, "") else None
    params: dict[str, object] = {"YEA4": str(year)}
    if start is not None:
        params["IVNO"] = str(start)
    records = client.execute(OIS350, "LstInvHead", params, maxrecs=0)
    # LstInvHead's records do not carry the year (its outputs in the swagger have no YEA4): it is the one asked for.
    fresh = [{**r, "YEA4": str(year)} for r in records if r.get("IVNO", "").strip().isdigit()
             and (start is None or int(r["IVNO"]) >= start)]
    return sorted(fresh, key=lambda r: int(r["IVNO"]))


def invoice_orders(client: M3Client, year: str | int, number: str | int) -> list[str]:
    """The customer order(s) an invoice was made for (one, unless M3 grouped orders on one invoice)."""
    records = client.execute(OIS350, "LstDelHeadByInv", {"YEA4": str(year), "IVNO": str(number)}, maxrecs=0)
    return sorted({r["ORNO"].strip() for r in records
                   if r.get("ORNO", "").strip() and r.get("IVNO", str(number)).strip() == str(int(number))})


def order_invoices(client: M3Client, orno: str) -> list[Invoice]:
    """Every invoice of an order: heads from ``LstInvHeadByCo``, amounts including VAT from ``LstAllInvByCO``."""
    heads = client.execute(OIS350, "LstInvHeadByCo", {"ORNO": orno}, maxrecs=0)
    totals = {(r.get("YEA4", "").strip(), r.get("IVNO", "").strip()): r
              for r in client.execute(OIS350, "LstAllInvByCO", {"ORNO": orno}, maxrecs=0)}
    invoices: dict[tuple[str, str], Invoice] = {}
    for head in heads:
        key = (head.get("YEA4", "").strip(), head.get("IVNO", "").strip())
        if not key[1]:
            continue
        total = totals.get(key, {})
        invoices[key] = Invoice(
            year=key[0], number=key[1], order=orno, customer=head.get("CUNO", "").strip(),
            currency=(head.get("CUCD") or total.get("CUCD") or "").strip(),
            amount=m3_decimal(total.get("IVAV")), remaining=m3_decimal(total.get("RAFC") or head.get("RAFC")),
            invoice_date=m3_date(head.get("IVDT") or total.get("IDAT")),
            due_date=m3_date(head.get("DUDT") or total.get("DUDT")),
            extended_number=(head.get("EXIN") or total.get("EXIN") or "").strip())
    return [invoices[k] for k in sorted(invoices, key=lambda k: (k[0], int(k[1])))]


@dataclass(frozen=True)
class Receivable:
    """What accounts receivable says about one invoice. ``status``: open, partial or paid."""

    source: str
    amount: Decimal
    open: Decimal
    settled: bool
    entries: list[dict[str, str]] = field(default_factory=list)

    @property
    def paid(self) -> Decimal:
        return self.amount - self.open

    @property
    def status(self) -> str:
        if self.settled or (self.open <= 0 < self.amount):
            return "paid"
        return "partial" if self.paid > 0 else "open"


def receivable_from_invoice(invoice: Invoice) -> Receivable | None:
    """OIS350MI's view: the invoice amount and its remaining amount (RAFC)."""
    if invoice.amount is None or invoice.remaining is None:
        return None
    return Receivable("OIS350MI", invoice.amount, invoice.remaining, invoice.remaining == 0)


def receivable_from_ledger(client: M3Client, customer: str, invoice_number: str, year: str) -> Receivable | None:
    """ARS200MI's view: the invoice's AR entries (``LstInvoices`` for the customer, then ``GetInvoice`` for each
    entry of this invoice in one bulk call); None when accounts receivable has no entry for it yet."""
    rows = client.execute(ARS200, "LstInvoices", {"CUNO": customer}, maxrecs=0)
    mine = [r for r in rows if r.get("CINO", "").strip() == invoice_number.strip()
            and r.get("INYR", year).strip() in (str(year), "")]
    if not mine:
        return None
    calls = [{"program": ARS200, "transaction": "GetInvoice",
              "record": {"YEA4": r["YEA4"].strip(), "JRNO": r["JRNO"].strip(), "JSNO": r["JSNO"].strip()}}
             for r in mine]
    entries: list[dict[str, str]] = []
    for row, result in zip(mine, client.bulk(calls), strict=True):
        if not result.ok or not result.records:
            raise result.error or ValueError(f"ARS200MI/GetInvoice gave nothing for {result.record}")
        detail = result.records[0]
        entries.append({"TRCD": (detail.get("TRCD") or row.get("TRCD", "")).strip(),
                        "CUAM": detail.get("CUAM", "0").strip() or "0", "CUCD": detail.get("CUCD", "").strip(),
                        "RECO": (detail.get("RECO") or row.get("RECO", "")).strip(),
                        "DTP5": detail.get("DTP5", "").strip(), "PYCD": detail.get("PYCD", "").strip()})
    amount = sum((Decimal(e["CUAM"]) for e in entries if e["TRCD"] == INVOICE_TRCD), Decimal(0))
    balance = sum((Decimal(e["CUAM"]) for e in entries), Decimal(0))
    settled = all(e["RECO"] == SETTLED_RECO for e in entries)
    return Receivable("ARS200MI", amount, balance, settled, entries)
