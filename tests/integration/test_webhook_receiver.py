"""The receiver publishes to the real Redis broker: good requests make one inbox row and one message,
bad ones a clear 4xx and nothing at all."""

from __future__ import annotations

import json
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
    elif case == "oversized":
        body = json.dumps({"event": "order.created", "shop_id": 1, "id_order": 7,
                           "pad": "x" * MAX_BODY_BYTES}).encode()
    if case == "missing signature":
        response = client.post("/webhooks/prestashop", data=body, headers={"Content-Type": "application/json"})
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
