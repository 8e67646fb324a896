"""Each bad configuration gives one line that names the variable (or file and key) and what is wrong; the
processes (CLI, receiver under gunicorn, worker/beat start-up) exit non-zero with that line and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from integration.config import PROJECT_ROOT, load_settings
from integration.errors import ConfigurationError
from integration.startup import check

IONAPI = str(PROJECT_ROOT / "tests" / "fixtures" / "infor" / "ionapi-sample.ionapi")
BIN = Path(sys.executable).parent


@pytest.fixture
def good_env(sqlite_url: str, redis_url: str) -> dict[str, str]:
    return {"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url, "PS_KEY": "K" * 32, "IONAPI_FILE": IONAPI,
            "WEBHOOK_SECRET": "a-webhook-secret", "PS_URL": "http://127.0.0.1:9/api"}


def _error(env: dict[str, str], process: str = "worker") -> str:
    with pytest.raises(ConfigurationError) as caught:
        check(load_settings(env), process=process)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_a_good_configuration_passes_every_check(good_env):
    for process in ("worker", "beat", "receiver"):
        check(load_settings(good_env), process=process)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"PS_RATE": "abc"}, "PS_RATE='abc': not a number"),
        ({"PS_RATE": "0"}, "PS_RATE='0': must be more than 0"),
        ({"POLL_OVERLAP_SECONDS": "5m"}, "POLL_OVERLAP_SECONDS='5m': not a whole number of seconds"),
        ({"SWEEPER_STALE_SECONDS": "-1"}, "SWEEPER_STALE_SECONDS='-1': must be more than 0"),
        ({"PS_TIMEOUT": "nan"}, "PS_TIMEOUT='nan': not a number of seconds"),
        ({"PS_USE_WS_KEY_PARAM": "maybe"}, "PS_USE_WS_KEY_PARAM='maybe': not a yes/no value"),
        ({"PSINFOR_STEPS_TOGETHER": "maybe"}, "PSINFOR_STEPS_TOGETHER='maybe': not a yes/no value"),
        ({"PS_URL": "shop.example.com/api"}, "PS_URL='shop.example.com/api': not an http(s) URL"),
        ({"PS_TIMEZONE": "Paris"}, "PS_TIMEZONE='Paris': not a time zone"),
        ({"PS_ID_SHOP": "0"}, "PS_ID_SHOP='0': must be at least 1"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD': use one of DEBUG, INFO"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379': not a Redis URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL='not a url': not a database URL"),
        ({"PSINFOR_VISIBILITY_TIMEOUT": "600"}, "PSINFOR_VISIBILITY_TIMEOUT=600: too small"),
        ({"PSINFOR_VISIBILITY_TIMEOUT": "2h"}, "PSINFOR_VISIBILITY_TIMEOUT='2h': not a whole number of seconds"),
        ({"PSINFOR_RETRY_BACKOFF_MAX": "1", "PSINFOR_RETRY_BACKOFF": "2"}, "PSINFOR_RETRY_BACKOFF_MAX=1: must be"),
        ({"PS_KEY_FILE": "/nonexistent/ps_key", "PS_KEY": ""}, "PS_KEY_FILE=/nonexistent/ps_key: cannot be read"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(good_env, overrides, expected):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**good_env, **overrides})
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_password_in_a_bad_url_is_never_echoed(good_env):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**good_env, "REDIS_URL": "http://user:hunter22@redis:6379/0"})
    assert "hunter22" not in str(caught.value) and "user:***@" in str(caught.value)


def test_start_up_refuses_what_would_dead_letter_every_order(good_env, tmp_path):
    assert _error({**good_env, "PS_KEY": ""}).startswith(
        "connection 'default': no PrestaShop webservice key (set PS_KEY")
    broken = tmp_path / "broken.ionapi"
    broken.write_text('{"ti": "T", "cs": "SECRET-PART"')
    message = _error({**good_env, "IONAPI_FILE": str(broken)})
    assert message.startswith(f"connection 'default': .ionapi file {broken} is not valid JSON")
    assert "SECRET-PART" not in message
    assert "cannot be read" in _error({**good_env, "IONAPI_FILE": str(tmp_path / "missing.ionapi")})
    assert _error({**good_env, "WEBHOOK_SECRET": ""}, process="receiver").startswith(
        "connection 'default': no webhook secret (set WEBHOOK_SECRET")
    with pytest.raises(ConfigurationError, match=r"^PSINFOR_POLL_INTERVAL='1m': not a number of seconds"):
        load_settings({**good_env, "PSINFOR_POLL_INTERVAL": "1m"})


def test_a_mapping_typo_is_named_by_file_and_key(good_env, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", mappings)
    orders = mappings / "orders.yaml"
    orders.write_text(orders.read_text() + "\nnot_a_key_of_orders: 1\n")
    message = _error({**good_env, "MAPPINGS_DIR": str(mappings)})
    assert message.startswith(f"mapping {orders}: "), message
    assert "not_a_key_of_orders" in message


def test_unreachable_database_and_redis_name_the_cause(good_env):
    message = _error({**good_env, "DATABASE_URL": "postgresql+psycopg://psinfor:pw-9x@127.0.0.1:9/psinfor"})
    assert message == ("DATABASE_URL=postgresql+psycopg://psinfor:***@127.0.0.1:9/psinfor: cannot connect "
                       "(connection refused: nothing listens on that host and port)")
    # The receiver and the CLI need Redis to start; a worker or beat waits for it (it reconnects) instead.
    assert _error({**good_env, "REDIS_URL": "redis://no-such-host.invalid:6379/0"}, "receiver") == (
        "REDIS_URL=redis://no-such-host.invalid:6379/0: cannot connect (host unknown: the name does not resolve)")


def test_pending_migrations_refuse_the_start(good_env, tmp_path):
    assert "pending migration" in _error({**good_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})


def _yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "psinfor.yaml"
    path.write_text(text)
    return str(path)


def test_each_connection_needs_a_webhook_secret_of_its_own(good_env, tmp_path):
    two = _yaml(tmp_path, "connections:\n  default: {}\n  outlet: {prestashop: {id_shop: 2}}\n")
    settings = load_settings({**good_env, "PSINFOR_CONFIG": two})
    assert not settings.connection("outlet").webhook_secret  # no silent fall-back to WEBHOOK_SECRET
    assert _error({**good_env, "PSINFOR_CONFIG": two}, process="receiver") == (
        "connection 'outlet': no webhook secret of its own (give it webhook_secret_env in PSINFOR_CONFIG; "
        "WEBHOOK_SECRET serves only the connection 'default')")
    shared = _yaml(tmp_path, "connections:\n  default: {}\n  outlet: {webhook_secret_env: WEBHOOK_SECRET}\n")
    with pytest.raises(ConfigurationError, match="share one webhook secret"):
        load_settings({**good_env, "PSINFOR_CONFIG": shared})
    typo = _yaml(tmp_path, "connections:\n  default: {prestashop: {rate: 5}}\n")
    with pytest.raises(ConfigurationError, match=r"connections.default.prestashop in PSINFOR_CONFIG: unknown key"):
        load_settings({**good_env, "PSINFOR_CONFIG": typo})
    bad_value = _yaml(tmp_path, "connections:\n  default: {infor: {rate_per_second: fast}}\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**good_env, "PSINFOR_CONFIG": bad_value})
    assert str(caught.value) == ("connections.default.infor.rate_per_second in PSINFOR_CONFIG='fast': not a number")


# -- the processes ------------------------------------------------------------------------------------------------

def _run(cmd: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PS_", "PSINFOR_", "IONAPI", "WEBHOOK"))}
    full.update(env)
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=timeout, cwd=str(PROJECT_ROOT))


def test_the_cli_prints_one_line_and_exits_non_zero(good_env):
    done = _run([str(BIN / "psinfor"), "events", "list"], {**good_env, "POLL_OVERLAP_SECONDS": "5m"})
    assert done.returncode == 78
    assert done.stderr.strip() == "Error: POLL_OVERLAP_SECONDS='5m': not a whole number of seconds (e.g. 300)"
    down = _run([str(BIN / "psinfor"), "events", "list"],
                {**good_env, "DATABASE_URL": "postgresql+psycopg://psinfor@127.0.0.1:9/psinfor"})
    assert down.returncode == 69 and "Traceback" not in down.stderr
    assert down.stderr.strip() == ("Error: the database (DATABASE_URL) did not answer: connection refused: nothing "
                                   "listens on that host and port")


def test_worker_and_beat_start_up_check_exits_with_one_line(good_env):
    code = "from integration.startup import checked_settings; checked_settings('worker')"
    done = _run([sys.executable, "-c", code], {**good_env, "PS_KEY": ""})
    assert done.returncode == 78 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("psinfor: connection 'default': no PrestaShop webservice key (set PS_KEY, or "
                                   "PS_KEY_FILE)")


def test_the_receiver_refuses_to_start_with_one_line(good_env, tmp_path):
    broken = tmp_path / "broken.ionapi"
    broken.write_text("not json")
    done = _run([str(BIN / "gunicorn"), "-c", "python:integration.web.gunicorn_conf", "-b", "127.0.0.1:0",
                 "tasks.wsgi:create_app()"], {**good_env, "IONAPI_FILE": str(broken)})
    assert done.returncode == 4, done.stderr  # gunicorn's "app failed to load": it halts, no respawn loop
    assert "Traceback" not in done.stderr
    assert f"psinfor: connection 'default': .ionapi file {broken} is not valid JSON" in done.stderr
