"""The PrestaShop webservice client: typed reads, safe writes, errors the task layer can act on.

Written against the real webservice's behaviour (see shared/reference/prestashop-webservice.md):

- the key is the Basic-auth username; ``use_ws_key_param`` sends ``?ws_key=`` instead for hosts whose
  PHP-CGI drops the Authorization header (the key is then redacted from every error and log line);
- every call has a timeout; HTTP-level retries (urllib3 ``Retry``) only for idempotent methods, and connect
  failures (nothing was sent); POST and PATCH are never replayed by the transport;
- a shared ``RateLimiter`` is asked for a token before each call and a ``CircuitBreaker`` wraps it;
- PUT replaces the whole object, so ``update`` takes a whole object and ``patch`` uses PATCH on 8.x and
  GET + merge + PUT on 1.7 (which answers PATCH with 405);
- reads come back typed (see ``parsing``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from urllib3.util.retry import Retry

from integration.config import Secret
from integration.connectors.http import network_cause, pooled_session, send, settle_environment
from integration.connectors.prestashop import parsing
from integration.connectors.prestashop.errors import (
    PrestaShopError,
    PrestaShopMethodNotAllowed,
    PrestaShopNotFound,
    PrestaShopPermanentError,
    PrestaShopServerError,
    error_for_status,
    redact_url,
)
from integration.connectors.prestashop.states import OrderStates
from integration.connectors.resilience import CircuitBreaker, RateLimiter
from integration.errors import ConfigurationError

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (429, 502, 503, 504)

# Fields PrestaShop refuses on write (400 code 93) or computes itself, per resource. The synopsis schema's
# readOnly attributes are added to these at run time when the shop provides them.
READ_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "products": frozenset({"manufacturer_name", "quantity", "position_in_category", "type",
                           "id_default_image", "id_default_combination"}),
    "customers": frozenset({"last_passwd_gen", "secure_key"}),
    "orders": frozenset({"shipping_number"}),
}
# Fields that carry a shop-local date: None goes back to PrestaShop as its "zero" date.
_DATE_ONLY_FIELDS = frozenset({"available_date", "birthday"})

DATE_FIELDS = frozenset({"date_add", "date_upd"})


# Schemas do not change while the integration runs: shared by every client of the same shop (tasks often build
# a client each), so a write costs one POST, not two schema GETs first.
_SCHEMA_CACHE: dict[tuple[str, int | None, str, str], bytes] = {}
_READ_ONLY_CACHE: dict[tuple[str, int | None, str], frozenset[str]] = {}
_ORDER_STATES_CACHE: dict[tuple[str, int | None], tuple[float, OrderStates]] = {}
ORDER_STATES_TTL = 600.0
_SCHEMA_LOCK = threading.Lock()


def forget_schemas() -> None:
    """Drop the cached schemas and order states (tests; or after a module added fields or states)."""
    with _SCHEMA_LOCK:
        _SCHEMA_CACHE.clear()
        _READ_ONLY_CACHE.clear()
        _ORDER_STATES_CACHE.clear()


# Retrying these cannot help, and counting them as outages would open the circuit for every worker.
PERMANENT_TRANSPORT_ERRORS = (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                              requests.exceptions.TooManyRedirects, requests.exceptions.MissingSchema,
                              requests.exceptions.InvalidSchema)


def make_session(max_retries: int = 3, pool_size: int = 32) -> requests.Session:
    """A pooled session that retries idempotent calls on connection errors, 429 and 502/503/504.

    ``raise_on_status=False``: after the last retry the response itself comes back, so the client can turn
    PrestaShop's error body into a typed error. ``Retry-After`` is honoured.
    """
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=0.3,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=IDEMPOTENT_METHODS,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = pooled_session(pool_connections=4, pool_maxsize=pool_size, max_retries=retry)
    session.headers["User-Agent"] = "psinfor-prestashop/0.1"
    return session


def format_filter(value: Any, tz: ZoneInfo) -> str:
    """A ``filter[...]`` value: strings pass through (``[1|2]``, ``>[5]``, ``%[ab]%``); other values are wrapped.

    ``5`` → ``[5]``; ``[1, 2]`` → ``[1|2]``; a ``(start, end)`` tuple → ``[start,end]`` (inclusive range);
    datetimes are written in the shop's local time.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return f"[{parsing.format_value(value[0], tz)},{parsing.format_value(value[1], tz)}]"
    if isinstance(value, list | set | frozenset):
        return "[" + "|".join(parsing.format_value(v, tz) for v in value) + "]"
    return f"[{parsing.format_value(value, tz)}]"


def greater_than(value: Any) -> tuple[str, Any]:
    """Marker for ``filter[f]=>[v]`` (strict); use as ``filters={"date_upd": greater_than(dt)}``."""
    return (">", value)


def less_than(value: Any) -> tuple[str, Any]:
    """Marker for ``filter[f]=<[v]`` (strict)."""
    return ("<", value)


def not_in(*values: Any) -> tuple[str, Any]:
    """Marker for ``filter[f]=![a|b]``."""
    return ("!", "|".join(str(v) for v in values))


def _filter_param(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] in (">", "<", "!"):
        return f"{value[0]}[{parsing.format_value(value[1], tz)}]"
    return format_filter(value, tz)


def format_display(display: str | Iterable[str] | None) -> str | None:
    if display is None or isinstance(display, str):
        return display
    return "[" + ",".join(display) + "]"


def format_sort(sort: str | Iterable[str] | None) -> str | None:
    if sort is None:
        return None
    items = [sort] if isinstance(sort, str) else list(sort)
    flat: list[str] = []
    for item in items:
        flat.extend(p.strip() for p in item.strip("[]").split(",") if p.strip())
    if not any(p.rsplit("_", 1)[0] == "id" for p in flat):
        flat.append("id_ASC")  # a stable order for offset paging: ties on date_upd are broken by id
    return "[" + ",".join(flat) + "]"


def _version_tuple(version: str | None) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in (version or "").split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


class PrestaShopClient:
    """One shop's webservice. ``base_url`` ends in ``/api``; ``key`` is a str or a ``Secret``."""

    def __init__(
        self,
        base_url: str,
        key: str | Secret,
        *,
        timezone: str = "Europe/Paris",
        use_ws_key_param: bool = False,
        id_shop: int | None = None,
        id_group_shop: int | None = None,
        timeout: float = 15.0,
        session: requests.Session | None = None,
        rate_limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        max_retries: int = 3,
    ):
        base = base_url.rstrip("/")
        if not base.endswith("/api"):
            raise ConfigurationError(f"PrestaShop URL {redact_url(base_url)!r} must end in /api",
                                     resolution="use https://your-shop.example/api")
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"unknown shop timezone {timezone!r}",
                                     resolution="use the shop's PS_TIMEZONE, e.g. Europe/Paris") from None
        self.base_url = base
        self._key = key if isinstance(key, Secret) else Secret(key)
        self.use_ws_key_param = use_ws_key_param
        if id_shop is not None and id_group_shop is not None:
            # WebserviceRequest::webserviceChecks runs groupShopExists before shopExists, and shopExists
            # returns at once when the group already chose the shops: the shop id is ignored. Send what the
            # shop will use, and say so.
            log.warning("PrestaShop %s: id_group_shop=%s and id_shop=%s are both configured; PrestaShop uses "
                        "the shop group and ignores id_shop, so only id_group_shop is sent",
                        redact_url(base), id_group_shop, id_shop)
            id_shop = None
        self.id_shop = id_shop  # the shop context the shop really applies (None: the group's, or the default)
        self.id_group_shop = id_group_shop
        self.timeout = float(timeout)
        self.session = session if session is not None else settle_environment(make_session(max_retries), base)
        self.rate_limiter = rate_limiter
        self.breaker = breaker
        self.version: str | None = None  # from the PSWS-Version header of the first answer
        self._patch_supported: bool | None = None

    @classmethod
    def from_settings(cls, settings: Any, *, redis: Any | None = None, name: str = "default",
                      session: requests.Session | None = None, key_prefix: str = "",
                      breaker: CircuitBreaker | None = None) -> PrestaShopClient:
        """A client for one configured shop (``config.PrestaShopSettings``), with its rate limit and breaker.

        The limiter and breaker are named after the connection and live in ``redis`` when given, so every
        worker of that connection shares one budget and one view of the shop's health. ``breaker``: one already
        made, shared by the clients of a process (``Runtime.breaker``).
        """
        limiter = RateLimiter(f"prestashop:{name}", settings.rate_per_second, settings.burst, redis=redis,
                              key_prefix=key_prefix)
        if breaker is None:
            breaker = cls.breaker_from_settings(settings, redis=redis, name=name, key_prefix=key_prefix)
        return cls(settings.url, settings.key, timezone=settings.timezone,
                   use_ws_key_param=settings.use_ws_key_param, id_shop=settings.id_shop,
                   id_group_shop=settings.id_group_shop, timeout=settings.timeout, session=session,
                   rate_limiter=limiter, breaker=breaker)

    @staticmethod
    def breaker_from_settings(settings: Any, *, redis: Any | None = None, name: str = "default",
                              key_prefix: str = "") -> CircuitBreaker:
        """The shop's circuit breaker for one connection, named as every worker names it (its state is in Redis)."""
        return CircuitBreaker(f"prestashop:{name}", settings.breaker_failures, settings.breaker_reset, redis=redis,
                              key_prefix=key_prefix)

    def ping(self) -> str | None:
        """Check the key can reach the webservice (``GET /api/``); returns the shop's PSWS-Version."""
        self.request("GET", "")
        return self.version

    def __repr__(self) -> str:
        return f"PrestaShopClient({self.base_url!r}, id_shop={self.id_shop}, version={self.version})"

    # -- transport --------------------------------------------------------------------------------------

    def _url(self, resource: str, id: int | str | None = None) -> str:
        if not resource:
            return f"{self.base_url}/"
        return f"{self.base_url}/{resource}" + (f"/{id}" if id is not None else "")

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if self.id_shop is not None:
            merged["id_shop"] = self.id_shop
        if self.id_group_shop is not None:
            merged["id_group_shop"] = self.id_group_shop
        merged.update({k: v for k, v in (params or {}).items() if v is not None})
        return merged

    @staticmethod
    def _display_url(url: str, params: Mapping[str, Any]) -> str:
        """The URL for messages: the real query, never the key."""
        shown = {k: v for k, v in params.items() if k != "ws_key"}
        return url + ("?" + urlencode(shown, safe="[]|,%>:<!") if shown else "")

    def request(
        self, method: str, resource: str, id: int | str | None = None, *,
        params: Mapping[str, Any] | None = None, body: bytes | None = None,
    ) -> requests.Response:
        """One call through the rate limiter and the breaker; a typed error for any status >= 400."""
        url = self._url(resource, id)
        query = self._params(params)
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(timeout=max(self.timeout, 30.0))
        if self.breaker is not None:
            return self.breaker.call(self._send, method, url, query, body)
        return self._send(method, url, query, body)

    def _send(self, method: str, url: str, query: dict[str, Any], body: bytes | None) -> requests.Response:
        shown = self._display_url(url, query)
        params = dict(query)
        auth: tuple[str, str] | None = None
        if self.use_ws_key_param:
            params["ws_key"] = self._key.reveal()
        else:
            auth = (self._key.reveal(), "")
        headers = {"Content-Type": "text/xml; charset=utf-8"} if body is not None else {}
        try:
            response = send(
                self.session, method, url, params=params, data=body, headers=headers, auth=auth,
                timeout=(min(self.timeout, 10.0), self.timeout), allow_redirects=method in ("GET", "HEAD"),
            )
        except PERMANENT_TRANSPORT_ERRORS as exc:
            raise PrestaShopPermanentError(
                f"PrestaShop ({method} {shown}): {type(exc).__name__}", url=shown,
                resolution="a configuration problem, not an outage: check PS_URL, its TLS certificate and "
                           "redirects (an http→https redirect loses the request body)") from None
        except requests.RequestException as exc:
            raise self._transport_error(exc, method, shown) from None
        version = response.headers.get("PSWS-Version")
        if version and version != self.version:
            self.version = version
        if response.status_code >= 400:
            raise error_for_status(response.status_code, shown, method=method,
                                   errors=self._errors_of(response), body=response.content, headers=response.headers)
        return response

    def _transport_error(self, exc: requests.RequestException, method: str, shown: str) -> PrestaShopServerError:
        """A timeout or connection failure as a transient error. Only the exception's type is reported: its
        text can contain the full URL, ``ws_key`` included."""
        cause = network_cause(exc)
        if cause.startswith("timed out waiting"):
            return PrestaShopServerError(f"PrestaShop did not answer within {self.timeout:g}s ({method} {shown})",
                                         url=shown, resolution="retried automatically")
        return PrestaShopServerError(f"cannot reach PrestaShop ({method} {shown}): {cause}",
                                     url=shown, resolution="retried automatically; check the shop is up and "
                                                           "PS_URL is right")

    @staticmethod
    def _errors_of(response: requests.Response) -> list[dict[str, Any]]:
        content = response.content or b""
        stripped = content.lstrip()
        if stripped.startswith(b"{"):
            return parsing.parse_json_errors(stripped)
        if not stripped.startswith(b"<") and b"<prestashop" not in content:
            return []
        try:
            return parsing.errors_in(parsing.parse_document(content, response.url or ""))
        except PrestaShopError:
            return []

    def _parse(self, response: requests.Response, shown: str) -> tuple[str, Any]:
        return parsing.parse_xml(response.content, shown, timezone=self.tz, status=response.status_code)

    def _call(self, method: str, resource: str, id: int | str | None = None, *,
              params: Mapping[str, Any] | None = None, body: bytes | None = None) -> Any:
        response = self.request(method, resource, id, params=params, body=body)
        shown = self._display_url(self._url(resource, id), self._params(params))
        return self._parse(response, shown)[1]

    # -- reads ------------------------------------------------------------------------------------------

    def get(self, resource: str, id: int, display: str | Iterable[str] | None = None) -> dict[str, Any]:
        """One object, typed. ``display`` restricts the fields (done as a filtered list, as the docs advise)."""
        if display is not None:
            rows = self._page(resource, display=format_display(display), filters={"id": id}, sort=None,
                              date=False, offset=0, count=1)
            if not rows:
                raise PrestaShopNotFound(f"PrestaShop: {resource} {id} not found", status=404,
                                         url=self._url(resource, id))
            return rows[0]
        record = self._call("GET", resource, id)
        if not isinstance(record, dict):
            raise PrestaShopPermanentError(f"PrestaShop: expected one {resource} object at {resource}/{id}",
                                           url=self._url(resource, id))
        return record

    def _page(self, resource: str, *, display: str | None, filters: Mapping[str, Any] | None,
              sort: str | None, date: bool, offset: int, count: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"display": display, "limit": f"{offset},{count}", "sort": sort}
        for name, value in (filters or {}).items():
            params[f"filter[{name}]"] = _filter_param(value, self.tz)
        if date:
            params["date"] = 1
        result = self._call("GET", resource, params=params)
        if isinstance(result, dict):  # a list envelope was expected
            raise PrestaShopPermanentError(f"PrestaShop: expected a list of {resource}", url=self._url(resource))
        return list(result)

    def list(
        self,
        resource: str,
        *,
        display: str | Iterable[str] | None = "full",
        filters: Mapping[str, Any] | None = None,
        sort: str | Iterable[str] | None = None,
        date: bool = False,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Every matching object, fetched lazily page by page (``limit=offset,count``) under a stable sort.

        ``date=1`` is added automatically when a date field is filtered or sorted on (PrestaShop ignores
        them otherwise). There is no total count in the API: paging stops at the first short page.
        """
        sort_param = format_sort(sort) or "[id_ASC]"
        names = set(filters or {}) | {p.rsplit("_", 1)[0] for p in sort_param.strip("[]").split(",")}
        use_date = date or bool(names & DATE_FIELDS)
        display_param = format_display(display)
        offset = 0
        while True:
            rows = self._page(resource, display=display_param, filters=filters, sort=sort_param,
                              date=use_date, offset=offset, count=page_size)
            yield from rows
            if len(rows) < page_size:
                return
            offset += page_size

    def schema(self, resource: str, kind: str = "blank") -> bytes:
        """The ``schema=blank`` (template) or ``schema=synopsis`` XML of a resource, cached per client."""
        cache_key = (self.base_url, self.id_shop, resource, kind)
        cached = _SCHEMA_CACHE.get(cache_key)
        if cached is None:
            response = self.request("GET", resource, params={"schema": kind})
            url = self._url(resource) + f"?schema={kind}"
            cached = parsing.strip_php_output(response.content, url)
            parsing.parse_document(cached, url, response.status_code)
            with _SCHEMA_LOCK:
                _SCHEMA_CACHE[cache_key] = cached
        return cached

    def read_only_fields(self, resource: str) -> frozenset[str]:
        """Fields never to send: the known list plus the synopsis's ``readOnly`` ones (best effort)."""
        cache_key = (self.base_url, self.id_shop, resource)
        found = _READ_ONLY_CACHE.get(cache_key)
        if found is None:
            extra: set[str] = set()
            try:
                for name, attrs in parsing.template_fields(self.schema(resource, "synopsis")).items():
                    if attrs.get("readOnly") == "true" or attrs.get("read_only") == "true":
                        extra.add(name)
            except PrestaShopError as exc:
                log.info("no synopsis schema for %s (%s); using the built-in read-only list", resource, exc)
            found = READ_ONLY_FIELDS.get(resource, frozenset()) | frozenset(extra)
            with _SCHEMA_LOCK:
                _READ_ONLY_CACHE[cache_key] = found
        return found

    # -- writes -----------------------------------------------------------------------------------------

    def _body(self, resource: str, fields: Mapping[str, Any], *, include_id: bool) -> bytes:
        prepared = {k: self._outgoing(k, v) for k, v in fields.items()}
        return parsing.build_xml(resource, prepared, timezone=self.tz, template=self.schema(resource),
                                 exclude=self.read_only_fields(resource), include_id=include_id)

    @staticmethod
    def _outgoing(name: str, value: Any) -> Any:
        """None for a date field means "never": PrestaShop's zero date, not an empty string."""
        if value is None and (name.startswith("date_") or name.endswith("_date") or name in _DATE_ONLY_FIELDS):
            if name in _DATE_ONLY_FIELDS:
                return parsing.ZERO_DATE
            return parsing.ZERO_DATETIME
        if isinstance(value, date) and not isinstance(value, datetime) and name not in _DATE_ONLY_FIELDS:
            return value.isoformat()
        return value

    def create(self, resource: str, fields: Mapping[str, Any], *,
               params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one object built on the blank schema (no ``id``, no read-only fields); returns it as saved."""
        body = self._body(resource, fields, include_id=False)
        return self._expect_record(self._call("POST", resource, params=params, body=body), resource)

    def update(self, resource: str, id: int, fields: Mapping[str, Any], *,
               params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """PUT: ``fields`` is the *whole* object (PUT empties what is missing). Use ``patch`` for a few fields."""
        body = self._body(resource, {**fields, "id": id}, include_id=True)
        return self._expect_record(self._call("PUT", resource, id, params=params, body=body), resource)

    def patch(self, resource: str, id: int, fields: Mapping[str, Any], *,
              params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Change only ``fields``: PATCH on 8.x; on 1.7 (405 to PATCH) GET the object, merge, PUT it back."""
        if self._patch_supported is False or (self.version and _version_tuple(self.version) < (8,)):
            return self._get_merge_put(resource, id, fields, params)
        body = self._body(resource, {**fields, "id": id}, include_id=True)
        try:
            result = self._call("PATCH", resource, id, params=params, body=body)
        except PrestaShopMethodNotAllowed:
            log.info("PrestaShop %s refuses PATCH on %s; falling back to GET+PUT", self.version, resource)
            self._patch_supported = False
            return self._get_merge_put(resource, id, fields, params)
        self._patch_supported = True
        return self._expect_record(result, resource)

    def _get_merge_put(self, resource: str, id: int, fields: Mapping[str, Any],
                       params: Mapping[str, Any] | None) -> dict[str, Any]:
        current = self.get(resource, id)
        merged = {k: v for k, v in current.items() if k not in self.read_only_fields(resource)}
        merged.update(fields)
        return self.update(resource, id, merged, params=params)

    def delete(self, resource: str, id: int) -> None:
        self.request("DELETE", resource, id)

    @staticmethod
    def _expect_record(result: Any, resource: str) -> dict[str, Any]:
        if not isinstance(result, dict):
            raise PrestaShopPermanentError(f"PrestaShop: expected one {resource} object in the answer")
        return result

    # -- business operations ----------------------------------------------------------------------------

    def add_order_history(self, order_id: int, state_id: int, *, send_email: bool = False) -> bool:
        """Move an order to ``state_id`` through ``order_histories``; False if it is already there.

        PrestaShop has no guard of its own: posting the current state again adds a history row and re-runs
        its side effects (e-mail, stock, invoice). So the order's ``current_state`` is read first.
        """
        order = self.get("orders", order_id, display=["id", "current_state"])
        if order.get("current_state") == int(state_id):
            return False
        params = {"sendemail": 1} if send_email else None
        self.create("order_histories", {"id_order": int(order_id), "id_order_state": int(state_id)},
                    params=params)
        return True

    def set_tracking_number(self, order_id: int, tracking_number: str, *,
                            send_email: bool = False) -> dict[str, Any]:
        """Write the tracking number on the order's carrier row (there is usually one per order)."""
        rows = list(self.list("order_carriers", filters={"id_order": int(order_id)}, page_size=10))
        if not rows:
            raise PrestaShopNotFound(f"PrestaShop order {order_id} has no order_carriers row",
                                     url=self._url("order_carriers"),
                                     resolution="the order has no carrier (virtual products only?)")
        row = rows[0]
        if row.get("tracking_number") == tracking_number:
            return row
        params = {"sendemail": 1} if send_email else None
        return self.patch("order_carriers", int(row["id"]), {"tracking_number": tracking_number}, params=params)

    def set_stock(self, product_id: int, combination_id: int | None, quantity: int) -> dict[str, Any]:
        """Set the sellable quantity of a simple product (``combination_id`` 0/None) or of one variant.

        For a product with combinations PrestaShop keeps the product row as the sum of the variant rows, so
        only variant rows are written; a write to such a product's own row is refused here.
        """
        combo = int(combination_id or 0)
        rows = list(self.list("stock_availables", filters={"id_product": int(product_id)},
                              display=["id", "id_product", "id_product_attribute", "quantity",
                                       "depends_on_stock"], page_size=250))
        has_variants = any((r.get("id_product_attribute") or 0) > 0 for r in rows)
        if combo == 0 and has_variants:
            raise PrestaShopPermanentError(
                f"product {product_id} has combinations: its stock is the sum of its variants",
                resolution="push stock per combination (the ERP item is the combination's reference)")
        row = next((r for r in rows if (r.get("id_product_attribute") or 0) == combo), None)
        if row is None:
            raise PrestaShopNotFound(
                f"PrestaShop has no stock row for product {product_id} combination {combo}",
                url=self._url("stock_availables"),
                resolution="check the product/combination exists in this shop (multistore: id_shop)")
        if row.get("depends_on_stock") is True:
            raise PrestaShopPermanentError(
                f"stock of product {product_id}/{combo} depends on advanced stock management",
                resolution="turn off depends_on_stock for this product or update the warehouse stock")
        if row.get("quantity") == int(quantity):
            return row
        return self.patch("stock_availables", int(row["id"]), {"quantity": int(quantity)})

    def order_states(self, refresh: bool = False) -> OrderStates:
        """The ``PS_OS_*`` ids and every state's flags, read from the shop once per process and shop.

        Kept for ``ORDER_STATES_TTL`` seconds (a merchant may add or remap a state while we run);
        ``refresh=True`` reads them again at once.
        """
        cache_key = (self.base_url, self.id_shop)
        with _SCHEMA_LOCK:
            cached = _ORDER_STATES_CACHE.get(cache_key)
        if cached is not None and not refresh and time.monotonic() - cached[0] < ORDER_STATES_TTL:
            return cached[1]
        configurations = list(self.list("configurations", filters={"name": "[PS_OS_]%"},
                                        display=["id", "name", "value", "id_shop", "id_shop_group"]))
        states = list(self.list("order_states", display="full"))
        resolved = OrderStates.from_records(configurations, states, id_shop=self.id_shop)
        with _SCHEMA_LOCK:
            _ORDER_STATES_CACHE[cache_key] = (time.monotonic(), resolved)
        return resolved
