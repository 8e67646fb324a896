"""Start-up checks: a process refuses to start, with one line naming the cause, rather than run and dead-letter
every order.

Invariant: ``check(settings)`` returns only when this process can do its work: every connection has its
PrestaShop key, a readable ``.ionapi`` and (for the receiver) a webhook secret of its own; the mapping files
load; the database answers with its schema up to date; Redis answers. Each
failure is a ``ConfigurationError`` whose message is one line. ``exit_on_configuration_error`` turns one into
that line on stderr and an exit status, with no traceback, for the process entry points.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, NoReturn

from integration.config import ConnectionSettings, Settings, redact_url_credentials
from integration.connectors.http import network_cause
from integration.errors import ConfigurationError

Process = Literal["worker", "beat", "receiver", "cli"]
EX_CONFIG = 78  # sysexits.h: configuration error
CONNECT_TIMEOUT = 5.0


def one_line(exc: BaseException) -> str:
    """An error as one line: ``message Resolution: …`` with any line breaks folded."""
    return " ".join(str(exc).split())


def check(settings: Settings, *, process: Process = "worker", services: bool = True) -> None:
    """Raise ``ConfigurationError`` (one line) unless this process can start. ``services``: also reach the
    database and Redis (off for unit tests of the configuration alone)."""
    for conn in settings.connections.values():
        check_connection(conn, webhooks=process == "receiver")
    check_mappings(settings)
    if services:
        check_database(settings.database_url)
        # A worker or beat rides out a Redis that is away (it reconnects, a beat waits for the leader lease);
        # the receiver and the CLI cannot do their work without it.
        if process not in ("worker", "beat"):
            check_redis(settings.redis_url)


def check_connection(conn: ConnectionSettings, *, webhooks: bool = False) -> None:
    from integration.connectors.infor.ionapi import IonApiCredentials

    where = f"connection {conn.name!r}"
    if not conn.prestashop.key:
        source = "PS_KEY" if conn.name == "default" else "its prestashop.key_env"
        raise ConfigurationError(f"{where}: no PrestaShop webservice key (set {source}, or {source}_FILE)")
    try:
        IonApiCredentials.from_settings(conn.infor)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {one_line(exc)}") from None
    if webhooks and not conn.webhook_secret:
        if conn.webhook_secret_source:
            raise ConfigurationError(f"{where}: no webhook secret (set {conn.webhook_secret_source}, "
                                     f"or {conn.webhook_secret_source}_FILE)")
        raise ConfigurationError(f"{where}: no webhook secret of its own (give it webhook_secret_env in "
                                 "PSINFOR_CONFIG; WEBHOOK_SECRET serves only the connection 'default')")


def check_mappings(settings: Settings) -> None:
    """Load every mapping file as the workers will. The loader names each bad file and key; here they are
    folded into one line."""
    from integration.mapping.engine import MappingEngine

    try:
        MappingEngine.load(settings.mappings_dir)
    except ConfigurationError as exc:
        problems = exc.details.get("problems") or []
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more; `psinfor map check` lists them)" if len(problems) > 1 else ""
            raise ConfigurationError(f"mapping {first['file']}: {first['key'] or '(top level)'}: "
                                     f"{first['problem']}{more}") from None
        raise ConfigurationError(f"mappings: {one_line(exc)}") from None


def check_database(url: str) -> None:
    """The database answers (within a few seconds) and has every migration."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from integration.store.migrate import schema_problem

    shown = redact_url_credentials(url)
    parsed = make_url(url)
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = int(CONNECT_TIMEOUT)
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except Exception as exc:  # a driver that is not installed, a bad option
        raise ConfigurationError(f"DATABASE_URL={shown}: {type(exc).__name__}: {one_line(exc)[:200]}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ConfigurationError(f"DATABASE_URL={shown}: cannot connect ({network_cause(exc)})") from None
    finally:
        engine.dispose()
    problem = schema_problem(url)
    if problem:
        raise ConfigurationError(f"DATABASE_URL={shown}: {problem}")


def check_redis(url: str) -> None:
    import redis

    shown = redact_url_credentials(url)
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT)
    try:
        client.ping()
    except redis.exceptions.AuthenticationError:
        raise ConfigurationError(f"REDIS_URL={shown}: Redis refused the credentials (401-like: check the "
                                 "password in the URL)") from None
    except (redis.exceptions.RedisError, OSError) as exc:
        raise ConfigurationError(f"REDIS_URL={shown}: cannot connect ({network_cause(exc)})") from None
    finally:
        client.close()


def fail(message: str, status: int = EX_CONFIG) -> NoReturn:
    """Print ``psinfor: <message>`` on stderr and exit with ``status``: no traceback."""
    sys.stderr.write(f"psinfor: {message}\n")
    sys.stderr.flush()
    raise SystemExit(status)


@contextmanager
def exit_on_configuration_error(status: int = EX_CONFIG) -> Iterator[None]:
    """``with exit_on_configuration_error(): settings = get_settings(); check(settings)`` in an entry point."""
    try:
        yield
    except ConfigurationError as exc:
        fail(one_line(exc), status)


def checked_settings(process: Process, *, status: int = EX_CONFIG,
                     loader: Callable[[], Settings] | None = None) -> Settings:
    """Load the settings and check them for ``process``, or exit with one line on stderr."""
    from integration.config import get_settings

    with exit_on_configuration_error(status):
        settings = (loader or get_settings)()
        check(settings, process=process)
        return settings
    raise AssertionError("unreachable")  # pragma: no cover
