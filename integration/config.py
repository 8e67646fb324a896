"""Settings from the environment and an optional YAML file; secrets from env or files, never logged.

One *connection* is one shop paired with one Infor company/division. A single-connection deployment needs
only environment variables (the connection is called ``default``); several connections come from the YAML
file named by ``PSINFOR_CONFIG``.

Invariant: a bad value never gets past ``load_settings``. Every value is read through one small validator that
names where it came from (the variable, or the key in ``PSINFOR_CONFIG``) and what is wrong with it, in one
line (``PS_RATE='abc': not a number``), as a ``ConfigurationError``. Values that hold credentials are never
echoed. Checks that need the network (the database, Redis) are ``integration.startup.check``'s.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from integration.errors import ConfigurationError

_SOURCE_ROOT = Path(__file__).resolve().parent.parent
# In a checkout, paths default to the repository (var/, mappings/); installed from a wheel, to the working
# directory the process runs in.
PROJECT_ROOT = _SOURCE_ROOT if (_SOURCE_ROOT / "pyproject.toml").exists() else Path.cwd()
DEFAULT_CONNECTION = "default"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "console")

# -- secrets -----------------------------------------------------------------------------------------------------

_MIN_REDACTED_LENGTH = 6  # shorter values would blank out ordinary words in the logs
_MAX_REMEMBERED = 512  # access tokens are Secrets too: keep the newest few hundred
_known_lock = threading.Lock()
_known: dict[str, None] = {}
_known_version = 0


def _remember(value: str) -> None:
    global _known_version
    if len(value) < _MIN_REDACTED_LENGTH or value in _known:
        return
    with _known_lock:
        _known[value] = None
        while len(_known) > _MAX_REMEMBERED:
            del _known[next(iter(_known))]
        _known_version += 1


def known_secrets() -> tuple[int, tuple[str, ...]]:
    """(version, every secret value this process has held): the log redaction replaces each of them."""
    with _known_lock:
        return _known_version, tuple(_known)


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks.

    Every value is also remembered, so that ``integration.observability`` blanks it out of any log line that
    would carry it anyway (a URL a library prints, an exception's text)."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        if value:
            _remember(value)

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


def read_secret(env: Mapping[str, str], name: str, default: str = "") -> Secret:
    """``NAME`` holds the secret, or ``NAME_FILE`` names a file holding it (Docker/K8s secrets)."""
    if env.get(name):
        return Secret(env[name])
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Secret(Path(path).read_text().strip())
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE={path}: cannot be read ({exc.strerror})") from None
    return Secret(default)


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@\s:]*)(?::(?P<password>[^/@\s]*))?@")


def url_password(url: str) -> str:
    match = _USERINFO.match(url)
    return (match.group("password") or "") if match else ""


def redact_url_credentials(url: str) -> str:
    """``scheme://user:***@host/...``: a URL fit for a message (its password never is)."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] is not None
                         else m.group(0), url, count=1)


# -- settings ----------------------------------------------------------------------------------------------------

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

    @property
    def shop_id(self) -> int:
        """The shop this connection serves (a webhook's ``shop_id`` must be this one): ``id_shop``, else 1."""
        return self.id_shop or 1


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
    # A list read in a bulk POST that comes back this long may have been cut (M3's bulk cap without
    # maxReturnedRecords, and whether it honours 0, are not documented; 100 is m3-h5-sdk's maxrecs): it is read
    # again alone with maxrecs=0 before any conclusion is drawn from it.
    list_cap: int = 100


@dataclass(frozen=True)
class ConnectionSettings:
    name: str
    prestashop: PrestaShopSettings
    infor: InforSettings
    webhook_secret: Secret
    # Where the webhook secret comes from (a variable name, for messages; never the value).
    webhook_secret_source: str = "WEBHOOK_SECRET"


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
    # A step task goes on with its flow's next steps while they succeed (False: one task per step).
    steps_together: bool = True
    # How long M3 gets to finish a write whose answer was lost, before we ask it what happened.
    outcome_settle_seconds: float = 30.0
    # Every Redis key of the deployment starts with this (the broker's, and our locks, tokens, buckets, leader).
    key_prefix: str = ""
    # Succeeded and skipped events (with their snapshots and attempts) are pruned after this many days.
    retention_days: float = 30.0
    # How often an event the ERP holds (credit stop) is checked again.
    erp_hold_recheck_seconds: float = 900.0
    # The Celery layer's numbers, checked here so a bad value is a one-line error (celeryconfig reads them).
    # Redis has no acks: an unacked message comes back after the visibility timeout, which must exceed the
    # longest task and the longest retry countdown, or a task would run twice.
    visibility_timeout: int = 7200
    soft_time_limit: int = 120
    retry_backoff_base: float = 2.0
    retry_backoff_max: float = 300.0
    max_retries: int = 8

    @property
    def hard_time_limit(self) -> int:
        return self.soft_time_limit + 30

    def connection(self, name: str = DEFAULT_CONNECTION) -> ConnectionSettings:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConfigurationError(
                f"unknown connection {name!r} (configured: {known})",
                resolution="add it to the YAML file named by PSINFOR_CONFIG",
            ) from None


# -- the validated reader ----------------------------------------------------------------------------------------

T = TypeVar("T")


class _Source:
    """One place values come from: the YAML mapping at ``path`` (if any) and the environment. ``get`` says
    where a value came from, so every error names the variable or the key the operator must fix."""

    def __init__(self, env: Mapping[str, str], data: Mapping[str, Any] | None = None, path: str = ""):
        self.env = env
        self.data = data or {}
        self.path = path

    def get(self, key: str | None, env_name: str | None, default: Any) -> tuple[Any, str]:
        if key is not None and self.data.get(key) is not None:
            return self.data[key], f"{self.path}.{key} in PSINFOR_CONFIG"
        if env_name and self.env.get(env_name, "") != "":
            return self.env[env_name], env_name
        return default, env_name or f"{self.path}.{key}"


def _shown(where: str, value: Any) -> str:
    return f"{where}={value!r}"


def _number(where: str, value: Any, kind: Callable[[Any], T], what: str, *, minimum: float | None = None,
            positive: bool = False) -> T:
    if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
        raise ConfigurationError(f"{_shown(where, value)}: not {what}")
    try:
        number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigurationError(f"{_shown(where, value)}: not {what}") from None
    if number != number or number in (float("inf"), float("-inf")):  # type: ignore[comparison-overlap]
        raise ConfigurationError(f"{_shown(where, value)}: not {what}")
    if positive and number <= 0:  # type: ignore[operator]
        raise ConfigurationError(f"{_shown(where, value)}: must be more than 0")
    if minimum is not None and number < minimum:  # type: ignore[operator]
        raise ConfigurationError(f"{_shown(where, value)}: must be at least {minimum:g}")
    return number


def _float(src: _Source, key: str | None, env_name: str | None, default: float, **kw: Any) -> float:
    value, where = src.get(key, env_name, default)
    return _number(where, value, float, "a number", **kw)


def _seconds(src: _Source, key: str | None, env_name: str | None, default: float, **kw: Any) -> float:
    value, where = src.get(key, env_name, default)
    return _number(where, value, float, "a number of seconds (e.g. 300)", **kw)


def _whole_seconds(src: _Source, key: str | None, env_name: str | None, default: int, **kw: Any) -> int:
    value, where = src.get(key, env_name, default)
    return _number(where, value, int, "a whole number of seconds (e.g. 300)", **kw)


def _int(src: _Source, key: str | None, env_name: str | None, default: int | None, **kw: Any) -> int:
    value, where = src.get(key, env_name, default)
    return _number(where, value, int, "a whole number", **kw)


def _bool(src: _Source, key: str | None, env_name: str | None, default: bool) -> bool:
    value, where = src.get(key, env_name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{_shown(where, value)}: not a yes/no value (use 1 or 0)")


def _text(src: _Source, key: str | None, env_name: str | None, default: str) -> tuple[str, str]:
    value, where = src.get(key, env_name, default)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigurationError(f"{_shown(where, value)}: not a text value")
    return str(value), where


def _http_url(src: _Source, key: str | None, env_name: str | None, default: str) -> str:
    url, where = _text(src, key, env_name, default)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = redact_url_credentials(url)
        raise ConfigurationError(f"{where}={shown!r}: not an http(s) URL (e.g. https://shop.example.com/api)")
    return url.strip().rstrip("/")


def _timezone(src: _Source, key: str | None, env_name: str | None, default: str) -> str:
    name, where = _text(src, key, env_name, default)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"{_shown(where, name)}: not a time zone (e.g. Europe/Paris)") from None
    return name


def _choice(value: str, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigurationError(f"{_shown(where, value)}: use one of {', '.join(choices)}")
    return value


def _known_keys(data: Mapping[str, Any], path: str, allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ConfigurationError(f"{path} in PSINFOR_CONFIG: unknown key(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(allowed))})")


def _section(data: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    section = data.get(key) or {}
    if not isinstance(section, dict):
        raise ConfigurationError(f"{path}.{key} in PSINFOR_CONFIG: must be a mapping of keys to values")
    return section


_PS_KEYS = frozenset({"url", "key", "key_env", "timezone", "use_ws_key_param", "id_shop", "id_group_shop",
                      "timeout", "rate_per_second", "burst", "breaker_failures", "breaker_reset"})
_INFOR_KEYS = frozenset({"ionapi_file", "ionapi_env", "cono", "divi", "timeout", "rate_per_second", "burst",
                         "breaker_failures", "breaker_reset", "list_cap"})
_CONNECTION_KEYS = frozenset({"prestashop", "infor", "webhook_secret_env"})


def _connection_from(name: str, data: dict[str, Any], env: Mapping[str, str], *, several: bool) -> ConnectionSettings:
    base = f"connections.{name}"
    if not isinstance(data, dict):
        raise ConfigurationError(f"{base} in PSINFOR_CONFIG: must be a mapping of keys to values")
    _known_keys(data, base, _CONNECTION_KEYS)
    ps_data = _section(data, "prestashop", base)
    infor_data = _section(data, "infor", base)
    _known_keys(ps_data, f"{base}.prestashop", _PS_KEYS)
    _known_keys(infor_data, f"{base}.infor", _INFOR_KEYS)
    ps = _Source(env, ps_data, f"{base}.prestashop")
    infor = _Source(env, infor_data, f"{base}.infor")
    if ps_data.get("key"):
        key = Secret(str(ps_data["key"]))
    else:
        key = read_secret(env, str(ps_data.get("key_env") or "PS_KEY"))
    id_shop = ps.get("id_shop", "PS_ID_SHOP", None)[0]
    id_group_shop = ps_data.get("id_group_shop")
    ps_settings = PrestaShopSettings(
        url=_http_url(ps, "url", "PS_URL", PrestaShopSettings.url),
        key=key,
        timezone=_timezone(ps, "timezone", "PS_TIMEZONE", PrestaShopSettings.timezone),
        use_ws_key_param=_bool(ps, "use_ws_key_param", "PS_USE_WS_KEY_PARAM", False),
        id_shop=None if id_shop is None else _int(ps, "id_shop", "PS_ID_SHOP", None, minimum=1),
        id_group_shop=None if id_group_shop is None else _int(ps, "id_group_shop", None, None, minimum=1),
        timeout=_seconds(ps, "timeout", "PS_TIMEOUT", PrestaShopSettings.timeout, positive=True),
        rate_per_second=_float(ps, "rate_per_second", "PS_RATE", PrestaShopSettings.rate_per_second, positive=True),
        burst=_int(ps, "burst", None, PrestaShopSettings.burst, minimum=1),
        breaker_failures=_int(ps, "breaker_failures", "PS_BREAKER_FAILURES", 5, minimum=1),
        breaker_reset=_seconds(ps, "breaker_reset", "PS_BREAKER_RESET", 30.0, positive=True),
    )
    ionapi_file = infor.get("ionapi_file", "IONAPI_FILE", None)[0]
    infor_settings = InforSettings(
        ionapi_file=str(ionapi_file) if ionapi_file else None,
        ionapi_json=read_secret(env, str(infor_data.get("ionapi_env") or "IONAPI_JSON")),
        cono=_text(infor, "cono", "M3_CONO", InforSettings.cono)[0],
        divi=_text(infor, "divi", "M3_DIVI", InforSettings.divi)[0],
        timeout=_seconds(infor, "timeout", "INFOR_TIMEOUT", InforSettings.timeout, positive=True),
        rate_per_second=_float(infor, "rate_per_second", "INFOR_RATE", InforSettings.rate_per_second, positive=True),
        burst=_int(infor, "burst", None, InforSettings.burst, minimum=1),
        breaker_failures=_int(infor, "breaker_failures", "INFOR_BREAKER_FAILURES", 5, minimum=1),
        breaker_reset=_seconds(infor, "breaker_reset", "INFOR_BREAKER_RESET", 30.0, positive=True),
        list_cap=_int(infor, "list_cap", "INFOR_LIST_CAP", InforSettings.list_cap, minimum=1),
    )
    # Each connection verifies its webhooks with a secret of its own: a webhook signed for one shop must not
    # be accepted by another. WEBHOOK_SECRET serves only the connection "default"; a named connection of a
    # file with several says which variable holds its secret, or has none (its webhooks are refused).
    secret_env = data.get("webhook_secret_env")
    if secret_env is None and name == DEFAULT_CONNECTION:
        secret_env = "WEBHOOK_SECRET"
    if secret_env is None and not several:
        secret_env = "WEBHOOK_SECRET"
    secret = read_secret(env, str(secret_env)) if secret_env else Secret("")
    return ConnectionSettings(name, ps_settings, infor_settings, secret, str(secret_env or ""))


def _shared_secrets(connections: Mapping[str, ConnectionSettings]) -> None:
    by_secret: dict[str, list[str]] = {}
    for conn in connections.values():
        if conn.webhook_secret:
            by_secret.setdefault(conn.webhook_secret.reveal(), []).append(conn.name)
    for names in by_secret.values():
        if len(names) > 1:
            raise ConfigurationError(
                f"connections {', '.join(repr(n) for n in names)} share one webhook secret: a webhook signed for "
                "one would be accepted by the other (give each its own webhook_secret_env in PSINFOR_CONFIG)")


def _database_url(src: _Source) -> str:
    url, where = _text(src, "database_url", "DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'psinfor.db'}")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigurationError(f"{where}={redact_url_credentials(url)!r}: not a database URL "
                                 "(e.g. postgresql+psycopg://psinfor@db:5432/psinfor or sqlite:///var/psinfor.db)"
                                 ) from None
    if url_password(url):
        Secret(url_password(url))  # remembered: never in a log line
    return url


def _redis_url(src: _Source) -> str:
    url, where = _text(src, "redis_url", "REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigurationError(f"{where}={redact_url_credentials(url)!r}: not a Redis URL "
                                 "(e.g. redis://127.0.0.1:6379/0)")
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ConfigurationError(f"{where}={redact_url_credentials(url)!r}: the port is not a number") from None
    if url_password(url):
        Secret(url_password(url))
    return url


def _sentry_dsn(env: Mapping[str, str]) -> Secret:
    dsn = read_secret(env, "SENTRY_DSN")
    match = _USERINFO.match(dsn.reveal())
    if match:  # the DSN's keys are credentials of their own: remembered, never in a log line
        for part in (match["user"], match["password"]):
            if part:
                Secret(part)
    return dsn


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; a ``ConfigurationError`` (one line) names the first wrong one."""
    env = dict(os.environ if env is None else env)
    file_data: dict[str, Any] = {}
    config_path = env.get("PSINFOR_CONFIG")
    if config_path:
        try:
            file_data = yaml.safe_load(Path(config_path).read_text()) or {}
        except OSError as exc:
            raise ConfigurationError(f"PSINFOR_CONFIG={config_path}: cannot be read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigurationError(f"PSINFOR_CONFIG={config_path}: not valid YAML{at}") from None
        if not isinstance(file_data, dict):
            raise ConfigurationError(f"PSINFOR_CONFIG={config_path}: the top level must be a mapping")
    raw_connections = file_data.get("connections") or {DEFAULT_CONNECTION: {}}
    if not isinstance(raw_connections, dict):
        raise ConfigurationError("connections in PSINFOR_CONFIG: must be a mapping of names to connections")
    several = len(raw_connections) > 1
    connections = {str(name): _connection_from(str(name), data or {}, env, several=several)
                   for name, data in raw_connections.items()}
    _shared_secrets(connections)
    src = _Source(env, file_data, "")
    log_level = _choice(str(env.get("LOG_LEVEL") or "INFO").upper(), "LOG_LEVEL", LOG_LEVELS)
    log_format = _choice(str(env.get("LOG_FORMAT") or "json").lower(), "LOG_FORMAT", LOG_FORMATS)
    no_file = _Source(env)
    settings = Settings(
        database_url=_database_url(src),
        redis_url=_redis_url(src),
        mappings_dir=Path(env.get("MAPPINGS_DIR") or file_data.get("mappings_dir") or PROJECT_ROOT / "mappings"),
        sentry_dsn=_sentry_dsn(env),
        log_level=log_level,
        log_format=log_format,
        connections=connections,
        poll_overlap_seconds=_whole_seconds(no_file, None, "POLL_OVERLAP_SECONDS", 300, minimum=0),
        sweeper_stale_seconds=_whole_seconds(no_file, None, "SWEEPER_STALE_SECONDS", 30, positive=True),
        event_lock_seconds=_seconds(no_file, None, "PSINFOR_EVENT_LOCK_SECONDS", 30, positive=True),
        steps_together=_bool(no_file, None, "PSINFOR_STEPS_TOGETHER", True),
        outcome_settle_seconds=_seconds(no_file, None, "PSINFOR_OUTCOME_SETTLE_SECONDS", 30, minimum=0),
        key_prefix=env.get("PSINFOR_BROKER_PREFIX", ""),
        erp_hold_recheck_seconds=_seconds(no_file, None, "PSINFOR_ERP_HOLD_RECHECK_SECONDS", 900.0, positive=True),
        retention_days=_float(no_file, None, "PSINFOR_RETENTION_DAYS", 30, positive=True),
        visibility_timeout=_whole_seconds(no_file, None, "PSINFOR_VISIBILITY_TIMEOUT", 7200, positive=True),
        soft_time_limit=_whole_seconds(no_file, None, "PSINFOR_SOFT_TIME_LIMIT", 120, positive=True),
        retry_backoff_base=_seconds(no_file, None, "PSINFOR_RETRY_BACKOFF", 2.0, positive=True),
        retry_backoff_max=_seconds(no_file, None, "PSINFOR_RETRY_BACKOFF_MAX", 300.0, positive=True),
        max_retries=_int(no_file, None, "PSINFOR_MAX_RETRIES", 8, minimum=0),
    )
    _check_celery_numbers(settings)
    _check_periods(env)
    return settings


_PERIOD = re.compile(r"PSINFOR_[A-Z0-9_]+_INTERVAL")


def _check_periods(env: Mapping[str, str]) -> None:
    """Beat periods (``PSINFOR_POLL_INTERVAL``, ``PSINFOR_SWEEP_INTERVAL``, every flow poller's): seconds > 0.
    Checked by name, so a flow added later is covered without this module knowing it."""
    src = _Source(env)
    for name in sorted(env):
        if _PERIOD.fullmatch(name) and env[name] != "":
            _seconds(src, None, name, 0.0, positive=True)


def _check_celery_numbers(s: Settings) -> None:
    if s.retry_backoff_max < s.retry_backoff_base:
        raise ConfigurationError(f"PSINFOR_RETRY_BACKOFF_MAX={s.retry_backoff_max:g}: must be at least "
                                 f"PSINFOR_RETRY_BACKOFF ({s.retry_backoff_base:g})")
    needed = max(2 * s.retry_backoff_max, s.hard_time_limit, s.event_lock_seconds)
    if s.visibility_timeout <= needed:
        raise ConfigurationError(
            f"PSINFOR_VISIBILITY_TIMEOUT={s.visibility_timeout}: too small; it must exceed twice "
            f"PSINFOR_RETRY_BACKOFF_MAX ({2 * s.retry_backoff_max:g} s), the hard time limit "
            f"({s.hard_time_limit} s) and PSINFOR_EVENT_LOCK_SECONDS ({s.event_lock_seconds:g} s), "
            "or Redis would hand a task to a second worker while the first still runs it")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
