"""No secret anywhere: a full run with canary secrets, scanned for them.

Orders go through the real receiver (over HTTP, signed by the PrestaShop sandbox), an embedded Celery worker
and both sandboxes, with the shop's key sent as ``?ws_key=`` (so it is in every URL), PrestaShop dropping
connections and answering 503 (urllib3 retries and warns with the URL), Infor failing (retries) and one order
Infor refuses (a dead letter and a Sentry event). Sentry's DSN points at a local capture server. Then the CLI
prints the events and dead letters. The canaries (PrestaShop key, webhook secret, the .ionapi's client
secret and service-account keys, Sentry's key) must appear in none of: every log line of the run at DEBUG,
the CLI's output, every row of the store, every request Sentry sent.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from integration.store import models as m
from integration.store.db import get_engine
from tests.integration.conftest import wait_until

CANARY_PS_KEY = "CANARYPSKEY00000000000000000CAN1"
CANARY_WEBHOOK = "canary-webhook-secret-7f3a9e"
CANARY_CS = "canary-ionapi-client-secret-5d1e8c"
CANARY_SASK = "canary-ionapi-service-secret-9b2c4a"
CANARY_SAAK = "TENANT#canary-ionapi-access-key-3e7f"
CANARY_SENTRY = "c0ffee00c0ffee00c0ffee00ca9a11e5"
CANARIES = {"PrestaShop key": CANARY_PS_KEY, "webhook secret": CANARY_WEBHOOK, "ionapi cs": CANARY_CS,
            "ionapi sask": CANARY_SASK, "ionapi saak": CANARY_SAAK, "Sentry key": CANARY_SENTRY}


class SentryCapture:
    """A local stand-in for Sentry's ingest endpoint: keeps every request body (decompressed)."""

    def __init__(self) -> None:
        from psinfor_devkit.sandbox.server import serve_wsgi

        self.bodies: list[bytes] = []
        self.server = serve_wsgi(self._app)
        self.dsn = f"http://{CANARY_SENTRY}@127.0.0.1:{self.server.url.rsplit(':', 1)[1]}/42"

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        encoding = environ.get("HTTP_CONTENT_ENCODING", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        self.bodies.append(raw)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


@pytest.fixture
def sentry_capture() -> Iterator[SentryCapture]:
    capture = SentryCapture()
    yield capture
    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init()  # no DSN: Sentry off again for the rest of the session
    capture.server.stop()


@pytest.fixture
def canary_run(tmp_path, make_settings, runtime_for, celery_app, clean_broker, worker, sentry_capture):
    from sentry_sdk.integrations.celery import CeleryIntegration

    from integration.observability import configure_logging, init_sentry
    from integration.web.app import create_app
    from psinfor_devkit.sandbox.infor import start_infor_sandbox
    from psinfor_devkit.sandbox.infor.app import SandboxCredentials
    from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
    from psinfor_devkit.sandbox.server import serve_wsgi
    from tasks.dispatch import enqueue

    infor = start_infor_sandbox(port=0, credentials=SandboxCredentials("TENANT", "TENANT~canaryclient", CANARY_CS,
                                                                       CANARY_SAAK, CANARY_SASK))
    ps = start_prestashop_sandbox(port=0, key=CANARY_PS_KEY)
    settings = make_settings(PS_URL=f"{ps.url}/api", PS_KEY=CANARY_PS_KEY, PS_USE_WS_KEY_PARAM="1",
                             IONAPI_FILE=str(infor.write_ionapi(tmp_path / "canary.ionapi")),
                             WEBHOOK_SECRET=CANARY_WEBHOOK, SENTRY_DSN=sentry_capture.dsn, LOG_LEVEL="DEBUG",
                             LOG_FORMAT="json")
    runtime_for(settings)
    logs = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", "json", stream=logs, force=True)  # every library's records, at DEBUG
    init_sentry(settings.sentry_dsn.reveal(), integrations=[CeleryIntegration()])
    receiver = serve_wsgi(create_app(settings, enqueue=enqueue))
    requests.post(f"{ps.url}/_sandbox/webhooks", timeout=10,
                  json={"url": f"{receiver.url}/webhooks/prestashop", "secret": CANARY_WEBHOOK}).raise_for_status()
    try:
        yield ps, infor, receiver, settings, logs
    finally:
        receiver.stop()
        ps.stop()
        infor.stop()
        root.handlers[:], root.level = saved


def test_no_canary_in_logs_errors_dead_letters_sentry_or_cli_output(canary_run, sentry_capture):
    from integration.cli import main
    from integration.store.repository import Store

    ps, infor, _receiver, settings, logs = canary_run
    store = Store(settings.database_url)
    requests.post(f"{ps.url}/_sandbox/faults", json={"error_rate": 0.15, "error_status": 503, "drop_rate": 0.1},
                  timeout=10).raise_for_status()
    requests.post(f"{infor.url}/_sandbox/faults", json={"fail_next": 3, "error_status": 500},
                  timeout=10).raise_for_status()
    placed = [int(i) for i in requests.post(f"{ps.url}/_sandbox/orders", json={"count": 6}, timeout=30)
              .json()["orders"]]
    refused = requests.post(f"{ps.url}/_sandbox/orders", timeout=30, json={
        "count": 1, "lines": [{"product_id": 10, "combination_id": 0, "quantity": 1}]}).json()["orders"]
    placed += [int(i) for i in refused]

    def all_final() -> bool:
        events = [e for e in store.recent_events(limit=1000) if e.entity == "order"]
        done = {int(e.source_id) for e in events if e.status in m.FINAL_STATUSES}
        return done >= set(placed) and all(e.status in m.FINAL_STATUSES for e in events)

    wait_until(all_final, timeout=180)
    requests.delete(f"{ps.url}/_sandbox/faults", timeout=10)
    assert store.list_dead_letters(), "the run must produce a dead letter (the order Infor refuses)"

    runner = CliRunner()
    outputs = [runner.invoke(main, ["events", "list", "--limit", "100"]).output,
               runner.invoke(main, ["dlq", "list", "--all"]).output]
    for event in store.recent_events(limit=100):
        outputs.append(runner.invoke(main, ["events", "show", str(event.id)]).output)
    for letter in store.list_dead_letters(None):
        outputs.append(runner.invoke(main, ["dlq", "show", str(letter.id)]).output)

    rows = []
    with get_engine(settings.database_url).connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows += [repr(tuple(r)) for r in conn.execute(select(table))]

    import sentry_sdk

    sentry_sdk.flush(timeout=10)
    wait_until(lambda: sentry_capture.bodies, timeout=30)  # the dead letter's event reached "Sentry"
    sentry = [b.decode("utf-8", "replace") for b in sentry_capture.bodies]

    log_text = logs.getvalue()
    lines = log_text.splitlines()
    places = {"logs": log_text, "CLI output": "\n".join(outputs), "store": "\n".join(rows),
              "Sentry": "\n".join(sentry)}
    found = [f"{name} in {where}" for where, text in places.items() for name, value in CANARIES.items()
             if value in text]
    assert found == []
    assert len(lines) > 200 and all(json.loads(line) for line in lines)  # a real run, all of it JSON
    assert "ws_key=***" in log_text  # the key was in URLs the libraries logged, and was redacted there
