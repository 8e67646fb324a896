"""Engines and sessions. SQLite by default (WAL, long busy timeout, shared by threads); PostgreSQL in production."""

from __future__ import annotations

import json
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Delete, Engine, Insert, Select, Update, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, InvalidRequestError, MultipleResultsFound, NoResultFound, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

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


class PreparedRows:
    """What a ``Prepared`` statement answers on the fast path: its rows (named tuples, values as the column types
    read them), or, for an INSERT, the new row's key. The part of SQLAlchemy's result the store reads."""

    __slots__ = ("_rows", "inserted_primary_key", "rowcount")

    def __init__(self, rows: list[Any], inserted_primary_key: tuple[Any, ...] | None, rowcount: int) -> None:
        self._rows = rows
        self.inserted_primary_key = inserted_primary_key
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound("no row was found") if not self._rows else MultipleResultsFound("several rows")
        return self._rows[0]

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


@dataclass(frozen=True)
class _Form:
    """A statement as one dialect runs it: the SQL text, then per positional parameter its name, its value when
    the statement carries one (a literal, a member of an IN list) and its type's bind processor; for a SELECT, the
    row type and the result processor of each column."""

    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]
    bind: tuple[Callable[[Any], Any] | None, ...]
    row: type[tuple[Any, ...]] | None
    result: tuple[Callable[[Any], Any] | None, ...]
    is_insert: bool

    def bound(self, given: Mapping[str, Any]) -> list[Any]:
        """The positional values for ``given`` parameters, through the types' bind processors. A processor's
        error is raised as ``Connection.execute`` raises it: a ``StatementError`` whose ``orig`` it is."""
        values: list[Any] = []
        for name, value, process in zip(self.names, self.fixed, self.bind, strict=True):
            if name in given:  # as execute: a given parameter wins over the statement's own value
                value = given[name]
            elif value is _UNSET:
                raise InvalidRequestError(f"a value is required for bind parameter {name!r}")
            if process is not None:
                try:
                    value = process(value)
                except Exception as exc:
                    raise StatementError(f"({type(exc).__module__}.{type(exc).__name__}) {exc}", self.sql,
                                         None, exc) from exc
            values.append(value)
        return values


_UNSET = object()  # a parameter the caller supplies (its ``fixed`` slot)


class Prepared:
    """A Core statement of the hot path, compiled once and run on the connection's DBAPI cursor.

    Every step of every event runs about six statements (its row, its attempt, the event), and a flow's
    bindings a few more. For each, ``Connection.execute`` spent about 25 µs of CPU on what is the same every
    time (cache key, parameter construction, result set-up) around 5 µs of SQLite's own work: most of an
    order's bookkeeping. Here the statement is compiled once per dialect by SQLAlchemy itself, with its types'
    own bind and result processors, so the values written and read are the ones ``Connection.execute`` would
    write and read. It runs inside the caller's SQLAlchemy transaction (begun if the connection has none yet,
    as execute would), and a driver error is raised as SQLAlchemy raises it (``IntegrityError`` and so on).

    Only for drivers with positional ``?`` parameters (SQLite's); on any other (psycopg) ``execute`` is
    ``Connection.execute`` itself. Not for statements whose columns have Python-side defaults (those are
    computed by SQLAlchemy's execution): such a statement is refused when first run."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Per dialect object: each engine has its own (its JSON serialiser); a disposed engine's form goes with it.
        self._forms: weakref.WeakKeyDictionary[Dialect, _Form] = weakref.WeakKeyDictionary()

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        dialect = conn.dialect
        if dialect.paramstyle != "qmark":
            return conn.execute(self.statement, dict(params or {}))
        form = self._form(dialect)
        values = form.bound(params or {})
        with _cursor(conn, form.sql, values) as cursor:
            cursor.execute(form.sql, values)
            if form.row is None:
                key = (cursor.lastrowid,) if form.is_insert else None
                return PreparedRows([], key, cursor.rowcount)
            row, result = form.row, form.result
            return PreparedRows([row(*[value if process is None else process(value)
                                       for value, process in zip(raw, result, strict=True)])
                                 for raw in cursor.fetchall()], None, -1)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per parameter set (``executemany``), as ``Connection.execute`` with a list runs it."""
        if not rows:
            return
        if conn.dialect.paramstyle != "qmark":
            conn.execute(self.statement, [dict(r) for r in rows])
            return
        form = self._form(conn.dialect)
        if form.row is not None:
            raise ValueError("executemany is for writes")
        values = [form.bound(r) for r in rows]
        with _cursor(conn, form.sql, values) as cursor:
            cursor.executemany(form.sql, values)

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect)
        if form is None:
            form = self._forms[dialect] = _compile(self.statement, dialect)
        return form


@contextmanager
def _cursor(conn: Connection, sql: str, values: Any) -> Iterator[Any]:
    """The DBAPI cursor of ``conn``, inside its SQLAlchemy transaction (begun if it has none, as execute's
    autobegin: the caller's commit, or the close's rollback, ends it); a driver error raised as SQLAlchemy
    raises it (``IntegrityError`` and so on)."""
    dialect = conn.dialect
    if not conn.in_transaction():
        conn.begin()
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error,
                                  hide_parameters=conn.engine.hide_parameters, dialect=dialect) from exc
    finally:
        cursor.close()


def _compile(statement: Executable, dialect: Dialect) -> _Form:
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    if not compiled.positional or compiled.positiontup is None:
        raise ValueError("a prepared statement needs a dialect with positional parameters")
    if not isinstance(statement, Select | Insert | Update | Delete):  # a UNION or text() would answer no rows
        raise ValueError("a prepared statement is a select(), insert(), update() or delete()")
    if compiled.effective_returning:
        raise ValueError("a prepared statement cannot use RETURNING here: an INSERT answers its lastrowid")
    if compiled.insert_prefetch or compiled.update_prefetch:  # defaults SQLAlchemy computes per execution
        raise ValueError("a prepared statement cannot fill Python-side column defaults: give every column")
    sql = compiled.string
    names: list[str] = []
    fixed: list[Any] = []
    bind: list[Callable[[Any], Any] | None] = []
    for name in compiled.positiontup:
        parameter = compiled.binds[name]
        process = parameter.type.dialect_impl(dialect).bind_processor(dialect)
        if parameter.expanding:  # a constant IN list (FINAL_STATUSES): one ``?`` per member
            members = list(parameter.effective_value or ())
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(members)), 1)
            names += [""] * len(members)  # never a caller's parameter: the statement's own constants
            fixed += members
            bind += [process] * len(members)
            continue
        names.append(name)
        fixed.append(_UNSET if parameter.required else parameter.effective_value)
        bind.append(process)
    if "__[POSTCOMPILE_" in sql:
        raise ValueError("a prepared statement's IN list was not expanded")
    row_type: type[tuple[Any, ...]] | None = None
    result: list[Callable[[Any], Any] | None] = []
    if isinstance(statement, Select):
        columns = list(statement.selected_columns)
        row_type = namedtuple("PreparedRow", [str(c.key) for c in columns], rename=True)  # type: ignore[misc,no-redef]
        result = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    return _Form(sql, tuple(names), tuple(fixed), tuple(bind), row_type, tuple(result),
                 isinstance(statement, Insert))
