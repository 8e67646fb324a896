"""The Infor sandbox's "M3 users": control calls that do in M3 what people do in CRS610, and the cash desk.

- ``POST /_sandbox/customers`` ``{"CUNO"?, "CUNM", "MAIL"?, "VRNO"?, "CUA1"..., "addresses"?: [{"ADRT", "ADID",
  ...}]}``: a customer created by hand, under any number (the customers a shop customer may already be);
- ``POST /_sandbox/customers/<cuno>`` ``{"fields"?: {...}, "address"?: {"ADRT", "ADID", ...}}``: a change by an
  M3 user (a corrected address, a credit stop with ``STAT: "90"``); it moves the customer's LMTS like any change;
- ``POST /_sandbox/invoices/<ivno>/pay`` ``{"amount"?}``: a cash receipt against an invoice (all that is open when
  no amount is given); ``GET /_sandbox/invoices``: invoices with what remains open, and the AR ledger.

Each goes through the same MI transactions a client calls (CRS610MI Add/ChgBasicData/ChgFinancial/AddAddress/
ChgAddress), so M3's rules apply to them too.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, Response, jsonify, request

from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.infor.state import M3State, Nok

_FINANCIAL = ("VRNO", "CUCD", "TEPY", "CRLM")


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def register(app: Flask, state: M3State) -> None:
    """Add the routes above to the sandbox's Flask app."""

    @app.post("/_sandbox/customers")
    def create_customer() -> Response:
        data = dict(request.get_json(silent=True) or {})
        addresses = list(data.pop("addresses", []) or [])
        record = {k.upper(): str(v) for k, v in data.items() if v is not None}
        record.setdefault("CUTM", catalogue.INFOR_CUSTOMER_TEMPLATE)
        financial = {k: record.pop(k) for k in _FINANCIAL if k in record}
        try:
            [created] = state.run("CRS610MI", "Add", record)
            if financial:
                state.run("CRS610MI", "ChgFinancial", {"CUNO": created["CUNO"], **financial})
            for address in addresses:
                state.run("CRS610MI", "AddAddress", {"CUNO": created["CUNO"],
                                                     **{k.upper(): str(v) for k, v in address.items()}})
        except Nok as nok:
            return _json({"error": nok.message, "field": nok.field}, 400)
        return _json(_view(state, created["CUNO"]), 201)

    @app.post("/_sandbox/customers/<cuno>")
    def change_customer(cuno: str) -> Response:
        data = request.get_json(silent=True) or {}
        fields = {k.upper(): str(v) for k, v in (data.get("fields") or {}).items()}
        financial = {k: fields.pop(k) for k in _FINANCIAL if k in fields}
        try:
            if fields:
                state.run("CRS610MI", "ChgBasicData", {"CUNO": cuno, **fields})
            if financial:
                state.run("CRS610MI", "ChgFinancial", {"CUNO": cuno, **financial})
            if data.get("address"):
                address = {k.upper(): str(v) for k, v in data["address"].items()}
                state.run("CRS610MI", "ChgAddress", {"CUNO": cuno, **address})
        except Nok as nok:
            return _json({"error": nok.message, "field": nok.field}, 404 if nok.field == "CUNO" else 400)
        return _json(_view(state, cuno))

    @app.post("/_sandbox/invoices/<ivno>/pay")
    def pay(ivno: str) -> Response:
        data = request.get_json(silent=True) or {}
        try:
            amount = Decimal(str(data["amount"])) if data.get("amount") is not None else None
            with state.lock:
                return _json(state.pay(ivno, amount, str(data.get("method") or "WEB")))
        except InvalidOperation:
            return _json({"error": "amount must be a decimal"}, 400)
        except KeyError as exc:
            return _json({"error": str(exc).strip("'\"")}, 404)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    @app.get("/_sandbox/invoices")
    def invoices() -> Response:
        with state.lock:
            return _json({"invoices": [{"IVNO": i.ivno, "YEA4": i.yea4, "ORNO": i.orno, "IVDT": i.ivdt,
                                        "amount": format(i.amount, "f"), "CUCD": i.cucd,
                                        "remaining": format(state.remaining(i), "f")}
                                       for i in sorted(state.invoices.values(), key=lambda i: int(i.ivno))],
                          "ledger": state.ledger_view()})


def _view(state: M3State, cuno: str) -> dict[str, Any]:
    with state.lock:
        customer = state.customers[cuno]
        return {**customer["fields"], "LMTS": str(customer["lmts"]), "addresses": list(customer["addresses"].values())}
