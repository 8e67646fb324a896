"""Alerts reach a local Slack-compatible webhook receiver (a real HTTP server) and a local SMTP server
(aiosmtpd), throttled and grouped: a burst of 50 dead letters is one alert, exactly once."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from integration.alerting import AlertSettings, run_alerts, send_digest_if_due
from integration.config import Secret
from integration.errors import ConfigurationError
from integration.store import models as m
from integration.store.repository import NewEvent, Store


class Receiver:
    """A local webhook receiver that records every POST body (and can be told to fail)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mailbox.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture
def throttle(redis_client: redis.Redis) -> tuple[redis.Redis, str]:
    return redis_client, f"alerts-{uuid.uuid4().hex[:8]}:"


def settings_for(receiver: Receiver, mailbox: Mailbox | None = None, **overrides: Any) -> AlertSettings:
    values: dict[str, Any] = {"webhook_url": Secret(receiver.url), "digest_hour": None,
                              "console_url": "https://psinfor.example/console"}
    if mailbox is not None:
        values.update(smtp_host="127.0.0.1", smtp_port=mailbox.port, mail_to=("ops@example.com",),
                      mail_from="psinfor@example.com")
    return AlertSettings(**{**values, **overrides})


def dead_letters(store: Store, count: int, message: str = "Item number LEGACY-LAMP does not exist") -> list[int]:
    ids = []
    for i in range(count):
        event_id, _ = store.add_event(NewEvent("default", "prestashop", "order", str(1000 + i), "order.created",
                                               f"k-{uuid.uuid4()}", {}))
        ids.append(store.dead_letter(event_id, step="load", task_name="psinfor.order.load",
                                     error={"type": "BatchOrderRejected", "message": message,
                                            "resolution": "create the item in M3, then replay"}, traceback=None))
    return ids


def test_a_burst_of_50_dead_letters_is_one_alert_exactly_once(sqlite_url: str, receiver: Receiver, mailbox: Mailbox,
                                                               throttle: tuple[redis.Redis, str]) -> None:
    store = Store(sqlite_url)
    dead_letters(store, 50)
    client, prefix = throttle
    settings = settings_for(receiver, mailbox)
    with ThreadPoolExecutor(4) as pool:  # several runs at once (two beats, a CLI check): one alert
        results = list(pool.map(lambda _: run_alerts(store, client, settings, key_prefix=prefix), range(4)))
    run_alerts(store, client, settings, key_prefix=prefix)
    assert len(receiver.bodies) == 1
    text = receiver.bodies[0]["text"]
    assert "50 new dead letter(s)" in text and "50 x order at load: Item number LEGACY-LAMP" in text
    assert "Resolution: create the item in M3" in text and "https://psinfor.example/console/dead-letters" in text
    assert len(mailbox.messages) == 1 and mailbox.messages[0]["Subject"] == "[psinfor] 50 new dead letter(s)"
    assert sorted(len(r.alerts) for r in results) == [0, 0, 0, 1]


def test_throttled_alerts_lose_nothing_and_group_what_came_meanwhile(sqlite_url: str, receiver: Receiver,
                                                                     throttle: tuple[redis.Redis, str]) -> None:
    store = Store(sqlite_url)
    client, prefix = throttle
    settings = settings_for(receiver)
    dead_letters(store, 1)
    run_alerts(store, client, settings, key_prefix=prefix)
    dead_letters(store, 3, "Customer PS0000009 is blocked")
    result = run_alerts(store, client, settings, key_prefix=prefix)
    assert len(receiver.bodies) == 1 and result.throttled == ["3 new dead letter(s)"]
    client.delete(f"{prefix}psinfor:alert:dead_letters")  # the throttle window ends
    run_alerts(store, client, settings, key_prefix=prefix)
    assert len(receiver.bodies) == 2 and "3 new dead letter(s)" in receiver.bodies[1]["text"]
    assert "LEGACY-LAMP" not in receiver.bodies[1]["text"]


def test_a_failed_send_is_tried_again_on_the_next_run(sqlite_url: str, receiver: Receiver,
                                                      throttle: tuple[redis.Redis, str]) -> None:
    store = Store(sqlite_url)
    client, prefix = throttle
    dead_letters(store, 2)
    receiver.status = 500
    assert run_alerts(store, client, settings_for(receiver), key_prefix=prefix).alerts == []
    receiver.status = 200
    assert run_alerts(store, client, settings_for(receiver), key_prefix=prefix).alerts == ["2 new dead letter(s)"]
    assert "2 new dead letter(s)" in receiver.bodies[-1]["text"]


def test_held_too_long_queues_backing_up_and_no_success_are_grouped_in_one_message(
        sqlite_url: str, receiver: Receiver, throttle: tuple[redis.Redis, str]) -> None:
    store = Store(sqlite_url)
    client, prefix = throttle
    held, _ = store.add_event(NewEvent("default", "prestashop", "order", "5", "order.created", "k-held", {}))
    store.set_status(held, m.HELD, error={"message": "order 5 held for review: 250 mugs"})
    store.add_event(NewEvent("default", "prestashop", "order", "6", "order.created", "k-new", {}))
    later = m.utcnow() + timedelta(minutes=90)  # an hour and a half on
    settings = settings_for(receiver, held_minutes=60, queue_max=100, no_success_minutes={"order": 30})
    store.add_event(NewEvent("default", "prestashop", "order", "7", "order.created", "k-arrived", {}))
    result = run_alerts(store, client, settings, key_prefix=prefix, now=later,
                        queue_depths=lambda: {"orders": 2500, "status": 3})
    assert len(receiver.bodies) == 1
    text = receiver.bodies[0]["text"]
    assert "held for review longer than 60 min" in text and "250 mugs" in text
    assert "queue orders: 2500 messages waiting" in text and "status" not in text.split("queue")[-1]
    assert "flow order (default): no success for 30 min" in text  # events came 90 minutes ago, none succeeded
    assert len(result.alerts) == 3
    client.delete(*client.keys(f"{prefix}*"))
    store.add_event(NewEvent("default", "prestashop", "order", "8", "order.created", "k-late", {}))
    result = run_alerts(store, client, settings, key_prefix=prefix, now=m.utcnow() + timedelta(minutes=1))
    assert result.alerts == [] and result.throttled == []  # nothing held for an hour, the flow is a minute old
    result = run_alerts(store, client, settings_for(receiver, no_success_minutes={"*": 0.5}), key_prefix=prefix,
                        now=m.utcnow() + timedelta(minutes=1))
    assert result.alerts == ["flow order (default): no success for 0.5 min"]
    ok, _ = store.add_event(NewEvent("default", "prestashop", "order", "9", "order.created", "k-ok", {}))
    store.set_status(ok, m.SUCCEEDED)
    client.delete(*client.keys(f"{prefix}*"))
    result = run_alerts(store, client, settings_for(receiver, no_success_minutes={"*": 0.5}), key_prefix=prefix,
                        now=m.utcnow() + timedelta(minutes=1))
    assert result.alerts == []  # nothing arrived since the last success


def test_the_daily_digest_goes_once_a_day_after_its_hour(sqlite_url: str, receiver: Receiver, mailbox: Mailbox,
                                                         throttle: tuple[redis.Redis, str]) -> None:
    store = Store(sqlite_url)
    client, prefix = throttle
    dead_letters(store, 2)
    held, _ = store.add_event(NewEvent("default", "prestashop", "order", "5", "order.created", "k-held", {}))
    store.set_status(held, m.HELD, error={"message": "awaiting payment"})
    settings = settings_for(receiver, mailbox, digest_hour=7)
    morning = m.utcnow().replace(hour=6, minute=0)
    assert not send_digest_if_due(store, client, settings, key_prefix=prefix, now=morning)
    later = morning.replace(hour=8)
    assert send_digest_if_due(store, client, settings, key_prefix=prefix, now=later)
    assert not send_digest_if_due(store, client, settings, key_prefix=prefix, now=later.replace(hour=9))
    text = receiver.bodies[-1]["text"]
    assert "daily digest" in text and "default/order: dead 2, held 1" in text
    assert "New dead letters: 2" in text and "awaiting payment" in text
    assert mailbox.messages[-1]["Subject"].startswith("[psinfor] daily digest")


def test_settings_come_from_yaml_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "psinfor.yaml"
    config.write_text("alerting:\n  webhook_url: https://hooks.example/abc\n  mail_to: [a@example.com]\n"
                      "  smtp_host: mail.example\n  held_minutes: 30\n  no_success_minutes: {order: 120}\n")
    settings = AlertSettings.load({"PSINFOR_CONFIG": str(config), "PSINFOR_ALERT_THROTTLE_SECONDS": "60",
                                   "PSINFOR_ALERT_SMTP_PASSWORD": "s3cret", "PSINFOR_ALERT_DIGEST_HOUR": "off"})
    assert settings.channels == ["webhook", "email"] and settings.held_minutes == 30
    assert settings.throttle_seconds == 60 and settings.digest_hour is None
    assert settings.no_success_for("order") == 120 and settings.no_success_for("order_status") == 0
    assert "s3cret" not in repr(settings) and "hooks.example" not in repr(settings)
    with pytest.raises(ConfigurationError, match="alerting settings"):
        AlertSettings.load({"PSINFOR_ALERT_QUEUE_MAX": "lots"})
    assert AlertSettings.load({}).channels == []


def test_beat_runs_the_alerts() -> None:
    from integration.flows.registry import FLOWS
    from tasks.maintenance import alerts_task
    from tasks.routing import beat_schedule

    assert beat_schedule(FLOWS.values(), {})["alerts"]["task"] == alerts_task.name == "psinfor.maintenance.alerts"
