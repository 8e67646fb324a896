"""docker/compose.yaml is production-shaped: healthchecks, start order on health, restart policies, named volumes,
a Redis that never evicts and persists, migrations retried, only the proxy public, Flower never without auth;
its environment is a valid psinfor configuration. ``docker compose config`` validates it where a compose CLI
is installed; the structure checks below run everywhere."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.config import PROJECT_ROOT, load_settings

DOCKER = PROJECT_ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _compose_cli() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_a_compose_cli_accepts_the_file():
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose CLI here; the structure checks below still run")
    done = subprocess.run([*cli, "-f", str(DOCKER / "compose.yaml"), "config", "-q"], capture_output=True,
                          text=True, env={**os.environ, "PS_URL": "https://shop.example.com/api"}, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_long_running_service_restarts_and_reports_its_health(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service.get("restart"), f"{name} has no restart policy"
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["migrate"]["restart"].startswith("on-failure")


def test_start_order_waits_for_health_and_for_the_migrations(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat", "flower"):
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == depends["postgres"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    retry = " ".join(services["migrate"]["command"])
    assert "psinfor db upgrade" in retry and "seq 1 60" in retry and "sleep" in retry  # retried until it answers


def test_redis_never_evicts_and_persists_and_data_lives_in_named_volumes(compose):
    redis_command = compose["services"]["redis"]["command"]
    assert redis_command[redis_command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "--maxmemory" in redis_command
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    for name, mount in (("redis", "redis-data:/data"), ("postgres", "postgres-data:/var/lib/postgresql/data")):
        assert mount in compose["services"][name]["volumes"]
        assert mount.split(":")[0] in compose["volumes"]


def test_only_the_proxy_is_public_and_flower_needs_auth(compose):
    services = compose["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) == {"proxy", "flower"}
    assert all(p.startswith("127.0.0.1:") for p in published["flower"])
    flower = " ".join(services["flower"]["command"])
    assert "test -s /run/secrets/flower_basic_auth" in flower and "FLOWER_BASIC_AUTH=" in flower
    assert "flower_basic_auth" in services["flower"]["secrets"]
    nginx = (DOCKER / "nginx.conf").read_text()
    routed = re.findall(r"location\s+(=\s*)?(\S+)\s*{", nginx)
    assert {path for _, path in routed} == {"/webhooks/prestashop", "/proxy-health", "/"}
    assert re.search(r"location / {\s*#[^\n]*\n\s*return 404;", nginx)  # /readyz, /metrics: not public
    for directive in ("client_header_timeout", "client_body_timeout", "proxy_request_buffering on",
                      "client_max_body_size 64k"):
        assert directive in nginx


def test_the_receiver_runs_gunicorn_gthread_config(compose):
    web = compose["services"]["web"]
    assert web["command"][:3] == ["gunicorn", "-c", "python:integration.web.gunicorn_conf"]
    assert "ports" not in web and web["expose"] == ["8000"]
    assert "CMD" in web["healthcheck"]["test"][0] and "/readyz" in " ".join(web["healthcheck"]["test"])


def test_its_environment_is_a_valid_configuration(compose, tmp_path):
    env = {k: str(v) for k, v in compose["x-environment"].items()}
    env["PS_URL"] = "https://shop.example.com/api"
    for name, value in list(env.items()):
        if value.startswith("/run/secrets/"):
            secret = tmp_path / Path(value).name
            secret.write_text("" if "SENTRY" in name else "x-secret-value")
            env[name] = str(secret)
    load_settings(env)


def test_the_image_context_leaves_out_what_it_must_not_carry():
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var", "tests", "docker/secrets", "**/*.ionapi", ".env"):
        assert entry in ignored
