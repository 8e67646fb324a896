"""Webhook signing as our PrestaShop module does it (Standard Webhooks, HMAC-SHA256).

Headers ``Webhook-Id``, ``Webhook-Timestamp`` and ``Webhook-Signature: v1,<base64 HMAC>`` where the HMAC covers
``id + "." + timestamp + "." + raw_body``. The shop module (and the sandbox) signs; the receiver verifies in
constant time and refuses timestamps outside the replay window. Bodies carry ids only: the worker re-reads
the authoritative object through the webservice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

HEADER_ID = "Webhook-Id"
HEADER_TIMESTAMP = "Webhook-Timestamp"
HEADER_SIGNATURE = "Webhook-Signature"
REPLAY_WINDOW_SECONDS = 300
MAX_WEBHOOK_ID_LENGTH = 128

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
    if not webhook_id or not timestamp or not signature_header:
        raise SignatureError(f"missing {HEADER_ID}, {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header")
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise SignatureError(f"{HEADER_ID} is longer than {MAX_WEBHOOK_ID_LENGTH} characters")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError(f"{HEADER_TIMESTAMP} is not a unix timestamp") from None
    current = time.time() if now is None else now
    if abs(current - ts) > window:
        raise SignatureError(f"timestamp outside the {window}s replay window")
    expected = compute_signature(secret, webhook_id, timestamp, body)
    # Several space-separated signatures are allowed (secret rotation); any one may match.
    candidates = signature_header.split()
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise SignatureError("signature does not match")
