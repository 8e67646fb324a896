"""The contract between the PHP module and the Python receiver: what the module signs (with its own classes, run
by php-cli) the receiver accepts, and a tampered, stale or wrongly keyed copy it refuses."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from integration.connectors.prestashop import webhooks
from integration.store.repository import Store
from integration.web.app import create_app
from tests.integration.conftest import WEBHOOK_SECRET
from tests.php.phptools import PHP_TESTS, run_php

SIGN = PHP_TESTS / "bin" / "sign.php"


def php_catalogue() -> dict[str, list[str]]:
    return dict(run_php(SIGN, None, "--catalogue"))


def php_sign(secret: str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """Bodies and headers exactly as the module builds and signs them."""
    signed = run_php(SIGN, {"secret": secret, "requests": list(requests)})
    return [{"body": s["body"].encode(), "headers": s["headers"]} for s in signed]


def sample_ids(fields: list[str]) -> dict[str, int]:
    return {name: 0 if name in webhooks.ZERO_ALLOWED else 10 + i for i, name in enumerate(fields)}


class Receiver:
    """The real receiver app (Flask test client) on the test store; what it publishes is collected."""

    def __init__(self, make_settings: Callable[..., Any], secret: str = WEBHOOK_SECRET):
        self.settings = make_settings(WEBHOOK_SECRET=secret)
        self.published: list[tuple[Any, ...]] = []
        self.client = create_app(self.settings, enqueue=lambda *args: self.published.append(args)).test_client()
        self.store = Store(self.settings.database_url)

    def post(self, signed: dict[str, Any], body: bytes | None = None, connection: str = "default") -> Any:
        return self.client.post(f"/webhooks/prestashop/{connection}", data=signed["body"] if body is None else body,
                                headers=signed["headers"])

    def stored(self) -> int:
        return sum(self.store.status_counts().values())


@pytest.fixture
def receiver(make_settings: Callable[..., Any]) -> Receiver:
    return Receiver(make_settings)


def test_the_module_sends_exactly_the_events_the_receiver_accepts():
    catalogue = php_catalogue()
    assert set(catalogue) == set(webhooks.EVENTS)
    for event, fields in catalogue.items():
        assert webhooks.EVENTS[event] in fields, event
        assert set(fields) <= set(webhooks.EVENTS.values()) | set(webhooks.EXTRA_ID_FIELDS), event


def test_every_event_signed_in_php_is_accepted_once_and_a_tampered_copy_refused(receiver: Receiver):
    catalogue = php_catalogue()
    now = int(time.time())
    requests = [{"event": event, "shop_id": 1, "ids": sample_ids(fields), "occurred_at": now}
                for event, fields in catalogue.items()]
    for request, signed in zip(requests, php_sign(WEBHOOK_SECRET, *requests), strict=True):
        answer = receiver.post(signed)
        assert answer.status_code == 202, (request["event"], answer.json)
        event = receiver.store.get_event(answer.json["event_id"])
        assert event is not None and event.event_type == request["event"]
        assert event.dedupe_key == f"webhook:{signed['headers'][webhooks.HEADER_ID]}"
        assert event.payload == json.loads(signed["body"])
        # the same delivery again (a retry of the same outbox row): accepted, not stored twice
        again = receiver.post(signed)
        assert again.status_code == 202 and again.json == {"event_id": event.id, "duplicate": True}
        # one byte changed under the same signature: refused
        tampered = signed["body"].replace(b'"shop_id":1', b'"shop_id":2')
        assert tampered != signed["body"]
        assert receiver.post(signed, body=tampered).status_code == 401
    assert receiver.stored() == len(catalogue)


def test_the_test_event_is_answered_and_never_stored(receiver: Receiver):
    [signed] = php_sign(WEBHOOK_SECRET, {"event": "ping", "shop_id": 1, "ids": {}})
    answer = receiver.post(signed)
    assert answer.status_code == 200 and answer.json["pong"] is True
    assert receiver.stored() == 0
    assert receiver.post(signed, body=signed["body"].replace(b"ping", b"pong")).status_code == 401


@pytest.mark.parametrize("secret", [
    "whsec_" + base64.b64encode(os.urandom(32)).decode(),  # Standard Webhooks form: the key is the decoded bytes
    "clé-secrète-ünïcode-0123456789",                       # any other secret: its UTF-8 bytes
    "whsec_this is not base64!",                            # not base64 after whsec_: used as it is, both sides
])
def test_both_languages_derive_the_same_signature(make_settings: Callable[..., Any], secret: str):
    request = {"event": "order.created", "shop_id": 1, "ids": {"id_order": 9}, "webhook_id": "msg_fixed",
               "timestamp": int(time.time())}
    [signed] = php_sign(secret, request)
    headers = signed["headers"]
    assert headers[webhooks.HEADER_SIGNATURE] == webhooks.compute_signature(
        secret, "msg_fixed", headers[webhooks.HEADER_TIMESTAMP], signed["body"])
    assert Receiver(make_settings, secret=secret).post(signed).status_code == 202


def test_a_stale_signature_or_another_secret_is_refused(receiver: Receiver):
    stale, other = php_sign(
        WEBHOOK_SECRET,
        {"event": "order.created", "shop_id": 1, "ids": {"id_order": 1}, "timestamp": int(time.time()) - 600},
    ) + php_sign("another-secret-0123456789", {"event": "order.created", "shop_id": 1, "ids": {"id_order": 1}})
    assert receiver.post(stale).status_code == 401
    assert receiver.post(other).status_code == 401
    assert receiver.stored() == 0


def test_an_unknown_connection_is_a_404_the_module_does_not_retry(receiver: Receiver):
    [signed] = php_sign(WEBHOOK_SECRET, {"event": "order.created", "shop_id": 1, "ids": {"id_order": 1}})
    assert receiver.post(signed, connection="nope").status_code == 404
