"""Webhook signing as our PrestaShop module does it (Standard Webhooks, HMAC-SHA256).

Headers ``Webhook-Id``, ``Webhook-Timestamp`` and ``Webhook-Signature: v1,<base64 HMAC>`` where the HMAC covers
``id + "." + timestamp + "." + raw_body``. The shop module (and the sandbox) signs; the receiver verifies in
constant time and refuses timestamps outside the replay window. Bodies carry ids only: the worker re-reads
the authoritative object through the webservice.

Invariant: the cost of a request nobody signed is bounded by one HMAC over at most the body limit. The headers'
sizes and formats are checked first (no big-number arithmetic on a 300-digit timestamp), then the HMAC, and only
a signed body is parsed, with its nesting depth and number lengths bounded before the JSON parser sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

HEADER_ID = "Webhook-Id"
HEADER_TIMESTAMP = "Webhook-Timestamp"
HEADER_SIGNATURE = "Webhook-Signature"
REPLAY_WINDOW_SECONDS = 300
MAX_WEBHOOK_ID_LENGTH = 128
MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970: 10 digits until the year 2286
MAX_SIGNATURE_HEADER_LENGTH = 1024  # "v1,<44 base64 characters>", a few of them during a secret rotation
MAX_SIGNATURES = 8
MAX_JSON_DEPTH = 16  # the body is a flat object of ids; a little room for what a newer module may add
MAX_NUMBER_DIGITS = 40  # ids are 64-bit (19 digits); longer numbers are refused before int() sees them
_WEBHOOK_ID = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
_TIMESTAMP = re.compile(rf"[0-9]{{1,{MAX_TIMESTAMP_DIGITS}}}")
_SIGNATURE = re.compile(r"v1,[A-Za-z0-9+/=]{1,200}")

# The shop module's event catalogue (docs/contracts.md): event name -> the body field that carries the record's
# id. Flows declare the events they handle (``Flow.events``); the rest are kept in the inbox as ``pending_flow``.
EVENTS: dict[str, str] = {
    "order.created": "id_order",
    "order.status_changed": "id_order",
    "order.refunded": "id_order",  # a credit slip or refund: id_order_slip comes with it
    "customer.created": "id_customer",
    "customer.updated": "id_customer",
    "address.created": "id_address",
    "address.updated": "id_address",
    "address.deleted": "id_address",
    "product.updated": "id_product",
    "combination.updated": "id_product_attribute",
    "stock.changed": "id_product",
}
# Ids that may come along with any event (the address's customer, the slip of a refund, the new order state).
EXTRA_ID_FIELDS: tuple[str, ...] = ("id_customer", "id_product", "id_product_attribute", "id_order_slip", "new_state")
# Ids that may be 0 (a product without combinations has id_product_attribute 0).
ZERO_ALLOWED: frozenset[str] = frozenset({"id_product_attribute"})
# The "send test event" of the shop module: verified, answered, never stored.
PING = "ping"


class SignatureError(ValueError):
    """The request is not signed by someone holding the shared secret, or is too old."""


class BodyError(ValueError):
    """A signed body that is not the JSON object the shop module sends (too deep, a huge number, not UTF-8)."""


def secret_key(secret: str) -> bytes:
    """The HMAC key: a Standard Webhooks ``whsec_<base64>`` secret is base64-decoded (as the libraries that
    implement the spec do); any other secret is used as its UTF-8 bytes (as our PHP module does)."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            pass
    return secret.encode()


def compute_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secret: str, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        HEADER_ID: webhook_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: compute_signature(secret, webhook_id, ts, body),
        "Content-Type": "application/json",
    }


def check_headers(webhook_id: str | None, timestamp: str | None, signature_header: str | None, *,
                  now: float | None = None, window: int = REPLAY_WINDOW_SECONDS) -> None:
    """The cheap checks, before any HMAC: presence, sizes and formats of the three headers, the replay window."""
    if not webhook_id or not timestamp or not signature_header:
        raise SignatureError(f"missing {HEADER_ID}, {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header")
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise SignatureError(f"{HEADER_ID} is longer than {MAX_WEBHOOK_ID_LENGTH} characters")
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise SignatureError(f"{HEADER_ID} must be printable ASCII characters without spaces")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"{HEADER_TIMESTAMP} is not a unix timestamp (at most {MAX_TIMESTAMP_DIGITS} digits)")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > window:
        raise SignatureError(f"timestamp outside the {window}s replay window")
    if len(signature_header) > MAX_SIGNATURE_HEADER_LENGTH:
        raise SignatureError(f"{HEADER_SIGNATURE} is longer than {MAX_SIGNATURE_HEADER_LENGTH} characters")
    candidates = signature_header.split()
    if not 0 < len(candidates) <= MAX_SIGNATURES or not all(_SIGNATURE.fullmatch(c) for c in candidates):
        raise SignatureError(f"{HEADER_SIGNATURE} must be up to {MAX_SIGNATURES} space-separated 'v1,<base64>'")


def verify(
    secret: str,
    webhook_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    window: int = REPLAY_WINDOW_SECONDS,
) -> None:
    """Raise ``SignatureError`` unless the request is authentic and fresh."""
    check_headers(webhook_id, timestamp, signature_header, now=now, window=window)
    assert webhook_id is not None and timestamp is not None and signature_header is not None
    expected = compute_signature(secret, webhook_id, timestamp, body).encode()
    # Several space-separated signatures are allowed (secret rotation); any one may match.
    if not any(hmac.compare_digest(expected, c.encode()) for c in signature_header.split()):
        raise SignatureError("signature does not match")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than ``limit``: strings are removed first (a bracket in a string is
    text), then only brackets are looked at. Linear; the Python loop runs only when there are more openers
    than the limit."""
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if len(skeleton) <= 2 * limit:
        return False
    depth = 0
    for ch in skeleton:
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BodyError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BodyError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BodyError("a number is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise BodyError(f"{name} is not JSON")


def load_body(raw: bytes) -> dict[str, Any]:
    """The signed body as a dict, or ``BodyError``: UTF-8, nested at most ``MAX_JSON_DEPTH`` levels, numbers of
    at most ``MAX_NUMBER_DIGITS`` characters, no NaN/Infinity, an object at the top."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8") from None
    if json_depth_exceeds(text):
        raise BodyError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except BodyError:
        raise
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BodyError(f"not JSON: {reason}") from None
    if not isinstance(body, dict):
        raise BodyError("the body must be a JSON object")
    return body
