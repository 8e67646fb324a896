"""Engines and sessions. SQLite by default (WAL, long busy timeout, shared by threads); PostgreSQL in production."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from integration.jsonutil import fast_dumps_text, json_default, loads, to_jsonable

# Every JSON value the store writes (payloads, step snapshots, results) is bounded: a step's output is the next
# step's input, so a batch flow must carry a window of rows, never a whole catalogue. Checked where the JSON is
# made anyway, so it costs nothing per step.
MAX_JSON_BYTES = 4 * 1024 * 1024
# The bound is on the text ``json.dumps`` writes (ASCII, ", " and ": "). orjson's compact text with characters as
# themselves is shorter, by at most 12 times (one astral character against its two \uXXXX escapes): over this,
# json writes the text again and the bound is decided on exactly what it was before.
_FAST_TEXT_SURE = MAX_JSON_BYTES // 12

# SQLite: one connection per process, lent to one thread at a time (a queue pool of one). SQLite lets in one
# writer at a time anyway; what a connection per thread cost was its page cache: in WAL mode a connection drops
# its whole cache whenever another one has committed, so with a connection per thread nearly every transaction
# read its pages again from the files (some 220 reads per order). One connection keeps its cache across the
# process's own commits. A thread waits for it longer than the busy timeout, which the holder may be spending
# on another process's write lock.
SQLITE_BUSY_SECONDS = 60
SQLITE_POOL_TIMEOUT_SECONDS = 90


class SnapshotTooLarge(ValueError):
    pass


def _bounded_json(value: Any) -> str:
    """The engine's JSON serialiser: Decimal, dates and dataclasses the way ``jsonutil.to_jsonable`` writes them,
    converted as they are met rather than by a copy of the whole value first. Written by orjson where it means
    the same as ``json.dumps(value, default=json_default)`` (``jsonutil.fast_dumps_text``), else by json."""
    try:
        text = fast_dumps_text(value, json_default)
        if len(text) > _FAST_TEXT_SURE:
            text = json.dumps(value, default=json_default)
    except TypeError:  # a key json cannot write (a tuple, a Decimal): the full conversion names keys as text
        text = json.dumps(to_jsonable(value))
    if len(text) > MAX_JSON_BYTES:
        raise SnapshotTooLarge(f"{len(text)} bytes of JSON, over the store's {MAX_JSON_BYTES}-byte bound")
    return text


_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str) -> Engine:
    engine = _engines.get(url)  # the hot path (every statement) takes no lock: a dict read is atomic
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(url)
            kwargs: dict[str, Any] = {"future": True, "json_serializer": _bounded_json,
                                      "json_deserializer": loads}
            if parsed.get_backend_name() == "sqlite":
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                    kwargs.update(pool_size=1, max_overflow=0, pool_timeout=SQLITE_POOL_TIMEOUT_SECONDS)
                # An in-memory database keeps SQLAlchemy's own pool for it: one connection per thread.
            else:
                kwargs.update(pool_size=10, max_overflow=30, pool_pre_ping=True)
            engine = create_engine(url, **kwargs)
            if parsed.get_backend_name() == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            _factories[url] = sessionmaker(engine, expire_on_commit=False)
            _engines[url] = engine  # last: an engine seen without the lock has its session factory
        return engine


def session_factory(url: str) -> sessionmaker[Session]:
    engine = get_engine(url)
    factory = _factories.get(url)  # gone only if dispose_all ran in between: then a fresh one
    return factory if factory is not None else sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error, always close."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_all() -> None:
    """Drop pooled connections (after fork, and between tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()
