"""Settings and secrets: secrets never print themselves; bad settings are clear errors; logs are scrubbed."""

from __future__ import annotations

import pytest

from integration.config import Secret, load_settings
from integration.errors import ConfigurationError
from integration.observability import scrub


def test_secrets_never_show_themselves():
    secret = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret) and "s3cr3t" not in f"{secret}"
    assert secret.reveal() == "s3cr3t-value"
    settings = load_settings({"PS_KEY": "KEY123", "WEBHOOK_SECRET": "zq-9x7", "DATABASE_URL": "sqlite://"})
    assert "KEY123" not in repr(settings) and "zq-9x7" not in repr(settings)


def test_secret_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text("FROMFILE\n")
    settings = load_settings({"PS_KEY_FILE": str(path)})
    assert settings.connection().prestashop.key.reveal() == "FROMFILE"
    with pytest.raises(ConfigurationError, match="PS_KEY_FILE"):
        load_settings({"PS_KEY_FILE": str(tmp_path / "missing")})


def test_several_connections_from_yaml(tmp_path):
    config = tmp_path / "psinfor.yaml"
    config.write_text("""
connections:
  default: {prestashop: {url: "https://a.example/api"}, infor: {cono: "100", divi: "AAA"}}
  outlet:
    prestashop: {url: "https://b.example/api/", key_env: OUTLET_KEY, timezone: Europe/Berlin}
    infor: {cono: "200", divi: "BBB"}
    webhook_secret_env: OUTLET_SECRET
""")
    settings = load_settings({"PSINFOR_CONFIG": str(config), "OUTLET_KEY": "k2", "OUTLET_SECRET": "s2"})
    outlet = settings.connection("outlet")
    assert outlet.prestashop.url == "https://b.example/api" and outlet.prestashop.key.reveal() == "k2"
    assert (outlet.infor.cono, outlet.infor.divi, outlet.webhook_secret.reveal()) == ("200", "BBB", "s2")
    with pytest.raises(ConfigurationError, match="unknown connection 'nope'"):
        settings.connection("nope")


def test_bad_config_file_is_a_clear_error(tmp_path):
    config = tmp_path / "psinfor.yaml"
    config.write_text("- just\n- a list\n")
    with pytest.raises(ConfigurationError, match="top level must be a mapping"):
        load_settings({"PSINFOR_CONFIG": str(config)})


def test_logs_and_sentry_events_are_scrubbed():
    event = {"request": {"headers": {"Authorization": "Basic abc", "Webhook-Signature": "v1,x"}},
             "extra": {"ws_key": "K", "cs": "client-secret", "sask": "x", "id_customer": 7, "metrics": 1,
                       "access_token": "t", "event_id": 3}}
    clean = scrub(event)
    assert clean["request"]["headers"]["Authorization"] == "[scrubbed]"
    assert clean["extra"]["ws_key"] == clean["extra"]["cs"] == clean["extra"]["sask"] == "[scrubbed]"
    assert clean["extra"]["access_token"] == "[scrubbed]"
    assert (clean["extra"]["id_customer"], clean["extra"]["metrics"], clean["extra"]["event_id"]) == (7, 1, 3)


def test_every_credential_is_redacted_from_text():
    from integration.observability import redact_text

    Secret("known-secret-value-42")
    cases = {
        "GET /api/orders/5?ws_key=ABCDEF123&display=full": "GET /api/orders/5?ws_key=***&display=full",
        "postgresql+psycopg://psinfor:hunter2@db/psinfor": "postgresql+psycopg://psinfor:***@db/psinfor",
        "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42": "https://***@o1.ingest.sentry.io/42",
        "baggage: sentry-trace_id=abc,sentry-public_key=0123456789abcdef,sentry-release=1":
            "baggage: sentry-trace_id=abc,sentry-public_key=***,sentry-release=1",
        "Authorization: Basic QUJDREVG": "Authorization: Basic ***",
        "{'Authorization': 'Bearer eyJhbGciOi'}": "{'Authorization': 'Bearer ***'}",
        "grant_type=password&client_secret=s3&password=p4": "grant_type=password&client_secret=***&password=***",
        "the value known-secret-value-42 leaked": "the value *** leaked",
        "dedupe_key=webhook:abc event_id=3 postgresql://psinfor@db/x": "dedupe_key=webhook:abc event_id=3 "
                                                                       "postgresql://psinfor@db/x",
    }
    for text, expected in cases.items():
        assert redact_text(text) == expected


def test_library_log_lines_are_redacted_on_the_root_handler():
    import io
    import json
    import logging

    from integration.observability import make_handler

    stream = io.StringIO()
    logger = logging.getLogger("urllib3.connectionpool.test")
    logger.addHandler(make_handler("json", stream))
    logger.propagate = False
    try:
        logger.warning("Retrying (%r) after connection broken by '%r': %s", "Retry(total=2)", "NewConnectionError",
                       "/api/orders/7?ws_key=SECRETKEY0000")
        try:
            raise RuntimeError("boom at http://shop/api/x?ws_key=SECRETKEY0000")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
    text = stream.getvalue()
    assert "SECRETKEY0000" not in text and text.count("ws_key=***") >= 3  # message, exception, source line
    assert all(json.loads(line) for line in text.splitlines())


def test_gunicorn_access_lines_are_fields():
    import io
    import json
    import logging

    from integration.observability import make_handler

    stream = io.StringIO()
    logger = logging.getLogger("gunicorn.access")
    logger.addHandler(make_handler("json", stream))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info('%(h)s "%(r)s" %(s)s', {"h": "10.0.0.1", "r": "POST /webhooks/prestashop HTTP/1.1",
                                           "m": "POST", "U": "/webhooks/prestashop", "s": "202", "B": 33,
                                           "D": 8200, "a": "PrestaShop"})
    finally:
        logger.handlers.clear()
    line = json.loads(stream.getvalue())
    assert (line["event"], line["method"], line["path"], line["status"], line["duration_ms"]) == (
        "request", "POST", "/webhooks/prestashop", 202, 8.2)
