"""Settings from the environment and an optional YAML file; secrets from env or files, never logged.

One *connection* is one shop paired with one Infor company/division. A single-connection deployment needs
only environment variables (the connection is called ``default``); several connections come from the YAML
file named by ``PSINFOR_CONFIG``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from integration.errors import ConfigurationError

_SOURCE_ROOT = Path(__file__).resolve().parent.parent
# In a checkout, paths default to the repository (var/, mappings/); installed from a wheel, to the working
# directory the process runs in.
PROJECT_ROOT = _SOURCE_ROOT if (_SOURCE_ROOT / "pyproject.toml").exists() else Path.cwd()


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret(env: dict[str, str], name: str, default: str = "") -> Secret:
    """``NAME`` holds the secret, or ``NAME_FILE`` names a file holding it (Docker/K8s secrets)."""
    if env.get(name):
        return Secret(env[name])
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Secret(Path(path).read_text().strip())
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from None
    return Secret(default)


@dataclass(frozen=True)
class PrestaShopSettings:
    url: str = "http://127.0.0.1:8081/api"
    key: Secret = field(default_factory=lambda: Secret(""))
    timezone: str = "Europe/Paris"
    use_ws_key_param: bool = False
    id_shop: int | None = None
    id_group_shop: int | None = None
    timeout: float = 15.0
    rate_per_second: float = 20.0
    burst: int = 40
    breaker_failures: int = 5
    breaker_reset: float = 30.0


@dataclass(frozen=True)
class InforSettings:
    ionapi_file: str | None = None
    ionapi_json: Secret = field(default_factory=lambda: Secret(""))
    cono: str = "100"
    divi: str = "AAA"
    timeout: float = 30.0
    rate_per_second: float = 45.0  # the ION quota is about 3,000 calls a minute per tenant
    burst: int = 60
    breaker_failures: int = 5
    breaker_reset: float = 30.0


@dataclass(frozen=True)
class ConnectionSettings:
    name: str
    prestashop: PrestaShopSettings
    infor: InforSettings
    webhook_secret: Secret


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    mappings_dir: Path
    sentry_dsn: Secret
    log_level: str
    log_format: str
    connections: dict[str, ConnectionSettings]
    poll_overlap_seconds: int = 300
    # An active event that has not moved for this long and shows no sign of life is published again.
    sweeper_stale_seconds: int = 30
    # Record and event locks are leases of this length, renewed while their holder lives: a killed worker's
    # events are free again within this long.
    event_lock_seconds: float = 30.0
    # How long M3 gets to finish a write whose answer was lost, before we ask it what happened.
    outcome_settle_seconds: float = 30.0
    # Every Redis key of the deployment starts with this (the broker's, and our locks, tokens, buckets, leader).
    key_prefix: str = ""
    # Succeeded and skipped events (with their snapshots and attempts) are pruned after this many days.
    retention_days: float = 30.0
    # How often an event the ERP holds (credit stop) is checked again.
    erp_hold_recheck_seconds: float = 900.0

    def connection(self, name: str = "default") -> ConnectionSettings:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConfigurationError(
                f"unknown connection {name!r} (configured: {known})",
                resolution="add it to the YAML file named by PSINFOR_CONFIG",
            ) from None


def _connection_from(name: str, data: dict[str, Any], env: dict[str, str]) -> ConnectionSettings:
    ps = dict(data.get("prestashop") or {})
    infor = dict(data.get("infor") or {})
    try:
        ps_settings = PrestaShopSettings(
            url=str(ps.get("url", env.get("PS_URL", PrestaShopSettings.url))).rstrip("/"),
            key=Secret(str(ps["key"])) if ps.get("key") else read_secret(env, ps.get("key_env", "PS_KEY")),
            timezone=str(ps.get("timezone", env.get("PS_TIMEZONE", PrestaShopSettings.timezone))),
            use_ws_key_param=bool(ps.get("use_ws_key_param", env.get("PS_USE_WS_KEY_PARAM") == "1")),
            id_shop=ps.get("id_shop"),
            id_group_shop=ps.get("id_group_shop"),
            timeout=float(ps.get("timeout", env.get("PS_TIMEOUT", PrestaShopSettings.timeout))),
            rate_per_second=float(ps.get("rate_per_second", env.get("PS_RATE", PrestaShopSettings.rate_per_second))),
            burst=int(ps.get("burst", PrestaShopSettings.burst)),
            breaker_failures=int(ps.get("breaker_failures", env.get("PS_BREAKER_FAILURES", 5))),
            breaker_reset=float(ps.get("breaker_reset", env.get("PS_BREAKER_RESET", 30.0))),
        )
        infor_settings = InforSettings(
            ionapi_file=infor.get("ionapi_file", env.get("IONAPI_FILE")),
            ionapi_json=read_secret(env, infor.get("ionapi_env", "IONAPI_JSON")),
            cono=str(infor.get("cono", env.get("M3_CONO", InforSettings.cono))),
            divi=str(infor.get("divi", env.get("M3_DIVI", InforSettings.divi))),
            timeout=float(infor.get("timeout", env.get("INFOR_TIMEOUT", InforSettings.timeout))),
            rate_per_second=float(infor.get("rate_per_second", env.get("INFOR_RATE", InforSettings.rate_per_second))),
            burst=int(infor.get("burst", InforSettings.burst)),
            breaker_failures=int(infor.get("breaker_failures", env.get("INFOR_BREAKER_FAILURES", 5))),
            breaker_reset=float(infor.get("breaker_reset", env.get("INFOR_BREAKER_RESET", 30.0))),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"connection {name!r}: {exc}") from None
    secret_env = data.get("webhook_secret_env", "WEBHOOK_SECRET")
    return ConnectionSettings(name, ps_settings, infor_settings, read_secret(env, secret_env))


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    file_data: dict[str, Any] = {}
    config_path = env.get("PSINFOR_CONFIG")
    if config_path:
        try:
            file_data = yaml.safe_load(Path(config_path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"PSINFOR_CONFIG={config_path}: {exc}") from None
        if not isinstance(file_data, dict):
            raise ConfigurationError(f"PSINFOR_CONFIG={config_path}: the top level must be a mapping")
    raw_connections = file_data.get("connections") or {"default": {}}
    connections = {name: _connection_from(name, data or {}, env) for name, data in raw_connections.items()}
    return Settings(
        database_url=env.get("DATABASE_URL") or file_data.get("database_url")
        or f"sqlite:///{PROJECT_ROOT / 'var' / 'psinfor.db'}",
        redis_url=env.get("REDIS_URL") or file_data.get("redis_url") or "redis://127.0.0.1:6379/0",
        mappings_dir=Path(env.get("MAPPINGS_DIR") or file_data.get("mappings_dir") or PROJECT_ROOT / "mappings"),
        sentry_dsn=read_secret(env, "SENTRY_DSN"),
        log_level=env.get("LOG_LEVEL", "INFO"),
        log_format=env.get("LOG_FORMAT", "json"),
        connections=connections,
        poll_overlap_seconds=int(env.get("POLL_OVERLAP_SECONDS", 300)),
        sweeper_stale_seconds=int(env.get("SWEEPER_STALE_SECONDS", 30)),
        event_lock_seconds=float(env.get("PSINFOR_EVENT_LOCK_SECONDS", 30)),
        outcome_settle_seconds=float(env.get("PSINFOR_OUTCOME_SETTLE_SECONDS", 30)),
        key_prefix=env.get("PSINFOR_BROKER_PREFIX", ""),
        retention_days=float(env.get("PSINFOR_RETENTION_DAYS", 30)),
        erp_hold_recheck_seconds=float(env.get("PSINFOR_ERP_HOLD_RECHECK_SECONDS", 900)),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
