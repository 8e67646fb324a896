"""The Infor sandbox's HTTP face: the ION API gateway (OAuth token endpoint, M3 MI REST v2/v1) and a control API.

URL layout (``{root}`` = the server's URL, ``{ti}`` = the sandbox tenant):

- ``POST {root}/{ti}/as/token.oauth2`` and ``.../revoke_token.oauth2``: the authorization server (``pu`` in
  the ``.ionapi`` file), with the password, client-credentials and refresh-token grants; client
  authentication in the form body or as HTTP Basic, like the real one.
- ``GET {root}/{ti}/M3/m3api-rest/v2/execute/{program}/{transaction}?FIELD=..&cono=..`` (v2),
  ``POST {root}/{ti}/M3/m3api-rest/v2/execute`` (bulk), ``GET {root}/{ti}/M3/m3api-rest/execute/{p}/{t}[;matrix]``
  (v1). A missing, unknown or expired bearer token gets 401 with ``WWW-Authenticate``.
- ``{root}/_sandbox/...``: the control API (faults, stats, orders, stock, items, customers, reset, the batch
  job and the credit check: see docs/contracts.md), outside ION's URL space.

Faults act on gateway requests (not on the control API): ``down`` (503), ``fail_next`` (N requests answered
``error_status``), latency with jitter, ``rate_limit_rate`` (429 with Retry-After), ``timeout_rate`` (a 504
after ``timeout_ms``, the transaction not run), ``error_rate`` (``error_status``, default 500), ``drop_rate``
(the transaction *is* run, then the answer is lost as a 504: the case that makes blind write retries
duplicate orders), ``expire_tokens`` (every issued access token stops working at once) and ``token_ttl``
(lifetime in seconds of the tokens issued from then on).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request

from psinfor_devkit.sandbox.faults import FaultConfig, Faults
from psinfor_devkit.sandbox.infor.metadata import transaction_meta
from psinfor_devkit.sandbox.infor.state import CONTEXT_PARAMS, DEFAULT_MAXRECS, M3State, Nok

TENANT = "PSINFOR_SBX"


@dataclass(frozen=True)
class SandboxCredentials:
    """The one authorized app (backend service with a service account) the sandbox accepts."""

    ti: str
    ci: str
    cs: str
    saak: str
    sask: str

    @classmethod
    def generate(cls, tenant: str = TENANT) -> SandboxCredentials:
        return cls(tenant, f"{tenant}~{secrets.token_urlsafe(12)}", secrets.token_urlsafe(36),
                   f"{tenant}#{secrets.token_urlsafe(30)}", secrets.token_urlsafe(36))

    def __repr__(self) -> str:
        return f"SandboxCredentials(ti={self.ti!r}, ci={self.ci!r})"

    def ionapi(self, root: str) -> dict[str, str]:
        """An ``.ionapi`` document pointing at the sandbox, laid out like the files ION API hands out."""
        return {
            "ti": self.ti, "cn": f"psinfor_sandbox_{self.ti}", "dt": "12", "ci": self.ci, "cs": self.cs,
            "iu": root, "pu": f"{root}/{self.ti}/as/", "oa": "authorization.oauth2", "ot": "token.oauth2",
            "or": "revoke_token.oauth2", "ev": "SANDBOX", "v": "1.0", "saak": self.saak, "sask": self.sask,
        }


class TokenStore:
    """Issued access and refresh tokens with their expiry (epoch seconds)."""

    def __init__(self, ttl: float = 7200.0, refresh_ttl: float = 86400.0):
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, with_refresh: bool) -> dict[str, Any]:
        now = time.time()
        access = secrets.token_urlsafe(32)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": int(self.ttl)}
        with self._lock:
            self._access = {t: e for t, e in self._access.items() if e > now}
            self._access[access] = now + self.ttl
            if with_refresh:
                refresh = secrets.token_urlsafe(32)
                self._refresh[refresh] = now + self.refresh_ttl
                body["refresh_token"] = refresh
        return body

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._access.get(token)
        return expiry is not None and expiry > time.time()

    def use_refresh(self, token: str) -> bool:
        with self._lock:
            expiry = self._refresh.get(token)
            return expiry is not None and expiry > time.time()

    def revoke(self, token: str) -> None:
        with self._lock:
            self._refresh.pop(token, None)
            self._access.pop(token, None)

    def expire_all(self) -> None:
        with self._lock:
            self._access.clear()


@dataclass
class InforFaultConfig(FaultConfig):
    """ION's own: a gateway timeout answers 504 after ``timeout_ms`` (the target never saw the call)."""

    timeout_ms: float = 200.0
    # The next ``drop_after_count`` answers of one transaction ("OIS100MI/Confirm") are lost after M3 ran it:
    # the caller sees a gateway 504 and cannot know whether its write happened.
    drop_after: str = ""
    drop_after_count: int = 0


def infor_faults() -> Faults:
    return Faults(config_type=InforFaultConfig)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.token_requests = 0
            self.bulk_requests = 0
            self.unauthorized = 0
            self.faults: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.by_transaction: Counter[str] = Counter()

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": self.requests, "token_requests": self.token_requests,
                    "bulk_requests": self.bulk_requests, "unauthorized": self.unauthorized,
                    "faults": dict(self.faults), "by_route": dict(self.by_route),
                    "by_transaction": dict(self.by_transaction)}


class Gateway:
    """Everything the HTTP layer needs besides M3 itself."""

    def __init__(self, state: M3State, credentials: SandboxCredentials, token_ttl: float = 7200.0):
        self.state = state
        self.credentials = credentials
        self.tokens = TokenStore(token_ttl)
        self.faults = infor_faults()
        self.stats = Stats()


# -- response shapes ------------------------------------------------------------------------------------


def _shape(records: list[dict[str, str]], context: dict[str, str]) -> list[dict[str, str]]:
    """Apply maxrecs, returncols and excludeempty as M3 does."""
    try:
        maxrecs = int(context.get("maxrecs", DEFAULT_MAXRECS))
    except ValueError:
        raise Nok(f"maxrecs {context['maxrecs']} is not a number", field="maxrecs") from None
    if maxrecs > 0:
        records = records[:maxrecs]
    cols = [c.strip() for c in context.get("returncols", "").split(",") if c.strip()]
    if cols:
        records = [{c: r.get(c, "") for c in cols} for r in records]
    fmt = context.get("dateformat", "YMD8").upper()
    if fmt != "YMD8":
        records = [{k: _date_as(fmt, k, v) for k, v in r.items()} for r in records]
    if context.get("excludeempty", context.get("excludempty", "false")).lower() == "true":
        records = [{k: v for k, v in r.items() if v != ""} for r in records]
    return records


_DATE_FORMATS = {"YMD6": "%y%m%d", "MDY6": "%m%d%y", "DMY6": "%d%m%y", "YMD8-": "%Y-%m-%d"}


def _date_as(fmt: str, name: str, value: str) -> str:
    """Date outputs (``...DT`` fields holding yyyyMMdd) in the ``dateformat`` the caller asked for."""
    if not (name.endswith("DT") or name == "DATE") or len(value) != 8 or not value.isdigit():
        return value
    pattern = _DATE_FORMATS.get(fmt)
    if pattern is None:
        raise Nok(f"Date format {fmt} is not supported", field="dateformat")
    return f"{value[0:4]}-{value[4:6]}-{value[6:8]}" if fmt == "YMD8-" else time.strftime(
        pattern, time.strptime(value, "%Y%m%d"))


def _v2_result(transaction: str, records: list[dict[str, str]] | None = None, nok: Nok | None = None,
               parameters: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"transaction": transaction, "records": records or []}
    if nok is not None:  # the swagger types these as strings: absent rather than null when M3 has none
        result.update(errorMessage=nok.message, errorType=nok.error_type)
        if nok.code:
            result["errorCode"] = nok.code
        if nok.field:
            result["errorField"] = nok.field
    if parameters is not None:
        result["parameters"] = parameters
    return result


def _v2_body(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = sum(1 for r in results if "errorMessage" in r)
    return {"results": results, "wasTerminated": False, "nrOfSuccessfullTransactions": len(results) - failed,
            "nrOfFailedTransactions": failed, "nrOfNotProcessedTransactions": 0}


def _v1_body(program: str, transaction: str, records: list[dict[str, str]]) -> dict[str, Any]:
    meta = transaction_meta(program, transaction)
    names = list(records[0]) if records else []
    fields = [{"@name": n, "@type": "A", "@length": (meta.outputs.get(n) if meta else None) or len(records[0][n]),
               "@description": n} for n in names]
    return {"Program": program, "Transaction": transaction, "Metadata": {"Field": fields},
            "MIRecord": [{"RowIndex": i, "NameValue": [{"Name": k, "Value": v} for k, v in r.items()]}
                         for i, r in enumerate(records)]}


def _v1_error(nok: Nok) -> dict[str, Any]:
    # M3 pads the v1 message; clients strip it.
    return {"Message": f"{nok.message:<120}", "@type": nok.error_type, "@code": nok.code or None, "@cfg": None,
            "@field": nok.field or None}


def create_app(gateway: Gateway) -> Flask:
    app = Flask("psinfor-infor-sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state, creds, tokens, faults, stats = (gateway.state, gateway.credentials, gateway.tokens, gateway.faults,
                                           gateway.stats)
    ti = creds.ti

    def gateway_fault(*, token_endpoint: bool = False) -> tuple[Response | None, bool]:
        """Apply faults: (an error response or None, whether the answer must be dropped after running)."""
        decision = faults.decide()
        kind = decision.action
        delay = decision.delay_seconds
        if kind == "timeout":
            delay += getattr(faults.config, "timeout_ms", 200.0) / 1000
        if delay:
            time.sleep(delay)
        if not kind:
            return None, False
        with stats.lock:
            stats.faults[kind] += 1
        if kind == "down":
            return _json({"error": "Service Unavailable"}, 503), False
        if token_endpoint:  # the authorization server only suffers outages and latency
            return None, False
        if kind == "rate_limit":
            response = _json({"error": "Too Many Requests", "message": "Quota exceeded"}, 429)
            response.headers["Retry-After"] = "1"
            return response, False
        if kind == "timeout":
            return _json({"error": "Gateway Timeout", "message": "The target did not answer in time"}, 504), False
        if kind == "error":
            return _json({"error": "Injected failure", "status": decision.status}, decision.status), False
        return None, kind == "drop"

    def authorized() -> Response | None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token and tokens.valid(token):
            return None
        with stats.lock:
            stats.unauthorized += 1
        error = "invalid_token" if token else "invalid_request"
        response = _json({"error": error, "error_description": "The access token is missing, invalid or expired"},
                         401)
        response.headers["WWW-Authenticate"] = f'Bearer realm="ION API", error="{error}"'
        return response

    # -- authorization server ------------------------------------------------------------------------

    def client_authenticated() -> bool:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
                client_id, _, secret = decoded.partition(":")
                client_id, secret = unquote(client_id), unquote(secret)
            except (ValueError, UnicodeDecodeError):
                return False
        return secrets.compare_digest(client_id, creds.ci) and secrets.compare_digest(secret, creds.cs)

    @app.post(f"/{ti}/as/token.oauth2")
    def token() -> Response:
        with stats.lock:
            stats.requests += 1
            stats.token_requests += 1
            stats.by_route["token"] += 1
        fault, _ = gateway_fault(token_endpoint=True)
        if fault is not None:
            return fault
        if not client_authenticated():
            return _json({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        grant = request.form.get("grant_type", "")
        if grant == "password":
            user_ok = secrets.compare_digest(request.form.get("username", ""), creds.saak)
            password_ok = secrets.compare_digest(request.form.get("password", ""), creds.sask)
            if not (user_ok and password_ok):
                return _json({"error": "invalid_grant",
                              "error_description": "The service account credentials are invalid"}, 400)
            return _json(tokens.issue(with_refresh=True), 200)
        if grant == "client_credentials":
            return _json(tokens.issue(with_refresh=False), 200)
        if grant == "refresh_token":
            if not tokens.use_refresh(request.form.get("refresh_token", "")):
                return _json({"error": "invalid_grant", "error_description": "The refresh token is invalid"}, 400)
            return _json(tokens.issue(with_refresh=False), 200)
        return _json({"error": "unsupported_grant_type"}, 400)

    @app.route(f"/{ti}/as/revoke_token.oauth2", methods=["GET", "POST"])
    def revoke() -> Response:
        token_value = request.values.get("token", "")
        if token_value:
            tokens.revoke(token_value)
        return Response(status=200)

    # -- M3 MI REST ----------------------------------------------------------------------------------

    def run_one(program: str, transaction: str, record: dict[str, str], context: dict[str, str]) -> Any:
        with stats.lock:
            stats.by_transaction[f"{program}/{transaction}"] += 1
        return _shape(state.run(program, transaction, record, cono=context.get("cono")), context)

    def split_args(args: Any) -> tuple[dict[str, str], dict[str, str]]:
        record: dict[str, str] = {}
        context: dict[str, str] = {}
        for key, value in args.items():
            (context if key in CONTEXT_PARAMS else record)[key] = value
        return record, context

    def with_matrix(segment: str, context: dict[str, str]) -> tuple[str, dict[str, str]]:
        """``Transaction;maxrecs=100;cono=100``: the matrix-parameter style m3-h5-sdk uses."""
        name, *matrix = segment.split(";")
        merged = dict(context)
        for item in matrix:
            key, _, value = item.partition("=")
            if key:
                merged[key] = unquote(value)
        return name, merged

    def m3_guard() -> tuple[Response | None, bool]:
        with stats.lock:
            stats.requests += 1
            stats.by_route[str(request.url_rule.endpoint if request.url_rule else "unknown")] += 1
        fault, drop = gateway_fault()
        if fault is not None:
            return fault, False
        denied = authorized()
        if denied is not None:
            return denied, False
        return None, drop

    def dropped() -> Response:
        return _json({"error": "Gateway Timeout", "message": "The target did not answer in time"}, 504)

    @app.get(f"/{ti}/M3/m3api-rest/v2/execute/<program>/<transaction>")
    def execute_v2(program: str, transaction: str) -> Response:
        refused, drop = m3_guard()
        if refused is not None:
            return refused
        record, context = split_args(request.args)
        transaction, context = with_matrix(transaction, context)
        extended = context.get("extendedresult", "false").lower() == "true"
        try:
            records = run_one(program, transaction, record, context)
        except Nok as nok:
            result = _v2_result(transaction, nok=nok, parameters=record if extended else None)
            body = _v2_body([result])
            body.update({k: v for k, v in result.items() if k.startswith("error")}, transaction=transaction)
            return dropped() if drop else _json(body, 400)
        lost = getattr(faults.config, "drop_after", "") == f"{program}/{transaction}"
        if drop or (lost and faults.consume("drop_after_count")):
            return dropped()
        return _json(_v2_body([_v2_result(transaction, records, parameters=record if extended else None)]), 200)

    @app.post(f"/{ti}/M3/m3api-rest/v2/execute")
    def execute_bulk() -> Response:
        refused, drop = m3_guard()
        if refused is not None:
            return refused
        with stats.lock:
            stats.bulk_requests += 1
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or not payload.get("program") or not isinstance(
                payload.get("transactions"), list):
            return _json({"errorMessage": "The bulk request needs 'program' and 'transactions'",
                          "errorType": "BadRequest"}, 400)
        program = str(payload["program"])
        context = {"cono": str(payload["cono"])} if payload.get("cono") not in (None, "") else {}
        if payload.get("maxReturnedRecords") is not None:
            context["maxrecs"] = str(payload["maxReturnedRecords"])
        if payload.get("excludeEmptyValues"):
            context["excludeempty"] = "true"
        results = []
        for item in payload["transactions"]:
            if not isinstance(item, dict) or not isinstance(item.get("record", {}), dict):
                results.append(_v2_result("", nok=Nok("Each transaction needs 'transaction' and a 'record' object",
                                                      error_type="BadRequest")))
                continue
            transaction = str(item.get("transaction", ""))
            record = {str(k): str(v) for k, v in (item.get("record") or {}).items() if v is not None}
            own = {**context, **{k: str(v) for k, v in item.items() if k in ("maxrecs", "returncols")}}
            try:
                results.append(_v2_result(transaction, run_one(program, transaction, record, own)))
            except Nok as nok:
                results.append(_v2_result(transaction, nok=nok))
        return dropped() if drop else _json(_v2_body(results), 200)

    @app.get(f"/{ti}/M3/m3api-rest/execute/<path:rest>")
    def execute_v1(rest: str) -> Response:
        refused, drop = m3_guard()
        if refused is not None:
            return refused
        if rest.split(";")[0].count("/") != 1:
            return _json({"Message": "Expected /execute/PROGRAM/TRANSACTION", "@type": "BadRequest"}, 404)
        program, segment = rest.split("/", 1)
        record, context = split_args(request.args)
        transaction, context = with_matrix(segment, context)
        try:
            records = run_one(program, transaction, record, context)
        except Nok as nok:
            return dropped() if drop else _json(_v1_error(nok), 200)
        return dropped() if drop else _json(_v1_body(program, transaction, records), 200)

    # -- control API ---------------------------------------------------------------------------------

    @app.post("/_sandbox/faults")
    def set_faults() -> Response:
        data = request.get_json(silent=True) or {}
        extras = {"expire_tokens", "seed", "token_ttl"}
        try:
            faults.update({k: v for k, v in data.items() if k not in extras})
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        if data.get("seed") is not None:
            faults.seed(int(data["seed"]))
        if data.get("expire_tokens"):
            tokens.expire_all()
        if data.get("token_ttl") is not None:  # lifetime of tokens issued from now on
            tokens.ttl = float(data["token_ttl"])
        return _json(faults.snapshot(), 200)

    @app.get("/_sandbox/faults")
    def get_faults() -> Response:
        return _json(faults.snapshot(), 200)

    @app.delete("/_sandbox/faults")
    def clear_faults() -> Response:
        faults.clear()
        return _json(faults.snapshot(), 200)

    @app.get("/_sandbox/stats")
    def get_stats() -> Response:
        return _json(stats.view(), 200)

    @app.post("/_sandbox/stats/reset")
    def reset_stats() -> Response:
        stats.reset()
        return _json(stats.view(), 200)

    @app.get("/_sandbox/orders")
    def list_orders() -> Response:
        return _json(state.snapshot_orders(), 200)

    @app.get("/_sandbox/orders/<orno>")
    def one_order(orno: str) -> Response:
        with state.lock:
            order = state.orders.get(orno)
            if order is None:
                return _json({"error": f"order {orno} not found"}, 404)
            return _json(state.order_view(order), 200)

    @app.post("/_sandbox/orders/<orno>/advance")
    def advance(orno: str) -> Response:
        data = request.get_json(silent=True) or {}
        try:
            lines = [int(p) for p in data["lines"]] if data.get("lines") is not None else None
            order = state.advance(orno, str(data.get("to", "")), data.get("tracking_number"), data.get("carrier"),
                                  lines)
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        except Nok as nok:
            return _json({"error": nok.message}, 404)
        except LookupError as exc:
            return _json({"error": str(exc)}, 409)
        with state.lock:
            return _json(state.order_view(order), 200)

    @app.get("/_sandbox/config")
    def get_config() -> Response:
        return _json({"async_confirm_seconds": state.async_confirm_seconds}, 200)

    @app.post("/_sandbox/config")
    def set_config() -> Response:
        data = request.get_json(silent=True) or {}
        try:
            if "async_confirm_seconds" in data:
                state.set_async_confirm(float(data["async_confirm_seconds"]))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return get_config()

    @app.get("/_sandbox/batch_orders")
    def list_batch_orders() -> Response:
        return _json({"batch_orders": state.snapshot_orders()["batch_orders"]}, 200)

    @app.post("/_sandbox/batch_orders/process")
    def process_batch_orders() -> Response:
        return _json({"processed": state.run_batch_job()}, 200)

    @app.post("/_sandbox/batch_orders/stop_next")
    def stop_next() -> Response:
        data = request.get_json(silent=True) or {}
        try:
            state.set_stop_next(str(data.get("status", "55")), int(data.get("count", 1)))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"stop_next": list(state.stop_next)}, 200)

    @app.post("/_sandbox/batch_orders/<orno>/release")
    def release_batch_order(orno: str) -> Response:
        try:
            batch = state.release_batch_order(orno)
        except Nok as nok:
            return _json({"error": nok.message}, 409 if nok.code in ("WOR0503", "WOR0504") else 404)
        with state.lock:
            return _json(state.batch_view(batch), 200)

    @app.post("/_sandbox/customers/<cuno>/credit_stop")
    def credit_stop(cuno: str) -> Response:
        data = request.get_json(silent=True) or {}
        try:
            released = state.set_credit_stop(cuno, bool(data.get("stop", True)),
                                             bool(data.get("release_orders", True)))
        except Nok as nok:
            return _json({"error": nok.message}, 404)
        return _json({"CUNO": cuno, "stopped": cuno in state.credit_stops, "released": released}, 200)

    @app.post("/_sandbox/stock")
    def set_stock() -> Response:
        data = request.get_json(silent=True) or {}
        try:
            qty = Decimal(str(data["qty"]))
            balance = state.set_stock(str(data["itno"]), str(data.get("whlo") or "100"), qty)
        except (KeyError, InvalidOperation):
            return _json({"error": "give itno, whlo and qty"}, 400)
        except Nok as nok:
            return _json({"error": nok.message}, 404)
        with state.lock:
            return _json({**balance.record(), "LMTS": str(balance.lmts)}, 200)

    @app.get("/_sandbox/stock")
    def get_stock() -> Response:
        with state.lock:
            return _json({"balances": [{**b.record(), "LMTS": str(b.lmts)} for _, b in
                                       sorted(state.balances.items())]}, 200)

    @app.post("/_sandbox/items")
    def set_item() -> Response:
        data = dict(request.get_json(silent=True) or {})
        itno = str(data.pop("itno", "") or data.pop("ITNO", "")).strip()
        if not itno:
            return _json({"error": "give itno and the fields to change (ITDS, FUDS, STAT...)"}, 400)
        try:
            price = Decimal(str(data.pop("price"))) if data.get("price") is not None else None
        except InvalidOperation:
            return _json({"error": "price must be a decimal"}, 400)
        return _json(state.set_item(itno, data, price), 200)

    @app.post("/_sandbox/reset")
    def reset_all() -> Response:
        state.reset()
        faults.clear()
        stats.reset()
        return _json({"reset": True}, 200)

    @app.get("/_sandbox/customers")
    def list_customers() -> Response:
        return _json(state.snapshot_customers(), 200)

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return _json({"error": "Not Found", "path": request.path}, 404)

    return app


def _json(body: Any, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
