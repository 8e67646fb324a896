"""The Infor sandbox's M3: customers, items, balances, batch orders, orders, deliveries, invoices.

It keeps M3's rules where a client can trip on them: mandatory fields and field lengths from the tenant's MI
swagger (``metadata.py``, not the connector's own metadata file: ``MandatoryInputFieldNotFound``,
``InputFieldTooLong``), ``ServerReturnedNOK`` with a code and the field for business refusals (unknown customer
or item, wrong company...), the batch order life cycle (``AddBatchHead`` gives a temporary ORNO; ``Confirm``
releases it to the batch job, which creates the customer order or stops it with a status and messages in
``LstErrMsgOrder``; OIS275MI shows batch orders with their status, 90 once the customer order exists), line
status 22 → 33 → 44 → 66 → 77 with the head's ORSL/ORST as lowest/highest line status, lines deleted
(``DelLine``, the head then shows 90) or closed (``CloLine``, 99) only before their picking list, deliveries
(MWS410MI) carrying tracking numbers (ETRN), and invoices (OIS350MI). Stock balances carry an LMTS change
stamp for ``OIS100MI/LstNewBalances``. Every output value fits the swagger's length, or the sandbox fails
loudly (a sandbox bug must not look like M3's answer).

Batch statuses: 15 (an error on the head), 20, 25, 30, 55 and 90 are OIS275's (docs.infor.com M3 16.x,
"Correct and Complete Rejected Temporary Customer Order": statuses 15/20/25/30/55 are rejected batch orders,
header errors show as 15, 90 = customer order created). Which check gives which of 20/25/30/55 is not
documented; the sandbox's choice (unconfirmed on a real tenant): ``10`` = entered, nothing processed yet
(also while a released order waits for the asynchronous batch job); ``20`` = a line or address refused when
it was added; ``25`` = lines refused when the order is processed (an item not sellable, status other than
20); ``30`` = stopped by the credit check (a customer with a credit stop); ``55`` = stopped by the batch job
(only through the control API's ``stop_next``). Message codes are M3-like but chosen here; clients should
match on error type and field, as with real M3.

All state sits behind one lock: several worker threads call at once and every transaction is short.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.infor.metadata import transaction_meta

Record = dict[str, str]

CONTEXT_PARAMS = frozenset({
    "cono", "divi", "lanc", "locale", "timeZone", "maxrecs", "returncols", "dateformat", "excludeempty",
    "excludempty", "righttrim", "format", "extendedresult", "metadata",
})
DEFAULT_MAXRECS = 100  # what m3-h5-sdk sends when the caller gives none; 0 means unlimited
CURRENCIES = frozenset(c.iso_code for c in catalogue.CURRENCIES)
COUNTRIES = frozenset(c.iso_code for c in catalogue.COUNTRIES)
STAGES = ("allocate", "pick", "deliver", "invoice")
_STAGE_STATUS = {"allocate": "33", "pick": "44", "deliver": "66", "invoice": "77"}


class Nok(Exception):
    """An M3 refusal: becomes ``errorType``/``errorCode``/``errorField``/``errorMessage`` (v2) or ``@type``..."""

    def __init__(self, message: str, *, code: str = "", field: str = "", error_type: str = "ServerReturnedNOK"):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.error_type = error_type


def _now() -> datetime:
    return datetime.now(UTC)


def _ymd(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def _dec(value: str, field_name: str) -> Decimal:
    try:
        number = Decimal(value.strip() or "0")
    except InvalidOperation:
        raise Nok(f"{field_name} {value} is not a valid number", code="WNU0101", field=field_name) from None
    if not number.is_finite():
        raise Nok(f"{field_name} {value} is not a valid number", code="WNU0101", field=field_name)
    return number


def _num(value: Decimal, places: int = 2) -> str:
    """Numbers as M3 answers them: plain decimal strings."""
    return format(value.quantize(Decimal(1).scaleb(-places)), "f") if places else format(value, "f")


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _check_date(value: str, field_name: str) -> None:
    if value and not re.fullmatch(r"\d{8}", value):
        raise Nok(f"Date {value} is invalid", code="WDA0101", field=field_name)
    if value:
        try:
            datetime.strptime(value, "%Y%m%d")
        except ValueError:
            raise Nok(f"Date {value} is invalid", code="WDA0101", field=field_name) from None


@dataclass
class Balance:
    itno: str
    whlo: str
    stqt: Decimal
    alqt: Decimal = Decimal(0)
    reqt: Decimal = Decimal(0)
    lmts: int = 0

    def record(self) -> Record:
        return {"WHLO": self.whlo, "ITNO": self.itno, "STQT": _qty(self.stqt), "ALQT": _qty(self.alqt),
                "REQT": _qty(self.reqt), "AV01": _qty(self.stqt - self.alqt), "AV02": _qty(self.stqt - self.reqt),
                "AVAL": _qty(self.stqt - self.alqt), "FACI": catalogue.INFOR_FACILITY,
                "CONO": catalogue.INFOR_COMPANY}


@dataclass
class Line:
    ponr: int
    itno: str
    orqt: Decimal
    sapr: Decimal
    whlo: str
    fields: Record
    status: str = "22"
    alqt: Decimal = Decimal(0)
    dlqt: Decimal = Decimal(0)
    ivqt: Decimal = Decimal(0)

    @property
    def amount(self) -> Decimal:
        return self.orqt * self.sapr


@dataclass
class Delivery:
    dlix: str
    orno: str
    etrn: str
    fwno: str
    lines: list[tuple[int, str, Decimal]]
    created: datetime
    pgrs: str = "60"
    ivno: str = ""
    ivdt: str = ""
    lmts: int = 0


@dataclass
class Invoice:
    ivno: str
    yea4: str
    ivdt: str
    orno: str
    dlix: str
    amount: Decimal
    cucd: str


@dataclass
class BatchOrder:
    orno: str  # temporary
    head: Record
    created: datetime
    addresses: list[Record] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    charges: list[Record] = field(default_factory=list)
    errors: list[Record] = field(default_factory=list)
    status: str = "10"
    final_orno: str = ""
    due: float | None = None  # released (Confirm) and waiting for the asynchronous batch job until then
    entry_refused: bool = False  # a line or address was refused when added: processing cannot fix that

    @property
    def queued(self) -> bool:
        return self.due is not None


@dataclass
class Order:
    orno: str
    temp_orno: str
    cuno: str
    head: Record
    lines: list[Line]
    addresses: list[Record]
    created: datetime
    deliveries: list[Delivery] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    lmts: int = 0
    deleted_lines: list[Line] = field(default_factory=list)

    @property
    def orsl(self) -> str:
        # "90 Deleted customer order (no more open order lines exist)": docs.infor.com M3 16.x, Status -
        # Customer Order.
        return min((ln.status for ln in self.lines), default="90" if self.deleted_lines else "22")

    @property
    def orst(self) -> str:
        return max((ln.status for ln in self.lines), default="90" if self.deleted_lines else "22")

    @property
    def ntam(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal(0))


Handler = Callable[[Record], list[Record]]


class M3State:
    """One M3 company/division with the sandbox's seed data. Call ``run(program, transaction, record)``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._last_lmts = 0
        self.handlers: dict[str, Handler] = self._handlers()
        self.reset()

    def reset(self) -> None:
        """Back to the seed data (control API), keeping the lock so that running requests stay safe."""
        with self.lock:
            self._clear()
            self._seed()

    def _clear(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.items: dict[str, Record] = {}
        self.item_lmts: dict[str, int] = {}
        self.prices: dict[str, Decimal] = {}
        self.balances: dict[tuple[str, str], Balance] = {}
        self.batch_orders: dict[str, BatchOrder] = {}
        self.orders: dict[str, Order] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.invoices: dict[str, Invoice] = {}
        if not hasattr(self, "_seq"):  # numbers are never reused, even after a reset (bindings outlive it)
            self._seq = {"temp": 9000000000, "orno": 1000000000, "dlix": 50000000000, "ivno": 700000000,
                         "cuno": 0}
        self.warehouses = {catalogue.INFOR_WAREHOUSE}
        self.templates = {catalogue.INFOR_CUSTOMER_TEMPLATE: {
            "CUCD": "EUR", "ORTP": catalogue.INFOR_ORDER_TYPE, "WHLO": catalogue.INFOR_WAREHOUSE,
            "FACI": catalogue.INFOR_FACILITY, "STAT": "20", "LNCD": "GB", "TEPY": "030", "MODL": "STD",
            "TEDL": "FCA", "CUTP": "0"}}
        self.order_types = {catalogue.INFOR_ORDER_TYPE}
        self.credit_stops: set[str] = set()  # CUNOs the credit check stops (control API)
        self.async_confirm_seconds = 0.0  # > 0: Confirm only releases; the batch job runs that much later
        self.stop_next: list[str] = []  # statuses the batch job gives the next orders it processes (control API)
        self.deleted_orders: dict[str, Order] = {}

    # -- housekeeping -----------------------------------------------------------------------------------

    def lmts(self) -> int:
        """A change stamp in milliseconds, strictly increasing so that "changed since" never misses one."""
        stamp = int(time.time() * 1000)
        self._last_lmts = max(stamp, self._last_lmts + 1)
        return self._last_lmts

    def _next(self, name: str) -> int:
        self._seq[name] += 1
        return self._seq[name]

    def _seed(self) -> None:
        prices: dict[str, Decimal] = {}
        for product in catalogue.PRODUCTS:
            if product.combinations:
                for combo in product.combinations:
                    prices[combo.reference] = product.price_tax_excl + combo.price_impact
            else:
                prices[product.reference] = product.price_tax_excl
        today = _ymd(_now())
        for itno, description, ean, stock in catalogue.erp_items():
            stamp = self.lmts()
            self.items[itno] = {
                "ITNO": itno, "ITDS": description[:30], "FUDS": description[:60], "STAT": "20", "UNMS": "PCS",
                "ITTY": "FG", "ITGR": "WEB", "ITCL": "", "RESP": "PSINFOR", "SPUN": "PCS", "ALUC": "1",
                "CHCD": "1", "POPN": ean, "EAN": ean, "LMDT": today, "RGDT": today, "CHNO": "1",
            }
            self.item_lmts[itno] = stamp
            self.prices[itno] = prices.get(itno, Decimal(0)).quantize(Decimal("0.01"))
            self.balances[(catalogue.INFOR_WAREHOUSE, itno)] = Balance(itno, catalogue.INFOR_WAREHOUSE,
                                                                        Decimal(stock), lmts=stamp)

    # -- the MI layer -----------------------------------------------------------------------------------

    def run(self, program: str, transaction: str, record: Record, *, cono: str | None = None) -> list[Record]:
        """Validate like the MI layer does, then run the transaction under the state lock."""
        handler = self.handlers.get(f"{program}/{transaction}")
        if handler is None:
            raise Nok(f"Transaction {transaction} does not exist in program {program}",
                      error_type="TransactionNotFound")
        if cono and cono.strip() != catalogue.INFOR_COMPANY:
            raise Nok(f"Not authorized for company {cono}", code="XAU0008", field="CONO")
        if record.get("CONO") and record["CONO"].strip() != catalogue.INFOR_COMPANY:
            raise Nok(f"Not authorized for company {record['CONO']}", code="XAU0008", field="CONO")
        meta = transaction_meta(program, transaction)
        if meta is not None:
            for name in meta.required:
                if not record.get(name, "").strip():
                    raise Nok(f"Input field {name} is mandatory", field=name,
                              error_type="MandatoryInputFieldNotFound")
            for name, value in record.items():
                limit = meta.inputs.get(name)
                if limit is not None and len(value) > limit:
                    raise Nok(f"Input field {name} is too long, max length is {limit}", field=name,
                              error_type="InputFieldTooLong")
        clean = {k: v.rstrip() for k, v in record.items()}
        with self.lock:
            self.tick()
            records = handler(clean)
        if meta is not None:
            _check_outputs(meta.outputs, f"{program}/{transaction}", records)
        return records

    def outputs(self, program: str, transaction: str, values: Record) -> Record:
        """A full output record: every output field of the transaction ('' when unknown), then ``values``."""
        meta = transaction_meta(program, transaction)
        base: Record = dict.fromkeys(meta.outputs, "") if meta is not None else {}
        base.update({k: v for k, v in values.items() if meta is None or k in meta.outputs})
        return base

    def _handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {}
        for name in dir(self):
            if name.startswith("tx_"):
                _, program, transaction = name.split("_", 2)
                table[f"{program}/{transaction}"] = getattr(self, name)
        return table

    # -- look-ups -------------------------------------------------------------------------------------------

    def _customer(self, cuno: str, field_name: str = "CUNO") -> dict[str, Any]:
        customer = self.customers.get(cuno)
        if customer is None:
            raise Nok(f"Customer number {cuno} does not exist", code="WCU0203", field=field_name)
        return customer

    def _item(self, itno: str) -> Record:
        item = self.items.get(itno)
        if item is None:
            raise Nok(f"Item number {itno} does not exist", code="WIT0203", field="ITNO")
        return item

    def _warehouse(self, whlo: str) -> str:
        if whlo not in self.warehouses:
            raise Nok(f"Warehouse {whlo} does not exist", code="WWH0203", field="WHLO")
        return whlo

    def _balance(self, whlo: str, itno: str) -> Balance:
        balance = self.balances.get((whlo, itno))
        if balance is None:
            raise Nok(f"Item {itno} does not exist in warehouse {whlo}", code="WIT0303", field="ITNO")
        return balance

    def _order(self, orno: str) -> Order:
        order = self.orders.get(orno)
        if order is None:
            raise Nok(f"Order number {orno} does not exist", code="WOR0203", field="ORNO")
        return order

    def _batch(self, orno: str, *, open_only: bool = True) -> BatchOrder:
        batch = self.batch_orders.get(orno)
        if batch is None:
            raise Nok(f"Batch order {orno} does not exist", code="WOR0203", field="ORNO")
        if open_only and batch.status == "90":
            raise Nok(f"Batch order {orno} is already confirmed, customer order {batch.final_orno}",
                      code="WOR0503", field="ORNO")
        return batch

    # -- GENERAL ----------------------------------------------------------------------------------------

    def tx_GENERAL_GetServerTime(self, rec: Record) -> list[Record]:
        moment = _now()
        return [{"DATE": _ymd(moment), "TIME": moment.strftime("%H%M%S"), "LMTS": str(self.lmts())}]

    def tx_GENERAL_GetUserInfo(self, rec: Record) -> list[Record]:
        return [self.outputs("GENERAL", "GetUserInfo", {
            "ZZUSID": "PSINFOR", "ZDCONO": catalogue.INFOR_COMPANY, "ZDDIVI": catalogue.INFOR_DIVISION,
            "ZDFACI": catalogue.INFOR_FACILITY, "ZZWHLO": catalogue.INFOR_WAREHOUSE, "ZDLANC": "GB",
            "ZDDTFM": "YMD", "DSEP": "-", "TSEP": ":", "TIZO": "UTC", "USFN": "psinfor service account"})]

    # -- CRS610MI customers -------------------------------------------------------------------------------

    def _customer_record(self, customer: dict[str, Any], transaction: str) -> Record:
        return self.outputs("CRS610MI", transaction, {**customer["fields"], "CONO": catalogue.INFOR_COMPANY,
                                                      "DIVI": catalogue.INFOR_DIVISION})

    def tx_CRS610MI_Add(self, rec: Record) -> list[Record]:
        template = self.templates.get(rec["CUTM"])
        if template is None:
            raise Nok(f"Customer template {rec['CUTM']} does not exist", code="WCU1203", field="CUTM")
        cuno = rec.get("CUNO", "")
        if cuno and cuno in self.customers:
            raise Nok(f"Customer number {cuno} already exists", code="WCU0101", field="CUNO")
        if not cuno:
            while True:
                cuno = f"C{self._next('cuno'):09d}"
                if cuno not in self.customers:
                    break
        if rec.get("CSCD") and rec["CSCD"] not in COUNTRIES:
            raise Nok(f"Country {rec['CSCD']} does not exist", code="WCS0203", field="CSCD")
        stamp = self.lmts()
        today = _ymd(_now())
        fields = {**template, **{k: v for k, v in rec.items() if k not in ("CUTM", "CONO", "DIVI")},
                  "CUNO": cuno, "RGDT": today, "LMDT": today, "CHNO": "1", "MCOS": "0"}
        self.customers[cuno] = {"fields": fields, "addresses": {}, "lmts": stamp, "template": rec["CUTM"]}
        return [{"CUNO": cuno, "ERRM": ""}]

    def tx_CRS610MI_ChgBasicData(self, rec: Record) -> list[Record]:
        customer = self._customer(rec["CUNO"])
        if rec.get("STAT") and rec["STAT"] not in ("10", "20", "90"):
            raise Nok(f"Status {rec['STAT']} is invalid", code="WST0101", field="STAT")
        customer["fields"].update({k: v for k, v in rec.items() if v and k not in ("CUNO", "CONO", "DIVI")})
        customer["fields"]["LMDT"] = _ymd(_now())
        customer["fields"]["CHNO"] = str(int(customer["fields"].get("CHNO") or 0) + 1)
        customer["lmts"] = self.lmts()
        return []

    tx_CRS610MI_ChgFinancial = tx_CRS610MI_ChgBasicData
    tx_CRS610MI_ChgOrderInfo = tx_CRS610MI_ChgBasicData

    def tx_CRS610MI_GetBasicData(self, rec: Record) -> list[Record]:
        return [self._customer_record(self._customer(rec["CUNO"]), "GetBasicData")]

    def tx_CRS610MI_GetOrderInfo(self, rec: Record) -> list[Record]:
        return [self._customer_record(self._customer(rec["CUNO"]), "GetOrderInfo")]

    def tx_CRS610MI_LstByNumber(self, rec: Record) -> list[Record]:
        since = int(rec.get("LMTS") or 0)
        start = rec.get("CUNO", "")
        return [self._customer_record(c, "LstByNumber") for cuno, c in sorted(self.customers.items())
                if cuno >= start and c["lmts"] > since]

    def tx_CRS610MI_LstTemplates(self, rec: Record) -> list[Record]:
        return [{"CUNO": name, "CUNM": f"Template {name}", "CUTM": name} for name in sorted(self.templates)]

    def tx_CRS610MI_AddAddress(self, rec: Record) -> list[Record]:
        customer = self._customer(rec["CUNO"])
        key = (rec["ADRT"], rec["ADID"])
        if key in customer["addresses"]:
            raise Nok(f"Address {rec['ADID']} already exists", code="WAD0101", field="ADID")
        if rec["CSCD"] not in COUNTRIES:
            raise Nok(f"Country {rec['CSCD']} does not exist", code="WCS0203", field="CSCD")
        customer["addresses"][key] = {k: v for k, v in rec.items() if k not in ("CONO", "DIVI")}
        customer["lmts"] = self.lmts()
        return [{"CONO": catalogue.INFOR_COMPANY, "CUNO": rec["CUNO"], "ADRT": rec["ADRT"], "ADID": rec["ADID"]}]

    def tx_CRS610MI_ChgAddress(self, rec: Record) -> list[Record]:
        customer = self._customer(rec["CUNO"])
        key = (rec.get("ADRT", ""), rec.get("ADID", ""))
        if key not in customer["addresses"]:
            raise Nok(f"Address {key[1]} does not exist", code="WAD0203", field="ADID")
        customer["addresses"][key].update({k: v for k, v in rec.items() if v})
        customer["lmts"] = self.lmts()
        return []

    def _address_record(self, cuno: str, address: Record, transaction: str) -> Record:
        return self.outputs("CRS610MI", transaction, {**address, "CUNO": cuno, "CONO": catalogue.INFOR_COMPANY,
                                                      "DIVI": catalogue.INFOR_DIVISION})

    def tx_CRS610MI_GetAddress(self, rec: Record) -> list[Record]:
        customer = self._customer(rec["CUNO"])
        address = customer["addresses"].get((rec.get("ADRT", ""), rec.get("ADID", "")))
        if address is None:
            raise Nok(f"Address {rec.get('ADID', '')} does not exist", code="WAD0203", field="ADID")
        return [self._address_record(rec["CUNO"], address, "GetAddress")]

    def tx_CRS610MI_LstAddresses(self, rec: Record) -> list[Record]:
        customer = self._customer(rec["CUNO"])
        adrt = rec.get("ADRT", "")
        return [self._address_record(rec["CUNO"], a, "LstAddresses")
                for key, a in sorted(customer["addresses"].items()) if not adrt or key[0] == adrt]

    # -- MMS200MI items and balances ---------------------------------------------------------------------

    def _item_record(self, itno: str, transaction: str) -> Record:
        return self.outputs("MMS200MI", transaction, {**self._item(itno), "CONO": catalogue.INFOR_COMPANY,
                                                      "SAPR": _num(self.prices.get(itno, Decimal(0)))})

    def tx_MMS200MI_Get(self, rec: Record) -> list[Record]:
        return [self._item_record(rec["ITNO"], "Get")]

    def tx_MMS200MI_GetItmBasic(self, rec: Record) -> list[Record]:
        return [self._item_record(rec["ITNO"], "GetItmBasic")]

    def tx_MMS200MI_LstItmByItm(self, rec: Record) -> list[Record]:
        start = rec.get("ITNO", "")
        return [self._item_record(itno, "LstItmByItm") for itno in sorted(self.items) if itno >= start]

    def tx_MMS200MI_LstItmFacTime(self, rec: Record) -> list[Record]:
        faci = rec.get("FACI", "")
        if faci and faci != catalogue.INFOR_FACILITY:
            raise Nok(f"Facility {faci} does not exist", code="WFA0203", field="FACI")
        since = int(rec.get("LMTS") or 0)
        return [{"CONO": catalogue.INFOR_COMPANY, "FACI": catalogue.INFOR_FACILITY, "ITNO": itno}
                for itno in sorted(self.items) if self.item_lmts[itno] > since]

    def tx_MMS200MI_GetItmPrice(self, rec: Record) -> list[Record]:
        self._item(rec["ITNO"])
        return [self.outputs("MMS200MI", "GetItmPrice", {
            "ITNO": rec["ITNO"], "SAPR": _num(self.prices[rec["ITNO"]]), "SPUN": "PCS", "CUCS": "EUR",
            "SACD": "1"})]

    def tx_MMS200MI_GetItmWhsBal(self, rec: Record) -> list[Record]:
        self._warehouse(rec["WHLO"])
        self._item(rec["ITNO"])
        return [self.outputs("MMS200MI", "GetItmWhsBal", self._balance(rec["WHLO"], rec["ITNO"]).record())]

    def tx_MMS200MI_GetItmWhsBasic(self, rec: Record) -> list[Record]:
        self._warehouse(rec["WHLO"])
        self._item(rec["ITNO"])
        balance = self._balance(rec["WHLO"], rec["ITNO"])
        return [self.outputs("MMS200MI", "GetItmWhsBasic", {**balance.record(), "STAT": "20"})]

    def tx_MMS200MI_LstItmWhsByItm(self, rec: Record) -> list[Record]:
        itno = rec.get("ITNO", "")
        return [self.outputs("MMS200MI", "LstItmWhsByItm", {**b.record(), "STAT": "20"})
                for (_, i), b in sorted(self.balances.items()) if not itno or i == itno]

    def tx_MMS200MI_LstItmWhsByWhs(self, rec: Record) -> list[Record]:
        whlo = rec.get("WHLO", "")
        return [self.outputs("MMS200MI", "LstItmWhsByWhs", {**b.record(), "STAT": "20"})
                for (w, _), b in sorted(self.balances.items()) if not whlo or w == whlo]

    def tx_OIS100MI_LstNewBalances(self, rec: Record) -> list[Record]:
        since = int(rec.get("LMTS") or 0)
        changed = sorted((b for b in self.balances.values() if b.lmts > since), key=lambda b: b.lmts)
        return [{"WHLO": b.whlo, "ITNO": b.itno, "AV01": b.record()["AV01"], "AV02": b.record()["AV02"],
                 "LTDT": "", "PFDT": ""} for b in changed]

    def tx_OIS100MI_LstWarehBalance(self, rec: Record) -> list[Record]:
        self._item(rec["ITNO"])
        return [self.outputs("OIS100MI", "LstWarehBalance", {**b.record(), "LMDT": _ymd(_now())})
                for (_, i), b in sorted(self.balances.items()) if i == rec["ITNO"]]

    def set_item(self, itno: str, changes: dict[str, str], price: Decimal | None = None) -> Record:
        """Control API: create or change an item (ITDS, FUDS, STAT...); bumps its LMTS like an M3 change."""
        with self.lock:
            today = _ymd(_now())
            item = self.items.get(itno)
            if item is None:
                item = self.items[itno] = {"ITNO": itno, "ITDS": itno[:30], "FUDS": "", "STAT": "20", "UNMS": "PCS",
                                           "ITTY": "FG", "ITGR": "WEB", "RGDT": today, "CHNO": "0"}
                self.prices.setdefault(itno, Decimal(0))
                whlo = catalogue.INFOR_WAREHOUSE
                self.balances.setdefault((whlo, itno), Balance(itno, whlo, Decimal(0), lmts=self.lmts()))
            item.update({k.upper(): str(v) for k, v in changes.items() if k.upper() != "ITNO"})
            item["LMDT"] = today
            item["CHNO"] = str(int(item.get("CHNO") or 0) + 1)
            if price is not None:
                self.prices[itno] = price
            self.item_lmts[itno] = self.lmts()
            return dict(item)

    def set_stock(self, itno: str, whlo: str, qty: Decimal) -> Balance:
        """Control API: on-hand quantity of an item in a warehouse (the warehouse is created if needed)."""
        with self.lock:
            self._item(itno)
            self.warehouses.add(whlo)
            balance = self.balances.get((whlo, itno))
            if balance is None:
                balance = self.balances[(whlo, itno)] = Balance(itno, whlo, Decimal(0))
            balance.stqt = qty
            balance.lmts = self.lmts()
            return balance

    # -- OIS100MI batch orders ----------------------------------------------------------------------------

    def tx_OIS100MI_AddBatchHead(self, rec: Record) -> list[Record]:
        if rec.get("ORNO"):
            raise Nok("Order number is assigned by M3 for batch orders", code="WOR0102", field="ORNO")
        customer = self._customer(rec["CUNO"])
        fields = customer["fields"]
        ortp = rec.get("ORTP") or fields.get("ORTP", "")
        if ortp not in self.order_types:
            raise Nok(f"Order type {ortp} does not exist", code="WOT0203", field="ORTP")
        whlo = rec.get("WHLO") or fields.get("WHLO") or catalogue.INFOR_WAREHOUSE
        self._warehouse(whlo)
        faci = rec.get("FACI") or catalogue.INFOR_FACILITY
        if faci != catalogue.INFOR_FACILITY:
            raise Nok(f"Facility {faci} does not exist", code="WFA0203", field="FACI")
        cucd = rec.get("CUCD") or fields.get("CUCD") or "EUR"
        if cucd not in CURRENCIES:
            raise Nok(f"Currency {cucd} does not exist", code="WCU0503", field="CUCD")
        for name in ("ORDT", "RLDT", "CUDT"):
            _check_date(rec.get(name, ""), name)
        if rec.get("ADID") and not any(key[1] == rec["ADID"] for key in customer["addresses"]):
            raise Nok(f"Address {rec['ADID']} does not exist", code="WAD0203", field="ADID")
        orno = str(self._next("temp"))
        now = _now()
        head = {**rec, "ORNO": orno, "ORTP": ortp, "WHLO": whlo, "FACI": faci, "CUCD": cucd,
                "ORDT": rec.get("ORDT") or _ymd(now), "RLDT": rec.get("RLDT") or _ymd(now),
                "TEPY": rec.get("TEPY") or fields.get("TEPY", ""), "MODL": rec.get("MODL") or fields.get("MODL", ""),
                "TEDL": rec.get("TEDL") or fields.get("TEDL", "")}
        self.batch_orders[orno] = BatchOrder(orno, head, now)
        return [{"ORNO": orno}]

    @staticmethod
    def _message(code: str, text: str, data: str = "", level: str = "3") -> Record:
        """One LstErrMsgOrder record (MSID 7, TX60 60, MDTA 132, LEVL 2 characters)."""
        return {"MSID": code[:7], "TX60": text[:60], "MDTA": data[:132], "LEVL": level}

    def _refuse(self, batch: BatchOrder, nok: Nok, data: str) -> Nok:
        """A transaction refused while the batch order is entered: logged on it (LstErrMsgOrder), status 20."""
        batch.errors.append(self._message(nok.code or "XMI0001", nok.message, data))
        batch.status = "20"
        batch.entry_refused = True
        return nok

    def _open_batch(self, orno: str) -> BatchOrder:
        """A batch order that may still be added to: not released to the batch job, not created."""
        batch = self._batch(orno)
        if batch.queued:
            raise Nok(f"Batch order {orno} is released and being processed", code="WOR0504", field="ORNO")
        return batch

    def tx_OIS100MI_AddBatchAddress(self, rec: Record) -> list[Record]:
        batch = self._open_batch(rec["ORNO"])
        if rec.get("CSCD") and rec["CSCD"] not in COUNTRIES:
            raise self._refuse(batch, Nok(f"Country {rec['CSCD']} does not exist", code="WCS0203",
                                          field="CSCD"), rec["CSCD"])
        if rec["ADRT"] not in ("1", "3"):
            raise self._refuse(batch, Nok(f"Address type {rec['ADRT']} is invalid", code="WAD0303",
                                          field="ADRT"), rec["ADRT"])
        batch.addresses = [a for a in batch.addresses if a["ADRT"] != rec["ADRT"]] + [dict(rec)]
        return []

    def tx_OIS100MI_AddBatchLine(self, rec: Record) -> list[Record]:
        batch = self._open_batch(rec["ORNO"])
        try:
            self._item(rec["ITNO"])
            whlo = rec.get("WHLO") or batch.head["WHLO"]
            self._warehouse(whlo)
            self._balance(whlo, rec["ITNO"])
            orqt = _dec(rec.get("ORQT") or "1", "ORQT")
            if orqt <= 0:
                raise Nok(f"Quantity {rec.get('ORQT')} must be greater than zero", code="WQT0101", field="ORQT")
            sapr = _dec(rec["SAPR"], "SAPR") if rec.get("SAPR") else self.prices.get(rec["ITNO"], Decimal(0))
            for name in ("DWDT", "CODT"):
                _check_date(rec.get(name, ""), name)
        except Nok as nok:
            raise self._refuse(batch, nok, rec.get("ITNO", "")) from None
        ponr = len(batch.lines) + 1
        batch.lines.append(Line(ponr, rec["ITNO"], orqt, sapr, whlo, dict(rec)))
        return [{"PONR": str(ponr), "POSX": "0", "ATNR": "0"}]

    def tx_OIS100MI_AddBatchHeadChg(self, rec: Record) -> list[Record]:
        batch = self._open_batch(rec["ORNO"])
        if rec.get("CRAM"):
            _dec(rec["CRAM"], "CRAM")
        batch.charges.append(dict(rec))
        return []

    def tx_OIS100MI_AddBatchText(self, rec: Record) -> list[Record]:
        self._open_batch(rec["ORNO"])
        return []

    def tx_OIS100MI_DelBatchHead(self, rec: Record) -> list[Record]:
        self._open_batch(rec["ORNO"])
        del self.batch_orders[rec["ORNO"]]
        return []

    def tx_OIS100MI_Confirm(self, rec: Record) -> list[Record]:
        """Release the batch order: processed at once, or by the batch job ``async_confirm_seconds`` later.

        The answer carries the ORNO (the customer order's once created, else the batch order's) and the batch
        status, which is 90 only when the customer order exists.
        """
        batch = self._open_batch(rec["ORNO"])
        if self.async_confirm_seconds > 0 and not batch.entry_refused:
            batch.due = time.monotonic() + self.async_confirm_seconds
            return [{"ORNO": batch.orno, "STAT": batch.status}]
        self._process(batch)
        return [{"ORNO": batch.final_orno or batch.orno, "STAT": batch.status}]

    def tick(self) -> None:
        """The batch job: process every released batch order whose time has come (caller holds the lock)."""
        now = time.monotonic()
        for batch in [b for b in self.batch_orders.values() if b.due is not None and b.due <= now]:
            self._process(batch)

    def _process(self, batch: BatchOrder) -> None:
        """What M3's batch job does with a released batch order: checks, then the customer order or a stop."""
        batch.due = None
        if batch.entry_refused:  # the refused line or address was never added: nothing to create from
            batch.status = "20"
            return
        batch.errors = []
        customer = self.customers.get(batch.head["CUNO"])
        if customer is None or customer["fields"].get("STAT") != "20":
            state = "does not exist" if customer is None else f"has status {customer['fields'].get('STAT')}"
            batch.errors.append(self._message("WCU0403", f"Customer {batch.head['CUNO']} {state}",
                                              batch.head["CUNO"]))
            batch.status = "15"
            return
        if not batch.lines:
            batch.errors.append(self._message("WOR0601", "The batch order has no lines", batch.orno))
            batch.status = "15"
            return
        for line in batch.lines:
            item = self.items.get(line.itno)
            if item is None or item.get("STAT") != "20":
                status = "does not exist" if item is None else f"has status {item.get('STAT')}"
                batch.errors.append(self._message("WIT0503", f"Item {line.itno} {status}, it cannot be sold",
                                                  f"{line.ponr};{line.itno}"))
        if batch.errors:
            batch.status = "25"
            return
        if self.stop_next:
            batch.status = self.stop_next.pop(0)
            batch.errors.append(self._message("WOR0905", f"Order stopped by the batch job (status {batch.status})",
                                              batch.orno))
            return
        if batch.head["CUNO"] in self.credit_stops:
            batch.errors.append(self._message("WCR0101", f"Customer {batch.head['CUNO']} is stopped by the "
                                                         "credit check", batch.head["CUNO"]))
            batch.status = "30"
            return
        orno = str(self._next("orno"))
        stamp = self.lmts()
        head = dict(batch.head)
        head["ORNO"] = orno
        order = Order(orno, batch.orno, head["CUNO"], head, list(batch.lines), batch.addresses, _now(), lmts=stamp)
        for line in order.lines:
            balance = self._balance(line.whlo, line.itno)
            balance.reqt += line.orqt
            balance.lmts = stamp
        self.orders[orno] = order
        batch.status, batch.final_orno = "90", orno

    def _batch_head_record(self, batch: BatchOrder, program: str) -> Record:
        ntam = sum((ln.amount for ln in batch.lines), Decimal(0))
        return self.outputs(program, "GetBatchHead", {**batch.head, "ORNO": batch.orno, "STAT": batch.status,
                                                      "NTAM": _num(ntam), "ORSL": "", "ORST": ""})

    def tx_OIS100MI_GetBatchHead(self, rec: Record) -> list[Record]:
        return [self._batch_head_record(self._batch(rec["ORNO"], open_only=False), "OIS100MI")]

    def tx_OIS100MI_LstBatchHead(self, rec: Record) -> list[Record]:
        """The customer's batch orders, whatever their status (ORNR = the customer order once created)."""
        self._customer(rec["CUNO"])
        low, high = rec.get("ORSL", ""), rec.get("ORST", "")
        found = [b for b in sorted(self.batch_orders.values(), key=lambda b: b.orno)
                 if b.head.get("CUNO") == rec["CUNO"] and (not low or b.status >= low)
                 and (not high or b.status <= high)]
        return [self.outputs("OIS100MI", "LstBatchHead", {
            **b.head, "ORNO": b.orno, "STAT": b.status, "ORNR": b.final_orno, "ORSL": "", "ORST": ""})
            for b in found]

    def tx_OIS100MI_LstErrMsgOrder(self, rec: Record) -> list[Record]:
        return [dict(e) for e in self._batch(rec["ORNO"], open_only=False).errors]

    def tx_OIS100MI_GetOrderNo(self, rec: Record) -> list[Record]:
        batch = self._batch(rec["ORNO"], open_only=False)
        return [{"ORNR": batch.final_orno}]

    def tx_OIS275MI_GetTmpOrderStat(self, rec: Record) -> list[Record]:
        batch = self._batch(rec["ORNO"], open_only=False)
        return [{"ORNO": batch.orno, "ORNR": batch.final_orno, "STAT": batch.status}]

    def tx_OIS275MI_GetBatchHead(self, rec: Record) -> list[Record]:
        return [self._batch_head_record(self._batch(rec["ORNO"], open_only=False), "OIS275MI")]

    def tx_OIS275MI_LstBatchLine(self, rec: Record) -> list[Record]:
        batch = self._batch(rec["ORNO"], open_only=False)
        return [self.outputs("OIS275MI", "LstBatchLine", {
            **ln.fields, "ITNO": ln.itno, "ORQT": _qty(ln.orqt), "SAPR": _num(ln.sapr), "WHLO": ln.whlo,
            "PONR": str(ln.ponr), "POSX": "0"}) for ln in batch.lines]

    # -- control API: the batch job and the credit check ------------------------------------------------

    def set_async_confirm(self, seconds: float) -> None:
        with self.lock:
            self.async_confirm_seconds = max(0.0, float(seconds))

    def run_batch_job(self) -> list[str]:
        """Process every released batch order now, however long it still had to wait; their ORNOs."""
        with self.lock:
            queued = [b for b in self.batch_orders.values() if b.queued]
            for batch in queued:
                self._process(batch)
            return [b.orno for b in queued]

    def release_batch_order(self, orno: str) -> BatchOrder:
        """OIS275's option 9 (Release): check the stopped or rejected batch order again, now."""
        with self.lock:
            self.tick()
            batch = self._open_batch(orno)
            self._process(batch)
            return batch

    def set_credit_stop(self, cuno: str, stop: bool, release_orders: bool = True) -> list[str]:
        """Stop or release a customer in the credit check. Releasing also releases the customer's batch orders
        the credit check stopped (status 30), as an operator does in OIS275; their ORNOs are returned."""
        with self.lock:
            self._customer(cuno)
            if stop:
                self.credit_stops.add(cuno)
                return []
            self.credit_stops.discard(cuno)
            released = []
            if release_orders:
                for batch in sorted(self.batch_orders.values(), key=lambda b: b.orno):
                    if batch.head.get("CUNO") == cuno and batch.status == "30" and not batch.queued:
                        self._process(batch)
                        released.append(batch.orno)
            return released

    def set_stop_next(self, status: str, count: int = 1) -> None:
        if status not in ("15", "25", "30", "55"):
            raise ValueError("stop_next status must be one of 15, 25, 30, 55")
        with self.lock:
            self.stop_next = [status] * max(0, int(count))

    # -- OIS100MI customer orders -------------------------------------------------------------------------

    def _head_record(self, order: Order, program: str, transaction: str) -> Record:
        ntam = order.ntam
        return self.outputs(program, transaction, {
            **order.head, "ORNO": order.orno, "CUNO": order.cuno, "ORSL": order.orsl, "ORST": order.orst,
            "STAT": order.orst, "NTAM": _num(ntam), "BRAM": _num(ntam), "ORVA": _num(ntam),
            "DIVI": catalogue.INFOR_DIVISION, "CHID": "PSINFOR"})  # the head's DLIX is an index (3), not a delivery

    def _line_record(self, order: Order, line: Line, transaction: str) -> Record:
        return self.outputs("OIS100MI", transaction, {
            **line.fields, "ORNO": order.orno, "PONR": str(line.ponr), "POSX": "0", "ITNO": line.itno,
            "ORQT": _qty(line.orqt), "ORQA": _qty(line.orqt), "SAPR": _num(line.sapr),
            "NEPR": _num(line.sapr), "NLAM": _num(line.amount), "LNAM": _num(line.amount), "WHLO": line.whlo,
            "ORST": line.status, "ALQT": _qty(line.alqt), "DLQT": _qty(line.dlqt), "IVQT": _qty(line.ivqt),
            "CUOR": order.head.get("CUOR", ""), "CUCD": order.head.get("CUCD", ""),
            "ITDS": self.items.get(line.itno, {}).get("ITDS", "")})

    def tx_OIS100MI_GetHead(self, rec: Record) -> list[Record]:
        return [self._head_record(self._order(rec["ORNO"]), "OIS100MI", "GetHead")]

    def tx_OIS100MI_LstHead(self, rec: Record) -> list[Record]:
        self._customer(rec["CUNO"])
        low, high = rec.get("ORSL", ""), rec.get("ORST", "")
        found = [o for o in sorted(self.orders.values(), key=lambda o: o.orno) if o.cuno == rec["CUNO"]
                 and (not low or o.orsl >= low) and (not high or o.orst <= high)]
        return [self._head_record(o, "OIS100MI", "LstHead") for o in found]

    def tx_OIS100MI_SearchHead(self, rec: Record) -> list[Record]:
        """A small subset of M3's search syntax: ``FIELD:value`` terms (CUOR, CUNO, ORNO), all must match."""
        terms = dict(t.split(":", 1) for t in rec["SQRY"].split() if ":" in t)
        found = [o for o in sorted(self.orders.values(), key=lambda o: o.orno)
                 if all({"CUOR": o.head.get("CUOR", ""), "CUNO": o.cuno, "ORNO": o.orno}.get(k.upper()) == v
                        for k, v in terms.items())]
        return [self._head_record(o, "OIS100MI", "SearchHead") for o in found]

    def tx_OIS100MI_GetLine(self, rec: Record) -> list[Record]:
        order = self._order(rec["ORNO"])
        for line in order.lines:
            if str(line.ponr) == rec["PONR"].lstrip("0"):
                return [self._line_record(order, line, "GetLine")]
        raise Nok(f"Line {rec['PONR']} does not exist", code="WLI0203", field="PONR")

    def tx_OIS100MI_LstLine(self, rec: Record) -> list[Record]:
        order = self._order(rec["ORNO"])
        itno, orst = rec.get("ITNO"), rec.get("ORST")
        return [self._line_record(order, ln, "LstLine") for ln in order.lines
                if (not itno or ln.itno == itno) and (not orst or ln.status == orst)]

    def tx_OIS100MI_LstDelLineByCO(self, rec: Record) -> list[Record]:
        order = self._order(rec["ORNO"])
        out = []
        for delivery in order.deliveries:
            for ponr, itno, qty in delivery.lines:
                if str(ponr) == rec["PONR"].lstrip("0"):
                    out.append({"DLIX": delivery.dlix, "RORC": "3", "RIDN": order.orno, "RIDL": str(ponr),
                                "RIDX": "0", "ITNO": itno, "DPOL": "", "MODL": order.head.get("MODL", ""),
                                "TRQT": _qty(qty), "PLQT": _qty(qty), "JDCD": "", "PGRS": delivery.pgrs})
        return out

    # -- OIS100MI cancelling a customer order ------------------------------------------------------------

    def _open_line(self, rec: Record, transaction: str) -> tuple[Order, Line]:
        """The line of ``ORNO``/``PONR`` that may still be deleted or closed: no picking list yet (status < 44).

        Sandbox rule (unconfirmed on a real tenant, where it depends on the order type): once the picking list
        is printed (44) the line belongs to the warehouse and M3 refuses to delete or close it.
        """
        if not rec.get("ORNO"):
            raise Nok("Order number must be entered", code="WOR0102", field="ORNO")
        if not rec.get("PONR"):
            raise Nok("Line number must be entered", code="WLI0102", field="PONR")
        order = self._order(rec["ORNO"])
        line = next((ln for ln in order.lines if str(ln.ponr) == rec["PONR"].lstrip("0")), None)
        if line is None:
            raise Nok(f"Line {rec['PONR']} does not exist", code="WLI0203", field="PONR")
        if line.status >= "44":
            raise Nok(f"Line {line.ponr} has status {line.status}, it cannot be changed by {transaction}",
                      code="WLI0603", field="PONR")
        return order, line

    def _unreserve(self, line: Line) -> None:
        balance = self._balance(line.whlo, line.itno)
        balance.reqt -= line.orqt
        balance.alqt -= line.alqt
        balance.lmts = self.lmts()
        line.alqt = Decimal(0)

    def tx_OIS100MI_DelLine(self, rec: Record) -> list[Record]:
        order, line = self._open_line(rec, "DelLine")
        self._unreserve(line)
        order.lines.remove(line)
        order.deleted_lines.append(line)
        order.lmts = self.lmts()
        return []

    def tx_OIS100MI_CloLine(self, rec: Record) -> list[Record]:
        order, line = self._open_line(rec, "CloLine")
        if line.status >= "90":
            raise Nok(f"Line {line.ponr} is already closed", code="WLI0703", field="PONR")
        self._unreserve(line)
        line.status = "99"  # completed without delivery
        order.lmts = self.lmts()
        return []

    def tx_OIS100MI_DelHead(self, rec: Record) -> list[Record]:
        """Delete the order head; the sandbox refuses while open lines remain (delete or close them first)."""
        order = self._order(rec["ORNO"])
        open_lines = [ln for ln in order.lines if ln.status < "90"]
        if open_lines:
            raise Nok(f"Order {order.orno} has {len(open_lines)} open line(s), delete them first", code="WOR0703",
                      field="ORNO")
        del self.orders[order.orno]
        self.deleted_orders[order.orno] = order
        return []

    # -- MWS410MI / MWS411MI deliveries ----------------------------------------------------------------

    def _delivery(self, dlix: str) -> Delivery:
        delivery = self.deliveries.get(dlix)
        if delivery is None:
            raise Nok(f"Delivery number {dlix} does not exist", code="WDL0203", field="DLIX")
        return delivery

    def tx_MWS410MI_GetHead(self, rec: Record) -> list[Record]:
        if not rec.get("DLIX"):
            raise Nok("Delivery number must be entered", code="WDL0102", field="DLIX")
        delivery = self._delivery(rec["DLIX"])
        order = self.orders[delivery.orno]
        return [self.outputs("MWS410MI", "GetHead", {
            "CONO": catalogue.INFOR_COMPANY, "DLIX": delivery.dlix, "ETRN": delivery.etrn, "FWNO": delivery.fwno,
            "CONN": "", "PGRS": delivery.pgrs, "IVNO": delivery.ivno, "IVDT": delivery.ivdt, "RORC": "3",
            "RIDN": order.orno, "CUOR": order.head.get("CUOR", ""), "WHLO": order.head.get("WHLO", ""),
            "MODL": order.head.get("MODL", ""), "TEDL": order.head.get("TEDL", ""),
            "DSDT": _ymd(delivery.created), "DSHM": delivery.created.strftime("%H%M"),
            "NRUL": "1", "CSCD": next((a.get("CSCD", "") for a in order.addresses), "")})]

    def tx_MWS410MI_LstPackages(self, rec: Record) -> list[Record]:
        delivery = self._delivery(rec.get("DLIX", ""))
        return [self.outputs("MWS410MI", "LstPackages", {"DLIX": delivery.dlix, "PANR": "1",
                                                         "ETRN": delivery.etrn})]

    def tx_MWS411MI_LstDelLnByOrd(self, rec: Record) -> list[Record]:
        rorc, ridn = rec.get("RORC", ""), rec.get("RIDN", "")
        out = []
        for delivery in sorted(self.deliveries.values(), key=lambda d: d.dlix):
            if (rorc and rorc != "3") or (ridn and delivery.orno != ridn):
                continue
            for ponr, itno, qty in delivery.lines:
                if rec.get("RIDL") and rec["RIDL"].lstrip("0") != str(ponr):
                    continue
                out.append(self.outputs("MWS411MI", "LstDelLnByOrd", {
                    "DLIX": delivery.dlix, "RORC": "3", "RIDN": delivery.orno, "RIDL": str(ponr), "RIDX": "0",
                    "ITNO": itno, "FACI": catalogue.INFOR_FACILITY, "TRQT": _qty(qty), "PLQT": _qty(qty),
                    "ALUN": "PCS", "RGDT": _ymd(delivery.created), "LMDT": _ymd(delivery.created),
                    "LMTS": str(delivery.lmts)}))
        return out

    # -- OIS350MI invoices ------------------------------------------------------------------------------

    def _invoice_record(self, invoice: Invoice, transaction: str) -> Record:
        order = self.orders[invoice.orno]
        amount = _num(invoice.amount)
        return self.outputs("OIS350MI", transaction, {
            "CONO": catalogue.INFOR_COMPANY, "DIVI": catalogue.INFOR_DIVISION, "ORNO": invoice.orno,
            "IVNO": invoice.ivno, "IVDT": invoice.ivdt, "YEA4": invoice.yea4, "DLIX": invoice.dlix,
            "CUNO": order.cuno, "PYNO": order.cuno, "CUCD": invoice.cucd, "AMT1": amount, "AMT2": amount,
            "IVAV": amount, "RAFC": amount, "ORST": order.orst, "WHLO": order.head.get("WHLO", ""),
            "EXIN": f"{invoice.yea4}{invoice.ivno}", "INPX": "WEB", "INST": "1", "IDAT": invoice.ivdt,
            "TEPY": order.head.get("TEPY", "")})

    def tx_OIS350MI_LstInvHeadByCo(self, rec: Record) -> list[Record]:
        order = self._order(rec["ORNO"])
        return [self._invoice_record(i, "LstInvHeadByCo") for i in order.invoices]

    def tx_OIS350MI_LstAllInvByCO(self, rec: Record) -> list[Record]:
        order = self._order(rec["ORNO"])
        return [self._invoice_record(i, "LstAllInvByCO") for i in order.invoices]

    def tx_OIS350MI_GetInvHead(self, rec: Record) -> list[Record]:
        invoice = self.invoices.get(rec["IVNO"])
        if invoice is None or invoice.yea4 != rec["YEA4"]:
            raise Nok(f"Invoice {rec['IVNO']} does not exist", code="WIV0203", field="IVNO")
        return [self._invoice_record(invoice, "GetInvHead")]

    # -- EXPORTMI ---------------------------------------------------------------------------------------

    def tx_EXPORTMI_Select(self, rec: Record) -> list[Record]:
        """``COLS from TABLE [where F = value [and ...]]`` over OOHEAD, OCUSMA and MITMAS."""
        columns, table, conditions = _parse_query(rec["QERY"])
        separator = rec.get("SEPC") or ";"
        known = TABLE_COLUMNS.get(table)
        if known is None:
            raise Nok(f"Table {table} is not available", code="XTB0203", field="QERY")
        for name in [c for c, _ in conditions] + columns:
            if name not in known:
                raise Nok(f"Field {name} does not exist in table {table}", code="XFL0203", field="QERY")
        matched = [r for r in self._table(table) if all(r[name] == value for name, value in conditions)]
        out = [{"REPL": separator.join(columns)}] if rec.get("HDRS") == "1" else []
        out += [{"REPL": separator.join(r[c] for c in columns)} for r in matched]
        return out

    def _table(self, table: str) -> list[Record]:
        cono = catalogue.INFOR_COMPANY
        if table == "OOHEAD":
            return [{"OACONO": cono, "OAORNO": o.orno, "OACUNO": o.cuno, "OACUOR": o.head.get("CUOR", ""),
                     "OAORSL": o.orsl, "OAORST": o.orst, "OAORTP": o.head.get("ORTP", ""),
                     "OAORDT": o.head.get("ORDT", ""), "OAWHLO": o.head.get("WHLO", ""),
                     "OACUCD": o.head.get("CUCD", ""), "OANTAM": _num(o.ntam)}
                    for o in sorted(self.orders.values(), key=lambda o: o.orno)]
        if table == "OCUSMA":
            return [{"OKCONO": cono, "OKCUNO": cuno, "OKCUNM": c["fields"].get("CUNM", ""),
                     "OKSTAT": c["fields"].get("STAT", ""), "OKCUCD": c["fields"].get("CUCD", ""),
                     "OKMAIL": c["fields"].get("MAIL", "")}
                    for cuno, c in sorted(self.customers.items())]
        return [{"MMCONO": cono, "MMITNO": i["ITNO"], "MMITDS": i["ITDS"], "MMSTAT": i["STAT"]}
                for _, i in sorted(self.items.items())]

    # -- control API -------------------------------------------------------------------------------------

    def advance(self, orno: str, to: str, tracking_number: str | None = None,
                carrier: str | None = None, lines: list[int] | None = None) -> Order:
        """Move the order's lines (all, or the PONRs in ``lines``) to ``to`` (allocate/pick/deliver/invoice),
        through the steps before. Moving only some lines gives the mixed statuses of a partial delivery
        (ORSL 44, ORST 66 = "46")."""
        if to not in STAGES:
            raise ValueError(f"'to' must be one of {', '.join(STAGES)}")
        with self.lock:
            order = self._order(orno)
            target = _STAGE_STATUS[to]
            chosen = [ln for ln in order.lines if (lines is None or ln.ponr in set(lines)) and ln.status < "90"]
            if not chosen:
                raise ValueError(f"order {orno} has none of the lines {lines}")
            if min(ln.status for ln in chosen) >= target:
                raise LookupError(f"order {orno} is already at status {order.orsl}/{order.orst}")
            stamp = self.lmts()
            for stage in STAGES[: STAGES.index(to) + 1]:
                status = _STAGE_STATUS[stage]
                lines_now = [ln for ln in chosen if ln.status < status]
                if not lines_now:
                    continue
                if stage == "allocate":
                    for ln in lines_now:
                        balance = self._balance(ln.whlo, ln.itno)
                        balance.alqt += ln.orqt
                        balance.lmts = stamp
                        ln.alqt = ln.orqt
                elif stage == "deliver":
                    self._deliver(order, lines_now, tracking_number, carrier, stamp)
                elif stage == "invoice":
                    self._invoice(order, lines_now)
                for ln in lines_now:
                    ln.status = status
            order.lmts = stamp
            return order

    def _deliver(self, order: Order, lines: list[Line], tracking: str | None, carrier: str | None,
                 stamp: int) -> None:
        dlix = str(self._next("dlix"))
        etrn = tracking or f"1Z{order.orno[-6:]}{dlix[-6:]}"
        delivery = Delivery(dlix, order.orno, etrn[:30], (carrier or "UPS")[:10],
                            [(ln.ponr, ln.itno, ln.orqt) for ln in lines], _now(), lmts=stamp)
        for ln in lines:
            balance = self._balance(ln.whlo, ln.itno)
            balance.stqt -= ln.orqt
            balance.alqt -= ln.orqt
            balance.reqt -= ln.orqt
            balance.lmts = stamp
            ln.dlqt = ln.orqt
        self.deliveries[dlix] = delivery
        order.deliveries.append(delivery)

    def _invoice(self, order: Order, lines: list[Line]) -> None:
        now = _now()
        for delivery in order.deliveries:
            if delivery.ivno:
                continue
            ivno = str(self._next("ivno"))
            ponrs = {p for p, _, _ in delivery.lines}
            amount = sum((ln.amount for ln in lines if ln.ponr in ponrs), Decimal(0))
            invoice = Invoice(ivno, str(now.year), _ymd(now), order.orno, delivery.dlix, amount,
                              order.head.get("CUCD", "EUR"))
            delivery.ivno, delivery.ivdt, delivery.pgrs = ivno, _ymd(now), "70"
            self.invoices[ivno] = invoice
            order.invoices.append(invoice)
        for ln in lines:
            ln.ivqt = ln.orqt

    def order_view(self, order: Order) -> dict[str, Any]:
        return {
            "ORNO": order.orno, "temporary_orno": order.temp_orno, "CUOR": order.head.get("CUOR", ""),
            "CUNO": order.cuno, "status": order.orst, "ORSL": order.orsl, "ORST": order.orst,
            "ORTP": order.head.get("ORTP", ""), "CUCD": order.head.get("CUCD", ""), "NTAM": _num(order.ntam),
            "lines": [{"PONR": ln.ponr, "ITNO": ln.itno, "ORQT": _qty(ln.orqt), "SAPR": _num(ln.sapr),
                       "WHLO": ln.whlo, "ORST": ln.status} for ln in order.lines],
            "addresses": order.addresses,
            "deliveries": [{"DLIX": d.dlix, "ETRN": d.etrn, "FWNO": d.fwno, "PGRS": d.pgrs, "IVNO": d.ivno}
                           for d in order.deliveries],
            "invoices": [{"IVNO": i.ivno, "YEA4": i.yea4, "IVDT": i.ivdt, "amount": _num(i.amount),
                          "CUCD": i.cucd} for i in order.invoices],
            "deleted_lines": [{"PONR": ln.ponr, "ITNO": ln.itno, "ORQT": _qty(ln.orqt)} for ln in order.deleted_lines],
        }

    def batch_view(self, batch: BatchOrder) -> dict[str, Any]:
        return {"ORNO": batch.orno, "CUOR": batch.head.get("CUOR", ""), "CUNO": batch.head.get("CUNO", ""),
                "STAT": batch.status, "final_orno": batch.final_orno, "errors": batch.errors,
                "queued": batch.queued,
                "lines": [{"PONR": ln.ponr, "ITNO": ln.itno, "ORQT": _qty(ln.orqt)} for ln in batch.lines]}

    def snapshot_orders(self) -> dict[str, Any]:
        with self.lock:
            self.tick()
            return {"orders": [self.order_view(o) for o in sorted(self.orders.values(), key=lambda o: o.orno)],
                    "batch_orders": [self.batch_view(b) for b in sorted(self.batch_orders.values(),
                                                                        key=lambda b: b.orno)],
                    "deleted_orders": [self.order_view(o) for o in sorted(self.deleted_orders.values(),
                                                                          key=lambda o: o.orno)],
                    "async_confirm_seconds": self.async_confirm_seconds,
                    "credit_stops": sorted(self.credit_stops)}

    def snapshot_customers(self) -> dict[str, Any]:
        with self.lock:
            return {"customers": [{**c["fields"], "addresses": list(c["addresses"].values())}
                                  for _, c in sorted(self.customers.items())]}


def _check_outputs(outputs: dict[str, int | None], name: str, records: list[Record]) -> None:
    """Every output field is one the swagger lists, and fits its length: M3 never answers otherwise."""
    for record in records:
        for key, value in record.items():
            if key not in outputs:
                raise RuntimeError(f"sandbox bug: {name} has no output field {key}")
            limit = outputs[key]
            if limit is not None and len(value) > limit:
                raise RuntimeError(f"sandbox bug: {name} output {key}={value!r} is longer than {limit}")


TABLE_COLUMNS = {
    "OOHEAD": frozenset({"OACONO", "OAORNO", "OACUNO", "OACUOR", "OAORSL", "OAORST", "OAORTP", "OAORDT",
                         "OAWHLO", "OACUCD", "OANTAM"}),
    "OCUSMA": frozenset({"OKCONO", "OKCUNO", "OKCUNM", "OKSTAT", "OKCUCD", "OKMAIL"}),
    "MITMAS": frozenset({"MMCONO", "MMITNO", "MMITDS", "MMSTAT"}),
}

_QUERY = re.compile(r"^\s*(?P<cols>.+?)\s+from\s+(?P<table>\w+)(?:\s+where\s+(?P<where>.+?))?\s*$",
                    re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"^\s*(\w+)\s*=\s*('(?:[^']|'')*'|[\w.-]+)\s*$")


def _parse_query(query: str) -> tuple[list[str], str, list[tuple[str, str]]]:
    match = _QUERY.match(query)
    if match is None:
        raise Nok("Query statement is invalid", code="XQR0101", field="QERY")
    columns = [c.strip().upper() for c in match["cols"].split(",") if c.strip()]
    conditions: list[tuple[str, str]] = []
    if match["where"]:
        for part in re.split(r"\s+and\s+", match["where"], flags=re.IGNORECASE):
            cond = _CONDITION.match(part)
            if cond is None:
                raise Nok("Query statement is invalid", code="XQR0101", field="QERY")
            value = cond[2]
            if value.startswith("'"):
                value = value[1:-1].replace("''", "'")
            conditions.append((cond[1].upper(), value))
    return columns, match["table"].upper(), conditions
