"""Webhooks are bound to their connection: a webhook signed for one connection and replayed to another is
refused, and so is one naming another shop; nothing is stored or published for either."""

from __future__ import annotations

import json
import uuid

import pytest

from integration.connectors.prestashop import webhooks
from integration.store.repository import Store
from integration.web.app import create_app

SECRETS = {"default": "default-secret-1", "outlet": "outlet-secret-2"}


@pytest.fixture
def two_shops(make_settings, celery_app, clean_broker, tmp_path):
    from tasks.dispatch import enqueue

    config = tmp_path / "psinfor.yaml"
    config.write_text("""
connections:
  default: {prestashop: {id_shop: 1}}
  outlet:
    prestashop: {id_shop: 2}
    webhook_secret_env: OUTLET_WEBHOOK_SECRET
""")
    settings = make_settings(PSINFOR_CONFIG=str(config), WEBHOOK_SECRET=SECRETS["default"],
                             OUTLET_WEBHOOK_SECRET=SECRETS["outlet"])
    return create_app(settings, enqueue=enqueue).test_client(), Store(settings.database_url), clean_broker


def _signed(connection: str, shop_id: int, order_id: int = 7) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": "order.created", "shop_id": shop_id, "id_order": order_id}).encode()
    return body, webhooks.sign_headers(SECRETS[connection], str(uuid.uuid4()), body)


def _path(connection: str) -> str:
    return "/webhooks/prestashop" if connection == "default" else f"/webhooks/prestashop/{connection}"


def test_each_connection_accepts_its_own_webhooks(two_shops):
    client, store, broker = two_shops
    for connection, shop in (("default", 1), ("outlet", 2)):
        body, headers = _signed(connection, shop)
        response = client.post(_path(connection), data=body, headers=headers)
        assert response.status_code == 202, response.json
        assert store.get_event(response.json["event_id"]).connection == connection
    assert broker.queue_length("orders") == 2


@pytest.mark.parametrize(("signed_for", "sent_to"), [("outlet", "default"), ("default", "outlet")])
def test_a_webhook_replayed_to_another_connection_is_refused(two_shops, signed_for, sent_to):
    client, store, broker = two_shops
    body, headers = _signed(signed_for, shop_id=1 if signed_for == "default" else 2)
    assert client.post(_path(signed_for), data=body, headers=headers).status_code == 202  # the original
    replayed = client.post(_path(sent_to), data=body, headers=headers)  # same bytes, same headers
    assert replayed.status_code == 401 and replayed.json["detail"] == "signature does not match"
    assert store.status_counts() == {"queued": 1}
    assert broker.queue_length("orders") == 1


def test_a_webhook_for_another_shop_is_refused_even_when_signed(two_shops):
    client, store, broker = two_shops
    body, headers = _signed("outlet", shop_id=1)  # the outlet's secret, the main shop's id
    response = client.post(_path("outlet"), data=body, headers=headers)
    assert response.status_code == 403
    assert response.json == {"error": "webhook for another shop", "detail": (
        "shop_id 1 is not connection 'outlet''s shop (2); set prestashop.id_shop for this connection")}
    assert store.status_counts() == {} and broker.queue_length("orders") == 0
