"""What both connectors' HTTP sessions share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import to_key_val_list
from urllib3.connectionpool import ConnectionPool

# The response headers that can set a cookie (http.cookiejar reads these two).
_SET_COOKIE = ("set-cookie", "set-cookie2")


class PooledAdapter(HTTPAdapter):
    """requests' adapter without two look-ups it repeats on every call of a session that uses no proxy.

    For each call, requests parses the URL three times to find the host's connection pool (through a pool key it
    builds anew) and to write the request line. Here the pool of an origin (scheme, host and port, with the
    session's TLS settings) is found through requests once and then kept, for as many origins as the pool manager
    keeps pools (``pool_connections``; another origin is looked up by requests each time), until the adapter
    closes. Without a proxy the request line is the URL's path, as requests writes it. With
    a proxy, requests' own look-ups run. ``send`` is requests' own, so what intercepts requests' transport
    (``responses`` in the tests) sees every call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, Any, Any], ConnectionPool] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:  # an unpickled adapter starts with no pools, as requests'
        super().__setstate__(state)  # type: ignore[misc]
        self._pools = {}

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: Any = None) -> ConnectionPool:
        if proxies:
            return super().get_connection_with_tls_context(request, verify, dict(proxies), cert)
        url = str(request.url)
        start = url.find("://") + 3
        end = url.find("/", start)
        key = (url if end < 0 else url[:end], verify, tuple(cert) if isinstance(cert, list) else cert)
        pool = self._pools.get(key)
        if pool is None:
            pool = super().get_connection_with_tls_context(request, verify, None, cert)
            if len(self._pools) < getattr(self, "_pool_connections", DEFAULT_POOLSIZE):
                self._pools[key] = pool
        return pool

    def request_url(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        if proxies:
            return super().request_url(request, dict(proxies))
        return request.path_url  # what requests writes when no proxy is in the way

    def close(self) -> None:
        """Close the kept pools too: the pool manager may have let one go while it was kept here."""
        kept, self._pools = list(self._pools.values()), {}
        for pool in kept:
            pool.close()
        super().close()


def pooled_session(**adapter_options: Any) -> requests.Session:
    """A session whose http and https calls go through a ``PooledAdapter`` (``adapter_options``: pool sizes,
    retries, as ``HTTPAdapter`` takes them)."""
    session = requests.Session()
    adapter = PooledAdapter(**adapter_options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def settle_environment(session: requests.Session, url: str) -> requests.Session:
    """Read proxy and CA-bundle settings from the environment once, for this session's lifetime.

    With ``trust_env`` on, requests re-reads every proxy variable of the environment on *each* request; at
    integration volumes that was several milliseconds of CPU per order. The settings are taken once here,
    then ``trust_env`` is switched off (credentials are always set explicitly, so .netrc is not wanted).
    """
    env = session.merge_environment_settings(url, {}, None, None, None)
    for scheme, proxy in (env.get("proxies") or {}).items():
        session.proxies.setdefault(scheme, proxy)
    verify = env.get("verify")
    if isinstance(verify, str):
        session.verify = verify
    session.trust_env = False
    return session


def send(session: requests.Session, method: str, url: str, *, params: Any = None, data: Any = None,
         json: Any = None, headers: Mapping[str, str] | None = None, auth: Any = None, timeout: Any = None,
         allow_redirects: bool = True) -> requests.Response:
    """``session.request`` for a settled session (``settle_environment``), at about half of requests' own CPU.

    ``Session.request`` merges the session's settings, the environment, cookies and hooks into every call, and
    was a sixth of a worker's CPU per order. A settled session has nothing left to merge from the environment,
    so the request is prepared here with the session's headers and cookies and sent through the adapter the
    session mounted (its retry policy and connection pool). What requests does after a send is kept: the body
    is read, cookies go back into the session's jar, and redirects are followed as ``Session.send`` follows
    them. An unsettled session (``trust_env`` on) goes through ``session.request`` unchanged."""
    if session.trust_env:
        return session.request(method, url, params=params, data=data, json=json, headers=headers, auth=auth,
                               timeout=timeout, allow_redirects=allow_redirects)
    merged = CaseInsensitiveDict(session.headers)
    if headers:
        merged.update(headers)
    request = requests.PreparedRequest()
    # PreparedRequest.prepare's steps in its order, with the cookies' only when the session holds any: neither
    # the shop nor ION sets cookies, and an empty jar costs as much to apply as a full one.
    request.prepare_method(method)
    request.prepare_url(url, query_string(params))
    request.prepare_headers(merged)
    if len(session.cookies):
        # The session's cookies as a copy, as Session.prepare_request merges them: a redirect adds to the request's.
        request.prepare_cookies(session.cookies.copy())
    else:  # the jar a redirect (resolve_redirects) adds to, with the session's policy, as a copy would have
        jar = RequestsCookieJar()
        jar.set_policy(session.cookies.get_policy())
        request._cookies = jar  # type: ignore[attr-defined]
    request.prepare_body(data, None, json)
    request.prepare_auth(auth or session.auth, url)
    request.prepare_hooks(None)
    options: dict[str, Any] = {"timeout": timeout, "verify": session.verify, "cert": session.cert,
                               "proxies": session.proxies}
    response = session.get_adapter(url).send(request, stream=False, **options)
    response.content  # noqa: B018 - read the body now, as Session.send does when not streaming
    if any(name in response.headers for name in _SET_COOKIE):
        extract_cookies_to_jar(session.cookies, request, response.raw)
    if allow_redirects and response.is_redirect:
        history = [response, *session.resolve_redirects(response, request, stream=False, **options)]
        response = history.pop()
        response.history = history
    return response


def query_string(params: Any) -> str | bytes:
    """``params`` encoded as requests encodes them (``RequestEncodingMixin._encode_params``: a value list repeats
    the key, None is left out). requests first asks whether ``params`` is a file-like object, and then whether it
    has ``items``, two runtime-Protocol ``isinstance`` checks that cost more than the encoding itself."""
    if params is None:
        return ""
    if isinstance(params, str | bytes):
        return params
    pairs: list[tuple[Any, Any]] = []
    # A dict's items as requests lists them (to_key_val_list), without its runtime-Protocol check either.
    for key, values in (params.items() if type(params) is dict else to_key_val_list(params)):
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        pairs.extend((key, value) for value in values if value is not None)
    return urlencode(pairs, doseq=True)


# What a failed connection *was*, in words an operator can act on. Found by walking the exception's chain
# (requests → urllib3 → socket errors; redis-py; SQLAlchemy → the driver), then, for drivers that keep only
# text (psycopg), by the text itself.
_TEXT_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name or service not known", "nodename nor servname", "could not translate host name",
      "temporary failure in name resolution", "getaddrinfo failed", "failed to resolve", "no address associated"),
     "host unknown: the name does not resolve"),
    (("connection refused",), "connection refused: nothing listens on that host and port"),
    (("timed out", "timeout expired", "timeout"), "timed out: no answer in time"),
    (("password authentication failed", "authentication failed", "invalid username-password", "noauth",
      "invalid password"), "credentials refused"),
    (("does not exist",), "refused by the server: the user or database does not exist"),
    (("certificate verify failed", "ssl", "tls"), "TLS failed: the certificate or protocol was refused"),
    (("connection reset", "connection aborted", "remote end closed", "broken pipe"),
     "connection dropped by the other side"),
    (("network is unreachable", "no route to host"), "network unreachable: no route to the host"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       getattr(current, "orig", None), *getattr(current, "args", ())):
            if isinstance(nested, BaseException):
                todo.append(nested)
    return seen


def network_cause(exc: BaseException) -> str:
    """The cause of a failed network call in words: host unknown, connection refused, timed out, TLS failed,
    credentials refused, connection dropped. Never the exception's own text (it can carry a URL with a key)."""
    import socket
    import ssl

    chain = _chain(exc)
    for cause in chain:
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "host unknown: the name does not resolve"
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused: nothing listens on that host and port"
        if isinstance(cause, ssl.SSLError | requests.exceptions.SSLError):
            return "TLS failed: the certificate or protocol was refused"
        if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return "connection dropped by the other side"
    names = {type(c).__name__ for c in chain}
    if names & {"ConnectTimeout", "ConnectTimeoutError"}:
        return "timed out connecting: the host did not accept the connection in time"
    if names & {"ReadTimeout", "ReadTimeoutError"}:
        return "timed out waiting for the answer"
    if any(isinstance(c, TimeoutError | socket.timeout | requests.Timeout) or "Timeout" in type(c).__name__
           for c in chain):
        return "timed out: no answer in time"
    text = " ".join(str(c) for c in chain).lower()
    for needles, words in _TEXT_CAUSES:
        if any(n in text for n in needles):
            return words
    return f"{type(exc).__name__}"
