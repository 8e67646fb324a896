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
