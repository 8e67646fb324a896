"""The receiver publishes to the real Redis broker: good requests make one inbox row and one message,
bad ones a clear 4xx and nothing at all."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid

import pytest

from integration.connectors.prestashop import webhooks
from integration.store import models as m
from integration.store.repository import Store
from integration.web.app import MAX_BODY_BYTES, create_app
from tests.integration.conftest import WEBHOOK_SECRET


@pytest.fixture
def receiver(make_settings, celery_app, clean_broker):
    from tasks.dispatch import enqueue

    settings = make_settings()
    app = create_app(settings, enqueue=enqueue)
    return app.test_client(), Store(settings.database_url), clean_broker


def _post(client, body: bytes, *, secret: str = WEBHOOK_SECRET, webhook_id: str | None = None,
          timestamp: int | None = None, headers: dict | None = None):
    signed = webhooks.sign_headers(secret, webhook_id or str(uuid.uuid4()), body, timestamp=timestamp)
    signed.update(headers or {})
    return client.post("/webhooks/prestashop", data=body, headers=signed)


def _order_body(order_id: int = 7) -> bytes:
    return json.dumps({"event": "order.created", "shop_id": 1, "id_order": order_id,
                       "occurred_at": "2026-11-27T10:00:00+01:00"}).encode()


def test_valid_webhook_is_stored_and_enqueued_once(receiver):
    client, store, broker = receiver
    response = _post(client, _order_body(), webhook_id="delivery-1")
    assert response.status_code == 202, response.json
    event = store.get_event(response.json["event_id"])
    assert (event.entity, event.source_id, event.status) == ("order", "7", m.QUEUED)
    assert broker.queue_length("orders") == 1
    again = _post(client, _order_body(), webhook_id="delivery-1")
    assert again.status_code == 202 and again.json == {"event_id": event.id, "duplicate": True}
    assert broker.queue_length("orders") == 1


def test_event_without_a_flow_is_kept_not_enqueued(receiver):
    client, store, broker = receiver
    body = json.dumps({"event": "stock.changed", "shop_id": 1, "id_product": 3, "id_product_attribute": 0}).encode()
    response = _post(client, body)
    assert response.status_code == 202
    assert store.get_event(response.json["event_id"]).status == m.PENDING_FLOW
    assert broker.queue_length("orders") == 0


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong secret", 401, "invalid signature"),
        ("expired timestamp", 401, "invalid signature"),
        ("missing signature", 401, "invalid signature"),
        ("not json", 400, "body is not JSON"),
        ("json array", 400, "body must be a JSON object"),
        ("unknown event", 422, "invalid webhook body"),
        ("missing id", 422, "invalid webhook body"),
        ("id as string", 422, "invalid webhook body"),
        ("oversized", 413, "body too large"),
        ("id of 65 digits", 400, "body is not JSON"),
        ("id over 64 bits", 422, "invalid webhook body"),
        ("id as a boolean", 422, "invalid webhook body"),
        ("json 2000 levels deep", 400, "body is not JSON"),
        ("NaN", 400, "body is not JSON"),
        ("not utf-8", 400, "body is not JSON"),
        ("timestamp of 320 digits", 401, "invalid signature"),
        ("unicode digits in the timestamp", 401, "invalid signature"),
        ("id with a space", 401, "invalid signature"),
        ("signature header of 5000 bytes", 401, "invalid signature"),
        ("another shop", 403, "webhook for another shop"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_enqueue_nothing(receiver, case, status, error):
    client, store, broker = receiver
    body = _order_body()
    kwargs: dict = {}
    if case == "wrong secret":
        kwargs["secret"] = "not-the-secret"
    elif case == "expired timestamp":
        kwargs["timestamp"] = int(time.time()) - 301
    elif case == "not json":
        body = b"id_order=7"
    elif case == "json array":
        body = b"[1, 2]"
    elif case == "unknown event":
        body = json.dumps({"event": "order.deleted", "shop_id": 1, "id_order": 7}).encode()
    elif case == "missing id":
        body = json.dumps({"event": "order.created", "shop_id": 1}).encode()
    elif case == "id as string":
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": "7"}).encode()
    elif case == "id of 65 digits":
        body = b'{"event": "order.created", "shop_id": 1, "id_order": ' + b"9" * 65 + b"}"
    elif case == "id over 64 bits":
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": 2**63}).encode()
    elif case == "id as a boolean":
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": True}).encode()
    elif case == "json 2000 levels deep":
        body = b'{"event": "order.created", "shop_id": 1, "id_order": 7, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    elif case == "NaN":
        body = b'{"event": "order.created", "shop_id": 1, "id_order": 7, "x": NaN}'
    elif case == "not utf-8":
        body = b'{"event": "order.created", "shop_id": 1, "id_order": 7, "x": "\xff"}'
    elif case == "another shop":
        body = json.dumps({"event": "order.created", "shop_id": 2, "id_order": 7}).encode()
    elif case == "oversized":
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": 7,
                           "pad": "x" * MAX_BODY_BYTES}).encode()
    if case == "missing signature":
        response = client.post("/webhooks/prestashop", data=body, headers={"Content-Type": "application/json"})
    elif case in ("timestamp of 320 digits", "unicode digits in the timestamp", "id with a space",
                  "signature header of 5000 bytes"):
        timestamp = {"timestamp of 320 digits": "9" * 320,
                     "unicode digits in the timestamp": "\u0661" * 10}.get(case, str(int(time.time())))
        webhook_id = "an id" if case == "id with a space" else "id-1"
        signature = webhooks.compute_signature(WEBHOOK_SECRET, webhook_id, timestamp, body)
        if case == "signature header of 5000 bytes":
            signature = " ".join([signature] * 110)
        response = client.post("/webhooks/prestashop", data=body, headers={
            webhooks.HEADER_ID: webhook_id, webhooks.HEADER_TIMESTAMP: timestamp,
            webhooks.HEADER_SIGNATURE: signature})
    else:
        response = _post(client, body, **kwargs)
    assert response.status_code == status
    assert response.json["error"] == error
    assert broker.queue_length("orders") == 0
    assert store.status_counts() == {}


def test_unknown_connection_is_404(receiver):
    client, _, broker = receiver
    body = _order_body()
    response = client.post("/webhooks/prestashop/nope", data=body,
                           headers=webhooks.sign_headers(WEBHOOK_SECRET, "x", body))
    assert response.status_code == 404
    assert broker.queue_length("orders") == 0


def test_health_and_readiness(receiver, make_settings):
    client, _, _ = receiver
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}
    broken = create_app(make_settings(REDIS_URL="redis://127.0.0.1:9/0")).test_client().get("/readyz")
    assert broken.status_code == 503 and broken.json["checks"]["redis"].startswith("error")


def test_one_log_line_per_webhook_with_id_event_and_outcome(receiver):
    from integration.observability import configure_structlog, make_handler

    configure_structlog()  # structlog through the standard library, as every process configures it
    client, _, _ = receiver
    lines = io.StringIO()
    handler = make_handler("json", lines)
    web_log = logging.getLogger("psinfor.web")
    web_log.addHandler(handler)
    web_log.setLevel(logging.INFO)
    try:
        _post(client, _order_body(), webhook_id="hook-1")
        _post(client, _order_body(), webhook_id="hook-1")
        _post(client, _order_body(), webhook_id="hook-2", secret="wrong")
    finally:
        web_log.removeHandler(handler)
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(r["webhook_id"], r.get("event_type"), r["outcome"], r["status"]) for r in records] == [
        ("hook-1", "order.created", "accepted", 202), ("hook-1", "order.created", "duplicate", 202),
        ("hook-2", None, "refused", 401)]
    assert records[0]["event"] == "webhook" and records[0]["event_id"] == records[1]["event_id"]


def test_a_store_that_does_not_answer_is_a_503_not_a_500(make_settings, celery_app, clean_broker):
    from tasks.dispatch import enqueue

    app = create_app(make_settings(DATABASE_URL="postgresql+psycopg://psinfor@127.0.0.1:9/psinfor"), enqueue=enqueue)
    response = _post(app.test_client(), _order_body())
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert clean_broker.queue_length("orders") == 0
