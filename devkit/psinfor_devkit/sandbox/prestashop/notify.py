"""Outgoing webhooks, sent the way our shop module sends them.

Ids only (``{"event", "shop_id", "id_order", "occurred_at"}``; the id field per event comes from
``webhooks.EVENTS``), HMAC-signed with Standard Webhooks headers, POSTed from background threads so the
request that caused the event is never slowed by the receiver. Failed deliveries are retried with
exponential backoff under the same ``Webhook-Id`` (receivers deduplicate on it), then counted as failed.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from integration.connectors.prestashop.webhooks import EVENTS, sign_headers

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    webhook_id: str = field(compare=False)
    event: str = field(compare=False)
    body: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)


class WebhookSender:
    def __init__(self, url: str | None = None, secret: str | None = None, *, shop_id: int = 1, workers: int = 4,
                 max_attempts: int = 12, timeout: float = 5.0):
        self.url = url
        self._secret = secret or ""
        self.shop_id = shop_id
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._queue: queue.PriorityQueue[_Delivery] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.counts = {"emitted": 0, "sent": 0, "failed": 0, "retries": 0, "skipped": 0}
        self.by_event: dict[str, int] = {}
        self._session = requests.Session()
        self._threads = [threading.Thread(target=self._run, name=f"ps-sandbox-webhooks-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r})"

    def configure(self, url: str | None, secret: str | None) -> None:
        with self._lock:
            self.url = url or None
            if secret is not None:
                self._secret = secret

    def emit(self, event: str, object_id: int) -> None:
        """Queue one event; without a configured URL it is counted as skipped (nobody listens)."""
        id_field = EVENTS.get(event)
        if id_field is None:
            raise ValueError(f"unknown webhook event {event!r}")
        with self._lock:
            self.counts["emitted"] += 1
            self.by_event[event] = self.by_event.get(event, 0) + 1
            if not self.url:
                self.counts["skipped"] += 1
                return
        body = json.dumps({"event": event, "shop_id": self.shop_id, id_field: int(object_id),
                           "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds")},
                          separators=(",", ":")).encode()
        self._queue.put(_Delivery(time.monotonic(), next(self._seq), str(uuid.uuid4()), event, body))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            wait = delivery.due - time.monotonic()
            if wait > 0:  # a retry not yet due: put it back and look again shortly
                self._queue.put(delivery)
                self._stop.wait(min(wait, 0.05))
                continue
            with self._lock:
                self._in_flight += 1
            try:
                self._deliver(delivery)
            finally:
                with self._lock:
                    self._in_flight -= 1

    def _deliver(self, delivery: _Delivery) -> None:
        url, secret = self.url, self._secret
        if not url:
            with self._lock:
                self.counts["skipped"] += 1
            return
        headers = sign_headers(secret, delivery.webhook_id, delivery.body)
        try:
            response = self._session.post(url, data=delivery.body, headers=headers, timeout=self.timeout)
            ok = 200 <= response.status_code < 300
            reason = str(response.status_code)
        except requests.RequestException as exc:
            ok, reason = False, type(exc).__name__
        if ok:
            with self._lock:
                self.counts["sent"] += 1
            return
        delivery.attempts += 1
        if delivery.attempts >= self.max_attempts or self._stop.is_set():
            with self._lock:
                self.counts["failed"] += 1
            log.warning("webhook %s %s given up after %d attempts (%s)", delivery.event, delivery.webhook_id,
                        delivery.attempts, reason)
            return
        with self._lock:
            self.counts["retries"] += 1
        delivery.due = time.monotonic() + min(30.0, 0.2 * 2 ** (delivery.attempts - 1))
        self._queue.put(delivery)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._queue.qsize() + self._in_flight

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook is delivered or given up (for tests and the demo)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.pending == 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"url": self.url, **self.counts, "pending": self._queue.qsize() + self._in_flight,
                    "by_event": dict(self.by_event)}

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._session.close()
