"""The Infor sandbox's order-to-cash: order totals with VAT, invoice amounts, and an accounts-receivable ledger.

M3 computes VAT per order line (here the catalogue's one rate, rounded per line, half up) and per charge; an
order's TOPY is lines and charges with VAT. An invoice (made per delivery by ``M3State.advance``) carries its
lines with VAT, and the order's charges on its first invoice. Each invoice posts an AR entry (transaction
code 10, the invoice amount); a payment (the control API, as a cash receipt would in M3) posts an entry with
a negative amount under the same invoice number (CINO). The receivable is the sum of an invoice's entries;
when it reaches zero every entry is reconciled (RECO 9).

Transactions: ``OIS350MI/LstInvHead`` (year, from an invoice number on), ``OIS350MI/LstDelHeadByInv`` (the order
of an invoice), ``ARS200MI/LstInvoices`` (a customer's entries), ``ARS200MI/GetInvoice`` (one entry). ARS200MI is
not in the swagger the connector ships: its mandatory inputs are checked here (as M3 would), from public M3
API listings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from psinfor_devkit.sandbox import catalogue

if TYPE_CHECKING:
    from psinfor_devkit.sandbox.infor.state import Invoice, Line, Order

Record = dict[str, str]
CENT = Decimal("0.01")
_ARS200_REQUIRED = {"LstInvoices": ("CUNO",), "GetInvoice": ("YEA4", "JRNO", "JSNO")}


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _num(value: Decimal) -> str:
    return format(_cents(value), "f")


def _vat(amount: Decimal) -> Decimal:
    return _cents(amount * catalogue.TAX_RATE)


@dataclass
class ArEntry:
    """One accounts-receivable entry (FSLEDG-like): year, journal and sequence number identify it."""

    yea4: str
    jrno: int
    jsno: int
    cuno: str
    cino: str
    inyr: str
    trcd: str  # 10 invoice, 20 payment
    cuam: Decimal
    cucd: str
    ivdt: str
    dudt: str
    pycd: str = ""
    reco: str = "0"
    rede: str = ""
    dtp5: str = ""


@dataclass
class Ledger:
    entries: list[ArEntry] = field(default_factory=list)
    journal: int = 1000

    def by_invoice(self, cino: str, inyr: str) -> list[ArEntry]:
        return [e for e in self.entries if e.cino == cino and e.inyr == inyr]


class InvoicesMixin:
    """Mixed into ``M3State``: everything above, under the state's lock like every transaction."""

    ledger: Ledger
    orders: dict[str, Order]
    invoices: dict[str, Invoice]

    if TYPE_CHECKING:
        def _order(self, orno: str) -> Order: ...

    # -- amounts ----------------------------------------------------------------------------------------------

    @staticmethod
    def charge_amount(charge: Record) -> Decimal:
        try:
            return Decimal(charge.get("CRAM") or "0")
        except ArithmeticError:
            return Decimal(0)

    def order_totals(self, order: Order) -> Record:
        """TOPY (total), TOAM (after tax), VTAM (VAT) and ORVA (before tax) of an order, lines and charges."""
        net = sum((ln.amount for ln in order.lines), Decimal(0)) + sum(
            (self.charge_amount(c) for c in order.charges), Decimal(0))
        vat = sum((_vat(ln.amount) for ln in order.lines), Decimal(0)) + sum(
            (_vat(self.charge_amount(c)) for c in order.charges), Decimal(0))
        return {"ORVA": _num(net), "VTAM": _num(vat), "TOAM": _num(net + vat), "TOPY": _num(net + vat)}

    def invoice_amount(self, order: Order, lines: list[Line], first: bool) -> Decimal:
        """Lines with VAT (per line), and the order's charges with VAT on its first invoice."""
        amount = sum((_cents(ln.amount) + _vat(ln.amount) for ln in lines), Decimal(0))
        if first:
            amount += sum((self.charge_amount(c) + _vat(self.charge_amount(c)) for c in order.charges), Decimal(0))
        return amount

    # -- the ledger -------------------------------------------------------------------------------------------

    def post_invoice(self, invoice: Invoice, order: Order) -> ArEntry:
        """The invoice's AR entry (TRCD 10); due 30 days on (the sandbox's payment terms)."""
        self.ledger.journal += 1
        due = (datetime.strptime(invoice.ivdt, "%Y%m%d").toordinal() + 30)
        entry = ArEntry(invoice.yea4, self.ledger.journal, 1, order.cuno, invoice.ivno, invoice.yea4, "10",
                        invoice.amount, invoice.cucd, invoice.ivdt,
                        datetime.fromordinal(due).strftime("%Y%m%d"))
        self.ledger.entries.append(entry)
        return entry

    def remaining(self, invoice: Invoice) -> Decimal:
        entries = self.ledger.by_invoice(invoice.ivno, invoice.yea4)
        return sum((e.cuam for e in entries), Decimal(0)) if entries else invoice.amount

    def pay(self, ivno: str, amount: Decimal | None = None, method: str = "WEB") -> dict[str, Any]:
        """A cash receipt against an invoice (the whole open amount when ``amount`` is None)."""
        invoice = self.invoices.get(ivno)
        if invoice is None:
            raise KeyError(f"invoice {ivno} does not exist")
        entries = self.ledger.by_invoice(invoice.ivno, invoice.yea4)
        if not entries:
            raise KeyError(f"invoice {ivno} has no AR entry")
        open_amount = self.remaining(invoice)
        paid = open_amount if amount is None else Decimal(amount)
        if paid <= 0:
            raise ValueError("a payment must be more than zero")
        today = datetime.now(UTC).strftime("%Y%m%d")
        self.ledger.journal += 1
        first = entries[0]
        self.ledger.entries.append(ArEntry(first.yea4, self.ledger.journal, 1, first.cuno, first.cino, first.inyr,
                                           "20", -paid, first.cucd, first.ivdt, first.dudt, pycd=method,
                                           dtp5=today))
        left = self.remaining(invoice)
        if left == 0:
            for entry in self.ledger.by_invoice(invoice.ivno, invoice.yea4):
                entry.reco, entry.rede = "9", today
        return {"IVNO": ivno, "YEA4": invoice.yea4, "paid": _num(paid), "remaining": _num(left),
                "status": "paid" if left == 0 else "partial" if left < invoice.amount else "open"}

    def ledger_view(self) -> list[dict[str, Any]]:
        return [{"YEA4": e.yea4, "JRNO": e.jrno, "JSNO": e.jsno, "CUNO": e.cuno, "CINO": e.cino, "INYR": e.inyr,
                 "TRCD": e.trcd, "CUAM": _num(e.cuam), "CUCD": e.cucd, "RECO": e.reco}
                for e in self.ledger.entries]

    # -- OIS350MI ---------------------------------------------------------------------------------------------

    def tx_OIS350MI_LstInvHead(self, rec: Record) -> list[Record]:
        from psinfor_devkit.sandbox.infor.state import Nok

        year = rec["YEA4"]
        if not year.isdigit():
            raise Nok(f"Year {year} is invalid", code="WYE0101", field="YEA4")
        start = int(rec["IVNO"]) if rec.get("IVNO", "").isdigit() else 0
        found = sorted((i for i in self.invoices.values() if i.yea4 == year and int(i.ivno) >= start),
                       key=lambda i: int(i.ivno))
        out = []
        for invoice in found:
            order = self.orders[invoice.orno]
            # No YEA4 in the records: the swagger's LstInvHead outputs do not carry the year it was asked for.
            out.append({"IVNO": invoice.ivno, "IDAT": invoice.ivdt, "CUCD": invoice.cucd,
                        "RAFC": _num(self.remaining(invoice)), "INST": "1", "PYNO": order.cuno,
                        "CUNM": order.head.get("YREF", ""), "AMT1": _num(invoice.amount), "CUC1": invoice.cucd,
                        "INPX": "WEB", "EXIN": f"{invoice.yea4}{invoice.ivno}", "RGDT": invoice.ivdt,
                        "LMDT": invoice.ivdt, "CHID": "PSINFOR"})
        return out

    def tx_OIS350MI_LstDelHeadByInv(self, rec: Record) -> list[Record]:
        year, number = rec["YEA4"], rec.get("IVNO", "")
        found = [i for i in self.invoices.values() if i.yea4 == year and (not number or i.ivno == number)]
        return [{"IVNO": i.ivno, "ORNO": i.orno, "DLIX": i.dlix, "WHLO": self.orders[i.orno].head.get("WHLO", ""),
                 "IVDT": i.ivdt, "PYNO": self.orders[i.orno].cuno, "CUNO": self.orders[i.orno].cuno,
                 "ORST": self.orders[i.orno].orst, "INPX": "WEB", "EXIN": f"{i.yea4}{i.ivno}"}
                for i in sorted(found, key=lambda i: int(i.ivno))]

    # -- ARS200MI ---------------------------------------------------------------------------------------------

    @staticmethod
    def _ars200_required(transaction: str, rec: Record) -> None:
        from psinfor_devkit.sandbox.infor.state import Nok

        for name in _ARS200_REQUIRED[transaction]:
            if not rec.get(name, "").strip():
                raise Nok(f"Input field {name} is mandatory", field=name, error_type="MandatoryInputFieldNotFound")

    def tx_ARS200MI_LstInvoices(self, rec: Record) -> list[Record]:
        self._ars200_required("LstInvoices", rec)
        only_open = rec.get("AAC0") == "1"
        rows = []
        for e in self.ledger.entries:
            if e.cuno != rec["CUNO"] or (only_open and e.reco == "9"):
                continue
            rows.append({"YEA4": e.yea4, "JRNO": str(e.jrno), "JSNO": str(e.jsno), "CINO": e.cino, "TRCD": e.trcd,
                         "INYR": e.inyr, "RECO": e.reco, "REDE": e.rede, "PYNO": e.cuno, "IVDT": e.ivdt,
                         "DUDT": e.dudt, "TDSC": "Invoice" if e.trcd == "10" else "Payment"})
        return rows

    def tx_ARS200MI_GetInvoice(self, rec: Record) -> list[Record]:
        from psinfor_devkit.sandbox.infor.state import Nok

        self._ars200_required("GetInvoice", rec)
        for e in self.ledger.entries:
            if (e.yea4, str(e.jrno), str(e.jsno)) == (rec["YEA4"], rec["JRNO"].lstrip("0"), rec["JSNO"].lstrip("0")):
                return [{"CONO": catalogue.INFOR_COMPANY, "DIVI": catalogue.INFOR_DIVISION, "YEA4": e.yea4,
                         "JRNO": str(e.jrno), "JSNO": str(e.jsno), "TRCD": e.trcd, "PYNO": e.cuno, "CUNO": e.cuno,
                         "CINO": e.cino, "INYR": e.inyr, "CUCD": e.cucd, "CUAM": _num(e.cuam),
                         "VTAM": "0.00", "IVDT": e.ivdt, "DUDT": e.dudt, "PYCD": e.pycd, "RECO": e.reco,
                         "REDE": e.rede, "DTP5": e.dtp5, "CRST": "0"}]
        raise Nok(f"Invoice entry {rec['YEA4']}/{rec['JRNO']}/{rec['JSNO']} does not exist", code="WIV0203",
                  field="JRNO")
