"""The WSGI app: PrestaShop 8's webservice under ``/api/`` and the sandbox's control API under ``/_sandbox/``.

The order of checks follows ``webservice/dispatcher.php`` and ``WebserviceRequest::fetch``: key (Basic
username, then ``ws_key``), webservice enabled, key format / existence / activity, resource, method,
shop context, then the call itself. Errors carry PrestaShop's codes and HTTP statuses; a missing object is a
404 with an empty body.

Control API (no auth, JSON in and out):

- ``POST /_sandbox/faults`` ``{latency_ms, latency_jitter_ms, error_rate, error_status, rate_limit_rate,
  timeout_rate, timeout_seconds, drop_rate, fail_next, down, php_notice}`` (merged into the current
  settings), ``GET`` shows them with the counts injected, ``DELETE`` clears them;
- ``GET /_sandbox/stats`` ``{"requests", "by_route", "cpu_seconds", "orders", "orders_placed", "emails",
  "faults_injected", "webhooks"}``; ``POST /_sandbox/stats/reset``;
- ``POST /_sandbox/webhooks`` ``{"url", "secret"}``; ``GET`` delivery counts;
  ``POST /_sandbox/webhooks/drain`` ``{"timeout"}`` waits until every queued webhook is delivered;
- ``POST /_sandbox/orders`` (see ``place_orders``) → ``201 {"orders": [ids]}``;
- ``POST /_sandbox/orders/<id>/state`` ``{"state": 4 | "PS_OS_SHIPPING" | "shipping", "send_email"?}``;
- ``POST /_sandbox/customers`` ``{"firstname"?, "lastname"?, "email"?, "company"?, "address"?: {...}}`` →
  ``{"id_customer", "id_address"}``, or ``{"id", "fields": {...}}`` to update one;
- ``POST /_sandbox/stock`` ``{"product_id", "combination_id"?, "quantity"}``;
- ``POST /_sandbox/products/<id>`` ``{"fields": {"price": "21.000000"}}``;
- ``POST /_sandbox/config`` ``{"version": "1.7.8.11", "webservice_enabled": false}`` (1.7 refuses PATCH);
- ``POST /_sandbox/keys`` ``{"key", "active"?, "permissions"?: {"orders": ["GET"]}}``;
- ``GET /_sandbox/health``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lxml import etree

from psinfor_devkit.sandbox.faults import Decision, FaultConfig, Faults
from psinfor_devkit.sandbox.prestashop import render
from psinfor_devkit.sandbox.prestashop.notify import WebhookSender
from psinfor_devkit.sandbox.prestashop.query import (
    WsError,
    build_filters,
    matches,
    parse_display,
    parse_limit,
    parse_sort,
    sort_records,
)
from psinfor_devkit.sandbox.prestashop.schema import RESOURCES, Resource
from psinfor_devkit.sandbox.prestashop.state import LANGUAGES, SHOP_ID, KeyAccess, ShopState
from psinfor_devkit.sandbox.wsgi import Request, Response

PHP_NOTICE = (b"<br />\n<b>Notice</b>:  Undefined index: id_lang in <b>/var/www/html/classes/Product.php</b> "
              b"on line <b>1261</b><br />\n")
# What a shop with display_errors on prints before every answer: WebserviceRequest::fetch turns html_errors
# off, so PHP 8's warnings come as plain text (a module's warning, on every call).
PHP_WARNING_TEXT = (b"\nWarning: Undefined array key \"id_lang\" in /var/www/html/modules/ps_customfield/"
                    b"ps_customfield.php on line 214\n\nDeprecated: Creation of dynamic property "
                    b"Order::$legacy_ref is deprecated in /var/www/html/classes/ObjectModel.php on line 246\n")
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. '
         'No password required."')
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_ID_LIST_RE = re.compile(r"\[(\d+(?:\|\d+)*)\]\Z")
_DIGITS_RE = re.compile(r"\d+\Z")
_NUMERIC_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)\Z")  # PHP's is_numeric, near enough
JSON_VALUE = "JSON"



@dataclass
class PrestaShopFaultConfig(FaultConfig):
    """The shop's own faults: a hung PHP pool (``timeout_seconds``) and PHP notices printed before the XML."""

    timeout_seconds: float = 30.0
    php_notice: float = 0.0  # share of successful XML answers with a PHP notice printed before the XML


def prestashop_faults(seed: int | None = None) -> Faults:
    return Faults(seed, config_type=PrestaShopFaultConfig, rates=("php_notice",))

class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.shop_contexts: Counter[str] = Counter()

    def count(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1

    def count_context(self, context: str) -> None:
        with self._lock:
            self.shop_contexts[context] += 1

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_route.clear()
            self.shop_contexts.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "by_route": dict(self.by_route),
                    "shop_contexts": dict(self.shop_contexts)}


def _wants_json(request: Request) -> bool:
    """Io-Format / Output-Format headers, then output_format / io_format query; case-sensitive ``JSON``."""
    for value in (request.headers.get("Io-Format"), request.headers.get("Output-Format"),
                  request.args.get("output_format"), request.args.get("io_format")):
        if value is not None:
            return value == JSON_VALUE
    return False


def _language_filter(raw: str | None) -> list[int] | None:
    if not raw:
        return None
    ids = [int(x) for x in re.findall(r"\d+", raw)]
    if raw.startswith("[") and "," in raw and len(ids) == 2:
        return [i for i in LANGUAGES if ids[0] <= i <= ids[1]]
    return [i for i in ids if i in LANGUAGES]


def _api_base(request: Request) -> str:
    """``http://host:port/api`` as the client addressed us (cheaper than Werkzeug's ``host_url``)."""
    environ = request.environ
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}/api"


class PrestaShopSandboxApp:
    """WSGI callable; ``state``, ``faults``, ``webhooks`` and ``stats`` are exposed for in-process use."""

    def __init__(self, state: ShopState, webhooks: WebhookSender, faults: Faults | None = None):
        self.state = state
        self.webhooks = webhooks
        self.faults = faults or prestashop_faults()
        self.stats = Stats()
        self.stopping = threading.Event()
        self.display_errors = False  # every answer starts with PHP warnings, as on a shop with display_errors on
        self._cache: dict[tuple[Any, ...], tuple[dict[str, Any], bytes]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path.startswith("/_sandbox"):
            response = self.control(request)
        elif path == "/api" or path.startswith("/api/"):
            response = self.api(request, environ)
        else:
            response = Response("<html><body><h1>Not Found</h1></body></html>", 404, content_type="text/html")
        return response(environ, start_response)

    # -- the webservice ---------------------------------------------------------------------------------

    def api(self, request: Request, environ: dict[str, Any]) -> Response:
        started = time.perf_counter()
        method = request.method
        override = request.args.get("ps_method")
        if method == "POST" and override in ("PUT", "PATCH", "DELETE"):
            method = override
        parts = [p for p in request.path[len("/api"):].split("/") if p]
        resource_name = parts[0] if parts else ""
        object_id = parts[1] if len(parts) > 1 else None
        route = f"{method} /api/{resource_name}" + ("/{id}" if object_id is not None else "")
        self.stats.count(route)
        as_json = _wants_json(request)
        decision = self.faults.decide()
        if decision.delay_seconds:
            self.stopping.wait(decision.delay_seconds)
        if decision.action:
            faulted = self._fault(decision, environ, as_json)
            if faulted is not None:
                return faulted
        try:
            key = self._key(request)
            if key is None:
                return Response("401 Unauthorized", 401, {"WWW-Authenticate": REALM},
                                content_type="text/html; charset=utf-8")
            response = self._authenticated(request, method, key, resource_name, object_id, as_json)
        except WsError as error:
            response = self._error(error, as_json)
            if error.status == 401:
                response.headers["WWW-Authenticate"] = REALM
        if response.status_code < 400 or response.status_code == 404:
            response.headers["PSWS-Version"] = self.state.version
        response.headers["Execution-Time"] = f"{time.perf_counter() - started:.3f}"
        response.headers["Access-Time"] = str(int(time.time()))
        response.headers["X-Powered-By"] = "PrestaShop Webservice"
        local_sha1 = request.headers.get("Local-Content-Sha1")
        if local_sha1 and response.status_code == 200 and local_sha1 == response.headers.get("Content-Sha1"):
            response = Response(b"", 304, dict(response.headers), content_type=response.headers["Content-Type"])
        if (response.status_code < 400 and response.mimetype == "text/xml"
                and self.faults.roll(getattr(self.faults.config, "php_notice", 0.0))):
            self.faults.count("php_notice")
            response.set_data(PHP_NOTICE + response.get_data())
        if self.display_errors and response.status_code != 304:
            response.set_data(PHP_WARNING_TEXT + response.get_data())
        return response

    def _fault(self, decision: Decision, environ: dict[str, Any], as_json: bool) -> Response | None:
        if decision.action == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return Response(b"", 500)
        if decision.action == "timeout":
            self.stopping.wait(getattr(self.faults.config, "timeout_seconds", 30.0))
            return None
        if decision.action == "rate_limit":
            return Response(b"<html><body><h1>429 Too Many Requests</h1></body></html>", 429,
                            {"Retry-After": "1"}, content_type="text/html")
        if decision.action == "down":
            return self._error(WsError(503, 22, "The PrestaShop webservice is disabled. Please activate it in "
                                                "the PrestaShop Back Office"), as_json)
        if decision.status == 503:
            return Response(b"<html><body><h1>503 Service Unavailable</h1></body></html>", 503,
                            {"Retry-After": "1"}, content_type="text/html")
        return self._error(WsError(decision.status or 500, 2, "[PHP Fatal error #1] Allowed memory size "
                                                             "exhausted (sandbox fault injection)"), as_json)

    def _key(self, request: Request) -> str | None:
        header = request.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
            except ValueError:
                decoded = ""
            username = decoded.split(":", 1)[0]
            if username:
                return username
        return request.args.get("ws_key")

    def _authenticated(self, request: Request, method: str, key: str, resource_name: str,
                       object_id: str | None, as_json: bool) -> Response:
        state = self.state
        if not state.webservice_enabled:
            raise WsError(503, 22, "The PrestaShop webservice is disabled. Please activate it in the PrestaShop "
                                   "Back Office")
        if len(key) != 32:
            raise WsError(401, 18, "Invalid authentication key format")
        access = state.keys.get(key)
        if access is None:
            raise WsError(401, 19, "Authentication key does not exist")
        if not access.active:
            raise WsError(401, 20, "Authentification key is not active")
        self.stats.count_context(self._shop_context(request, access))
        if not resource_name:
            return self._index(request, access)
        resource = RESOURCES.get(resource_name)
        if resource is None:
            from difflib import get_close_matches

            close = get_close_matches(resource_name, list(RESOURCES), n=1)
            hint = f' Did you mean: "{close[0]}"?' if close else ""
            raise WsError(400, 27, f'Resource of type "{resource_name}" does not exists.{hint} The full list is: '
                                   f"\"{', '.join(RESOURCES)}\"")
        granted = access.methods_for(resource_name)
        if not granted:
            raise WsError(401, 26, f'Resource of type "{resource_name}" is not allowed with this authentication '
                                   "key")
        if method == "PATCH" and state.version.split(".")[0] in ("1",):
            raise WsError(405, 23, "Method PATCH is not valid")
        if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            raise WsError(405, 23, f"Method {method} is not valid")
        if method not in resource.methods:
            raise WsError(405, 101, f"Method {method} is not allowed for the resource {resource_name}")
        if method not in granted:
            raise WsError(405, 25, f"Method {method} is not allowed for this authentication key")
        if method in ("GET", "HEAD"):
            return self._read(request, resource, object_id, as_json)
        if method == "DELETE":
            return self._delete(request, resource, object_id)
        return self._write(request, method, resource, as_json)

    def _shop_context(self, request: Request, access: KeyAccess) -> str:
        """The multistore context as core sets it, in core's order (WebserviceRequest::webserviceChecks):
        ``groupShopExists`` first (a numeric ``id_group_shop``: the group's shops; none → 500, code 999),
        then ``shopExists``, which returns at once when the group chose the shops, so ``id_shop`` is then
        ignored (``all``, a number, or absent: the default shop; anything else → 404, code 999), then
        ``shopHasRight``: the key must be associated with one of those shops (403, code 132).
        ``id_shop_group`` is not a parameter core reads: it is ignored like any unknown one."""
        args = request.args
        shops = {int(i): r for i, r in self.state.tables["shops"].items() if r["deleted"] == "0"}
        group = args.get("id_group_shop")
        if group is not None and _NUMERIC_RE.match(group):
            ids = [i for i, r in shops.items() if r["id_shop_group"] == str(int(float(group)))]
            if not ids:
                raise WsError(500, 999, "This group shop doesn't have shops")
            context = f"group:{int(float(group))}"
        else:
            shop = args.get("id_shop")
            if shop is None:
                ids, context = [SHOP_ID], f"shop:{SHOP_ID}"
            elif shop == "all":
                ids, context = sorted(shops), "all"
            elif _NUMERIC_RE.match(shop):
                ids, context = [int(float(shop))], f"shop:{int(float(shop))}"
            else:
                raise WsError(404, 999, "This shop id does not exist")
        allowed = set(shops) if access.shops is None else access.shops & set(shops)
        if not any(i in allowed for i in ids):
            raise WsError(403, 132, "No permission for this key on this shop")
        return context

    def _index(self, request: Request, access: KeyAccess) -> Response:
        allowed = {name: access.methods_for(name) & set(r.methods) for name, r in RESOURCES.items()}
        api = _api_base(request)
        body = render.api_index_xml(RESOURCES.values(), api, allowed, self.state.shop_name)
        return self._output(body, 200, False)

    # -- reads ------------------------------------------------------------------------------------------

    def _read(self, request: Request, resource: Resource, object_id: str | None, as_json: bool) -> Response:
        args = request.args
        api = _api_base(request)
        schema = args.get("schema")
        if schema is not None:
            if schema not in ("blank", "synopsis"):
                raise WsError(400, 28, 'Please select a schema of type "synopsis" to get the whole schema '
                                       'informations (which fields are required, which kind of content...) or '
                                       '"blank" to get an empty schema to fill before using POST request')
            return self._output(render.schema_xml(resource, schema, LANGUAGES), 200, False)
        languages = _language_filter(args.get("language"))
        if object_id is not None:
            return self._read_one(resource, object_id, args, api, as_json, languages)
        date = args.get("date") in ("1", "true")
        display = parse_display(resource, args.get("display"), single=False)
        filters = build_filters(resource, dict(args.items()), date)
        order = parse_sort(resource, args.get("sort"), date)
        offset, count = parse_limit(args.get("limit"))
        table = self.state.tables[resource.name]
        id_filter = args.get("filter[id]")
        fast = _ID_LIST_RE.match(id_filter) if id_filter else None
        if fast is not None:
            candidates = [table[i] for i in sorted({int(x) for x in fast.group(1).split("|")}) if i in table]
        else:
            candidates = sorted(table.values(), key=lambda r: int(r["id"]))
        records = [r for r in candidates if matches(r, filters)] if filters else candidates
        if order:
            records = sort_records(list(records), order)
        records = records[offset:] if count is None else records[offset:offset + count]
        if as_json:
            return self._output(render.list_json(resource, records, display=display, languages=languages), 200,
                                True)
        return self._output(render.list_xml(resource, records, api, display=display, languages=languages), 200,
                            False)

    def _read_one(self, resource: Resource, object_id: str, args: Any, api: str, as_json: bool,
                  languages: list[int] | None) -> Response:
        record = self.state.tables[resource.name].get(int(object_id)) if _DIGITS_RE.match(object_id) else None
        if record is None:
            return Response(b"", 404, content_type="text/xml;charset=utf-8")  # the real 404: no body at all
        raw_display = args.get("display")
        if raw_display is None and languages is None:
            key = (resource.name, record["id"], as_json, api)
            cached = self._cache.get(key)
            if cached is not None and cached[0] is record:
                return self._output(cached[1], 200, as_json)
            body = (render.object_json(resource, record) if as_json else render.object_xml(resource, record, api))
            self._cache[key] = (record, body)
            return self._output(body, 200, as_json)
        display = parse_display(resource, raw_display, single=True)
        display_arg = None if display == "full" else display
        if as_json:
            body = render.object_json(resource, record, display=display_arg, languages=languages)  # type: ignore[arg-type]
        else:
            body = render.object_xml(resource, record, api, display=display_arg, languages=languages)  # type: ignore[arg-type]
        return self._output(body, 200, as_json)

    # -- writes -----------------------------------------------------------------------------------------

    def _parse_objects(self, request: Request) -> list[dict[str, Any]]:
        body = request.get_data()
        if request.mimetype == "application/x-www-form-urlencoded" and "xml" in request.form:
            body = request.form["xml"].encode()
        elif body.startswith(b"xml="):
            body = body[4:]
        try:
            root = etree.fromstring(body, parser=_PARSER)
        except etree.XMLSyntaxError as exc:
            original = body[:500].decode("utf-8", "replace")
            raise WsError(500, 127, f"XML error : String could not be parsed as XML\n{exc.msg}\nOriginal XML : "
                                    f"{original}") from None
        objects = [self._object(child) for child in root if isinstance(child.tag, str)]
        if not objects:
            raise WsError(400, 127, "XML error : no object in the XML")
        return objects

    @staticmethod
    def _object(element: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child.tag).localname
            kids = [k for k in child if isinstance(k.tag, str)]
            if name == "associations":
                obj[name] = {etree.QName(a.tag).localname: [
                    {etree.QName(s.tag).localname: s.text or "" for s in item if isinstance(s.tag, str)}
                    for item in a if isinstance(item.tag, str)] for a in kids}
            elif kids and all(etree.QName(k.tag).localname == "language" for k in kids):
                obj[name] = {int(k.get("id", "1")): k.text or "" for k in kids}
            else:
                obj[name] = child.text or ""
        return obj

    def _write(self, request: Request, method: str, resource: Resource, as_json: bool) -> Response:
        objects = self._parse_objects(request)
        send_email = request.args.get("sendemail") in ("1", "true")
        saved = self.state.write(method, resource.name, objects, send_email=send_email)
        api = _api_base(request)
        status = 201 if method == "POST" else 200
        if as_json:
            return self._output(render.object_json(resource, saved[-1]), status, True)
        if len(saved) == 1:
            return self._output(render.object_xml(resource, saved[0], api), status, False)
        return self._output(render.list_xml(resource, saved, api, display="full"), status, False)

    def _delete(self, request: Request, resource: Resource, object_id: str | None) -> Response:
        if object_id is not None:
            if not _DIGITS_RE.match(object_id):
                raise WsError(400, 87, f"Id(s) not exists: {object_id}")
            ids = [int(object_id)]
        else:
            found = _ID_LIST_RE.match((request.args.get("id") or "").replace(",", "|"))
            if found is None:
                raise WsError(400, 90, "id is required when deleting a resource")
            ids = [int(x) for x in found.group(1).split("|")]
        self.state.delete(resource.name, ids)
        return Response(b"", 200, content_type="text/xml;charset=utf-8")

    # -- output -----------------------------------------------------------------------------------------

    @staticmethod
    def _output(body: bytes, status: int, as_json: bool) -> Response:
        content_type = "application/json" if as_json else "text/xml;charset=utf-8"
        response = Response(body, status, content_type=content_type)
        response.headers["Content-Sha1"] = hashlib.sha1(body, usedforsecurity=False).hexdigest()
        return response

    def _error(self, error: WsError, as_json: bool) -> Response:
        body = render.errors_json(error.errors) if as_json else render.errors_xml(error.errors)
        return self._output(body, error.status, as_json)

    # -- the control API --------------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        method = request.method
        try:
            try:
                data = request.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return self._json({"error": "the body must be a JSON object"}, 400)
            return self._control(method, path, data)
        except (ValueError, KeyError) as exc:
            return self._json({"error": str(exc).strip("'\"")}, 400)
        except WsError as exc:
            return self._json({"error": exc.message, "code": exc.code}, exc.status)

    def _control(self, method: str, path: str, data: dict[str, Any]) -> Response:
        state = self.state
        if path == "/_sandbox/faults":
            if method == "POST":
                self.faults.update(data)
            elif method == "DELETE":
                self.faults.clear()
            return self._json(self.faults.snapshot())
        if path == "/_sandbox/stats" and method == "GET":
            return self._json({**self.stats.snapshot(), "cpu_seconds": round(time.process_time(), 3),
                               "orders": len(state.tables["orders"]),
                               "orders_placed": state.counters.orders_placed, "emails": state.counters.emails,
                               "faults_injected": dict(self.faults.injected), "webhooks": self.webhooks.stats()})
        if path == "/_sandbox/stats/reset" and method == "POST":
            self.stats.reset()
            return self._json({"ok": True})
        if path == "/_sandbox/webhooks":
            if method == "POST":
                self.webhooks.configure(data.get("url"), data.get("secret"))
            return self._json(self.webhooks.stats())
        if path == "/_sandbox/webhooks/drain" and method == "POST":
            return self._json({"drained": self.webhooks.drain(float(data.get("timeout", 10))),
                               **self.webhooks.stats()})
        if path == "/_sandbox/orders" and method == "POST":
            return self._json({"orders": self.place_orders(data)}, 201)
        match = re.fullmatch(r"/_sandbox/orders/(\d+)/state", path)
        if match and method == "POST":
            order_id = int(match.group(1))
            target = str(data.get("state", data.get("state_id", data.get("id_order_state", ""))))
            state_id = int(target) if target.isdigit() else state.state_id(
                target if target.startswith("PS_OS_") else "PS_OS_" + target.upper())
            state.change_state(order_id, state_id, send_email=bool(data.get("send_email")))
            return self._json({"id_order": order_id, "current_state": state_id})
        if path == "/_sandbox/customers" and method == "POST":
            if data.get("id"):
                state.update_customer(int(data["id"]), dict(data.get("fields") or {}))
                return self._json({"id_customer": int(data["id"])})
            customer_id, address_id = state.add_customer(data)
            return self._json({"id_customer": customer_id, "id_address": address_id}, 201)
        if path == "/_sandbox/stock" and method == "POST":
            row = state.set_stock(int(data["product_id"]), int(data.get("combination_id") or 0),
                                  int(data["quantity"]))
            return self._json({"id": int(row["id"]), "quantity": int(row["quantity"])})
        match = re.fullmatch(r"/_sandbox/products/(\d+)", path)
        if match and method == "POST":
            saved = state.write("PATCH", "products", [{"id": match.group(1), **dict(data.get("fields") or {})}])
            return self._json({"id": int(saved[0]["id"]), "date_upd": saved[0]["date_upd"]})
        if path == "/_sandbox/config" and method == "POST":
            if "version" in data:
                state.version = str(data["version"])
            if "webservice_enabled" in data:
                state.webservice_enabled = bool(data["webservice_enabled"])
            if "display_errors" in data:
                self.display_errors = bool(data["display_errors"])
            return self._json({"version": state.version, "webservice_enabled": state.webservice_enabled,
                               "display_errors": self.display_errors})
        if path == "/_sandbox/keys" and method == "POST":
            permissions = data.get("permissions")
            shops = data.get("shops")
            state.keys[str(data["key"])] = KeyAccess(
                active=bool(data.get("active", True)),
                permissions=None if permissions is None else {k: {m.upper() for m in v}
                                                              for k, v in permissions.items()},
                shops=None if shops is None else {int(i) for i in shops})
            return self._json({"ok": True})
        if path == "/_sandbox/health":
            return self._json({"ok": True, "version": state.version})
        return self._json({"error": f"no control route {method} {path}"}, 404)

    def place_orders(self, data: dict[str, Any]) -> list[int]:
        """Checkout-like orders; each sends ``order.created`` unless ``send_webhook`` is false.

        ``{"count", "customer_id"?, "new_customer"?: bool, "customer"?: {...}, "currency"?: "EUR",
        "state"?: "PS_OS_PAYMENT" (default) | "PS_OS_BANKWIRE" | … | "mix",
        "lines"?: [{"product_id", "combination_id", "quantity"} | {"reference", "quantity"}], "send_webhook"}``

        ``"state": "mix"`` is a realistic day of checkouts (``CHECKOUT_MIX``: mostly paid, bank wires and
        cheques awaiting payment, failed card payments, and unpaid orders the customer cancels right after,
        with their ``order.status_changed``), drawn from every seeded customer, the Australian and Mexican
        ones and the over-long e-mails included. Without ``state`` an order is paid, as before.
        """
        count = int(data.get("count", 1))
        if not 1 <= count <= 10000:
            raise ValueError("count must be between 1 and 10000")
        requested = str(data.get("state") or "PS_OS_PAYMENT")
        mix = requested.lower() in ("mix", "realistic")
        ids = []
        for _ in range(count):
            customer_id = int(data["customer_id"]) if data.get("customer_id") else None
            if data.get("new_customer"):  # a first-time buyer registers at checkout (customer.created first)
                customer_id, _address = self.state.add_customer(dict(data.get("customer") or {}))
            state, cancel_later = self.state.checkout_outcome() if mix else (requested, False)
            order_id = self.state.place_order(customer_id=customer_id, lines=data.get("lines"),
                                              currency=data.get("currency"), state=state, any_customer=mix)
            ids.append(order_id)
            if data.get("send_webhook", True):
                self.webhooks.emit("order.created", order_id)
            if cancel_later:  # the customer gives up on the bank transfer: the shop cancels the order
                self.state.change_state(order_id, self.state.state_id("PS_OS_CANCELED"), send_email=True)
        return ids

    @staticmethod
    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status, content_type="application/json")
