"""Typed PrestaShop webservice errors, built from the status and PrestaShop's own error body.

The Celery layer retries ``TransientError`` and dead-letters ``PermanentError``, so the only decision made
here is which side of that line a response falls on. Every error names the URL (with ``ws_key`` redacted)
and keeps the start of the body, so an operator can see *what the shop said* without a packet capture.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from integration.errors import IntegrationError, NotFound, PermanentError, TransientError

BODY_PREVIEW_CHARS = 2000

# PrestaShop error codes that are about the data we sent, even when the shop answers 500.
# 85 setter/validation failure, 127 XML we sent could not be parsed, 133 stock depends on stock.
PERMANENT_5XX_CODES = frozenset({85, 127, 133})


def redact_url(url: str) -> str:
    """The URL with any ``ws_key`` query value hidden: the key must never reach logs or error messages."""
    parts = urlsplit(url)
    if "ws_key" not in parts.query:
        return url
    query = [(k, "***" if k == "ws_key" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]*,|%")))


def body_preview(content: bytes | str | None, limit: int = BODY_PREVIEW_CHARS) -> str:
    """The first ``limit`` characters of a body, decoded leniently, for logs and error details."""
    if not content:
        return ""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    return text[:limit]


class PrestaShopError(IntegrationError):
    """Base of the PrestaShop connector's errors; ``status``, ``code`` (PrestaShop's), ``url``, ``body``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        url: str = "",
        body: bytes | str | None = None,
        errors: list[dict[str, Any]] | None = None,
        resolution: str | None = None,
    ):
        self.status = status
        self.code = code
        self.url = redact_url(url)
        self.body = body_preview(body)
        self.errors = list(errors or [])
        details: dict[str, Any] = {"status": status, "code": code, "url": self.url}
        if self.errors:
            details["errors"] = self.errors
        if self.body:
            details["body_start"] = self.body
        super().__init__(message, resolution=resolution, details=details)


class PrestaShopTransientError(PrestaShopError, TransientError):
    """The shop may answer differently later: 5xx, 429, timeouts, dropped or truncated responses."""


class PrestaShopPermanentError(PrestaShopError, PermanentError):
    """The shop refused the request itself; repeating it will not help."""


class PrestaShopNotFound(PrestaShopPermanentError, NotFound):
    """404: the object does not exist (PrestaShop answers a missing id with an empty body)."""


class PrestaShopAuthError(PrestaShopPermanentError):
    """401/403: the key is wrong, inactive, or lacks this resource or shop."""


class PrestaShopBadRequest(PrestaShopPermanentError):
    """400: a bad parameter, a missing or read-only field, a validation failure."""


class PrestaShopMethodNotAllowed(PrestaShopPermanentError):
    """405: the method is invalid (PATCH on 1.7), forbidden for the resource, or not granted to the key."""


class PrestaShopServerError(PrestaShopTransientError):
    """5xx (or a connection problem): worth retrying with backoff."""


class PrestaShopRateLimited(PrestaShopTransientError):
    """429 from the shop or its proxy."""


class PrestaShopUnreadableResponse(PrestaShopTransientError):
    """The body is not the XML expected: truncated, or a PHP notice printed before it."""


class PrestaShopNotWebservice(PrestaShopPermanentError):
    """An HTML page came back where XML was expected: the ``/api`` rewrite is missing or the URL is wrong."""


_TAG_RE = re.compile(r"<[^>]+>")


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """``code 85: Validation error …; code 3: …`` for a message line."""
    return "; ".join(f"code {e.get('code')}: {_TAG_RE.sub('', str(e.get('message', '')))}" for e in errors)


def error_for_status(
    status: int,
    url: str,
    *,
    method: str = "GET",
    errors: list[dict[str, Any]] | None = None,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> PrestaShopError:
    """Pick the error class for an HTTP status and PrestaShop's error list (which may be empty).

    ``headers``: the response's. A 404 without the webservice's own headers did not come from PrestaShop's
    webservice (a wrong ``PS_URL`` host or path), so it is not "the object was deleted"."""
    errors = list(errors or [])
    code = _first_code(errors)
    said = describe_errors(errors) if errors else (body_preview(body, 200).strip() or "no body")
    where = f"{method} {redact_url(url)}"
    kwargs: dict[str, Any] = {"status": status, "code": code, "url": url, "body": body, "errors": errors}
    if status == 404 and headers is not None and not from_webservice(headers):
        return PrestaShopNotWebservice(
            f"PrestaShop: {where} answered 404 without the webservice's headers: PS_URL does not lead to a "
            f"PrestaShop webservice", resolution="check PS_URL (host and the /api path) and that the webservice "
                                                 "is enabled", **kwargs)
    if status == 404:
        return PrestaShopNotFound(f"PrestaShop: not found ({where}): {said}",
                                  resolution="the object was deleted or never existed", **kwargs)
    if status in (401, 403):
        return PrestaShopAuthError(
            f"PrestaShop refused the key ({status}, {where}): {said}",
            resolution="check the webservice key, that it is active, its permissions on this resource and "
                       "method, and its shop association; behind CGI/FastCGI set use_ws_key_param",
            **kwargs)
    if status == 405:
        return PrestaShopMethodNotAllowed(f"PrestaShop: method not allowed ({where}): {said}",
                                          resolution="grant the method to the key, or use another call",
                                          **kwargs)
    if status == 429:
        return PrestaShopRateLimited(f"PrestaShop is throttling us (429, {where})",
                                     resolution="lower rate_per_second for this shop", **kwargs)
    if status >= 500:
        if code in PERMANENT_5XX_CODES:
            return PrestaShopPermanentError(f"PrestaShop rejected the data ({status}, {where}): {said}",
                                            resolution="fix the record; the shop will refuse it again",
                                            **kwargs)
        if status == 501:
            return PrestaShopPermanentError(f"PrestaShop: not implemented ({where}): {said}", **kwargs)
        return PrestaShopServerError(f"PrestaShop server error ({status}, {where}): {said}",
                                     resolution="retried automatically; check the shop's PHP error log if "
                                                "it persists", **kwargs)
    if status == 400:
        return PrestaShopBadRequest(f"PrestaShop: bad request ({where}): {said}",
                                    resolution="the request or the record does not fit the shop's schema",
                                    **kwargs)
    if status >= 400:
        return PrestaShopPermanentError(f"PrestaShop: HTTP {status} ({where}): {said}", **kwargs)
    return PrestaShopPermanentError(f"PrestaShop answered errors with HTTP {status} ({where}): {said}",
                                    **kwargs)


def from_webservice(headers: Mapping[str, str]) -> bool:
    """PrestaShop's webservice marks every answer: ``PSWS-Version`` (authenticated calls) and
    ``X-Powered-By: PrestaShop Webservice``. Either one is enough (a proxy may strip the second)."""
    return bool(headers.get("PSWS-Version")) or "prestashop" in str(headers.get("X-Powered-By", "")).lower()


def _first_code(errors: list[dict[str, Any]]) -> int | None:
    for error in errors:
        try:
            return int(error.get("code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return None
