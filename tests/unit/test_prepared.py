"""``db.Prepared``: the store's hot statements run on the DBAPI cursor write and read exactly what
``Connection.execute`` writes and reads, and fail as it fails.

Every prepared statement of the store is run twice on SQLite, once prepared and once through SQLAlchemy, each
on its own database; the two databases must then hold the same bytes and the reads the same values."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Insert, Select, literal, select, union
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError

from integration.store import models as m
from integration.store.db import Prepared, dispose_all, get_engine
from integration.store.migrate import upgrade
from integration.store.repository import _Q, NewEvent, Store

NOW = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))  # not UTC: converted
LATER = datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
SNAPSHOT = {"bundle": {"total": Decimal("12.50"), "name": "Müller \u2603", "lines": [1, None, 2.5]}, "n": None}

# (statement, parameters), in an order that works on a store holding event 1: every prepared statement once.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("select_event_steps", {"b_event": 1, "b_step": "extract", "b_previous": "extract"}),
    ("insert_step", {"b_event": 1, "b_step": "extract", "b_status": m.StepStatus.RUNNING, "b_now": NOW}),
    ("start_event", {"b_event": 1, "b_step": "extract", "b_now": NOW}),
    ("insert_attempt", {"b_event": 1, "b_step": "extract", "b_attempt": 1, "b_task": None,
                        "b_status": m.StepStatus.RUNNING, "b_now": NOW}),
    ("finish_step", {"b_event": 1, "b_step": "extract", "b_status": m.StepStatus.DONE, "b_output": SNAPSHOT,
                     "b_now": LATER}),
    ("end_attempt", {"b_attempt_id": 1, "b_outcome": m.StepStatus.DONE, "b_error": None, "b_now": LATER}),
    ("select_event_steps", {"b_event": 1, "b_step": "transform", "b_previous": "extract"}),
    ("restart_step", {"b_event": 1, "b_step": "extract", "b_status": m.StepStatus.RUNNING, "b_now": LATER}),
    ("fail_step", {"b_event": 1, "b_step": "extract", "b_status": m.StepStatus.RETRYING,
                   "b_error": {"message": "M3 timed out", "transient": True}, "b_finished": None}),
    ("fail_event", {"b_event": 1, "b_now": LATER, "b_error": {"message": "M3 timed out"}, "b_status": None}),
    ("touch_event", {"b_event": 1, "b_now": LATER}),
    ("final_event", {"b_event": 1, "b_now": LATER, "b_status": m.SUCCEEDED, "b_result": {"orno": "1000042"}}),
    ("fail_event", {"b_event": 1, "b_now": NOW, "b_error": {"late": True}, "b_status": m.RETRYING}),
    ("insert_binding", {"b_connection": "default", "b_entity": "order", "b_ps": "7", "b_infor": "pending:1",
                        "b_data": {"event_id": 1}, "b_now": NOW}),
    ("select_binding", {"b_connection": "default", "b_entity": "order", "b_ps": "7"}),
    ("select_binding_for_update", {"b_connection": "default", "b_entity": "order", "b_ps": "7"}),
    ("update_binding", {"b_id": 1, "b_infor": "1000042", "b_data": {"temporary_orno": "T1", "ok": True},
                        "b_now": LATER}),
    ("select_binding", {"b_connection": "default", "b_entity": "order", "b_ps": "nobody"}),
    ("velocity_counts", {"b_connection": "default", "b_customer": 3, "b_customer_since": NOW, "b_address": "h",
                         "b_address_since": NOW, "b_until": LATER, "b_exclude": 9}),
    ("insert_history", {"b_connection": "default", "b_ps_order_id": 9, "b_customer_id": 3, "b_customer_group": 0,
                        "b_placed_at": NOW, "b_value": "12.50", "b_erp_currency": "EUR", "b_currency": "EUR",
                        "b_invoice_country": "FR", "b_delivery_country": "DE", "b_carrier": "Colis \"Privé\"",
                        "b_address_hash": "h", "b_lines": [["MUG", 2, "6.25"]], "b_accepted": True,
                        "b_event_id": None, "b_now": LATER}),
    ("insert_history_lines", {"history_id": 1, "connection": "default", "customer_group": 0, "item_number": "MUG",
                              "quantity": 2}),
    ("velocity_counts", {"b_connection": "default", "b_customer": 3, "b_customer_since": NOW, "b_address": "h",
                         "b_address_since": NOW, "b_until": LATER, "b_exclude": 1}),
    ("select_history_id", {"b_connection": "default", "b_order": 9}),
    ("delete_history_lines", {"b_id": 1}),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store holding event 1, copied for each database a test needs (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    Store(url).add_event(NewEvent(connection="default", source_system="prestashop", entity="order",
                                  source_id="7", event_type="order.created", dedupe_key="k",
                                  payload={"id_order": 7, "amount": Decimal("1.10")}))
    dispose_all()
    return path


_copies = itertools.count()


def _store(template: Path, folder: Path) -> str:
    path = folder / f"store-{next(_copies)}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as SQLite holds them (text, integers), not as SQLAlchemy reads them back."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        tables = [r[0] for r in raw.execute("select name from sqlite_master where type = 'table'")]
        return {t: raw.execute(f'select * from "{t}" order by rowid').fetchall() for t in tables}


def _run(url: str, prepared: Prepared, params: dict[str, Any], *, through_sqlalchemy: bool) -> Any:
    with get_engine(url).begin() as conn:
        if through_sqlalchemy:
            result = conn.execute(prepared.statement, params)
            if result.returns_rows:
                return [tuple(r) for r in result]
            return tuple(result.inserted_primary_key or ()) if isinstance(prepared.statement, Insert) else None
        answer = prepared.execute(conn, params)
        if isinstance(prepared.statement, Select):
            return [tuple(r) for r in answer.all()]
        return tuple(answer.inserted_primary_key or ()) if isinstance(prepared.statement, Insert) else None


def test_every_prepared_statement_of_the_store_is_covered():
    prepared = {name for name, value in vars(_Q).items() if isinstance(value, Prepared)}
    assert prepared == {name for name, _ in CASES}


def test_prepared_statements_write_and_read_what_sqlalchemy_writes_and_reads(template: Path, tmp_path: Path):
    fast, reference = _store(template, tmp_path), _store(template, tmp_path)
    try:
        for name, params in CASES:
            prepared = getattr(_Q, name)
            got = _run(fast, prepared, params, through_sqlalchemy=False)
            expected = _run(reference, prepared, params, through_sqlalchemy=True)
            assert got == expected, name
            assert _dump(fast) == _dump(reference), f"after {name}"
        # The reads were typed as SQLAlchemy types them: aware datetimes, JSON as Python values.
        with get_engine(fast).connect() as conn:
            row = _Q.select_event_steps.execute(conn, {"b_event": 1, "b_step": "extract",
                                                       "b_previous": "extract"}).one()
        assert row.payload == {"id_order": 7, "amount": "1.10"} and row.output["bundle"]["name"] == "Müller \u2603"
        assert row.step_status == m.StepStatus.RETRYING and row.step_attempts == 2
    finally:
        dispose_all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20)
                         | st.decimals(allow_nan=False, allow_infinity=False, places=2),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=12),
       when=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                         timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)),
                                                    timezone(timedelta(hours=5, minutes=30))])))
def test_any_snapshot_and_time_are_written_as_sqlalchemy_writes_them(template: Path, tmp_path: Path, data: Any,
                                                                    when: datetime):
    fast, reference = _store(template, tmp_path), _store(template, tmp_path)
    try:
        for url, through_sqlalchemy in ((fast, False), (reference, True)):
            _run(url, _Q.insert_step, dict(CASES)["insert_step"], through_sqlalchemy=through_sqlalchemy)
            _run(url, _Q.finish_step, {"b_event": 1, "b_step": "extract", "b_status": m.StepStatus.DONE,
                                       "b_output": {"value": data}, "b_now": when},
                 through_sqlalchemy=through_sqlalchemy)
        assert _dump(fast) == _dump(reference)
    finally:
        dispose_all()


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(template: Path, tmp_path: Path):
    url = _store(template, tmp_path)
    params = {"b_connection": "default", "b_entity": "order", "b_ps": "7", "b_infor": "pending:1", "b_data": {},
              "b_now": NOW}
    try:
        with get_engine(url).begin() as conn:
            _Q.insert_binding.execute(conn, params)
        with pytest.raises(IntegrityError), get_engine(url).begin() as conn:
            _Q.insert_binding.execute(conn, params)  # the binding's unique key
        with pytest.raises(InvalidRequestError, match="b_ps"), get_engine(url).begin() as conn:
            _Q.select_binding.execute(conn, {"b_connection": "default", "b_entity": "order"})
    finally:
        dispose_all()


def test_a_write_on_a_connection_without_a_transaction_is_kept_by_its_commit(template: Path, tmp_path: Path):
    """As ``Connection.execute`` autobegins: a prepared write in ``connect()`` is committed by ``commit()``."""
    url = _store(template, tmp_path)
    try:
        with get_engine(url).connect() as conn:
            _Q.touch_event.execute(conn, {"b_event": 1, "b_now": LATER})
            conn.commit()
        with get_engine(url).connect() as conn:
            _Q.start_event.execute(conn, {"b_event": 1, "b_step": "load", "b_now": LATER})  # rolled back on close
        event = Store(url).get_event(1)
        assert event is not None and event.updated_at == LATER and event.current_step is None
    finally:
        dispose_all()


def test_executemany_writes_what_sqlalchemy_writes(template: Path, tmp_path: Path):
    fast, reference = _store(template, tmp_path), _store(template, tmp_path)
    rows = [{"history_id": 1, "connection": "default", "customer_group": g, "item_number": f"IT{g}", "quantity": g}
            for g in range(5)]
    history = dict(CASES)["insert_history"]
    try:
        for url in (fast, reference):
            _run(url, _Q.insert_history, history, through_sqlalchemy=False)
        with get_engine(fast).begin() as conn:
            _Q.insert_history_lines.execute_many(conn, rows)
            _Q.insert_history_lines.execute_many(conn, [])
        with get_engine(reference).begin() as conn:
            conn.execute(_Q.insert_history_lines.statement, rows)
        assert _dump(fast) == _dump(reference) and len(_dump(fast)["order_history_line"]) == 5
    finally:
        dispose_all()


def test_a_value_its_type_refuses_is_raised_as_sqlalchemy_raises_it(template: Path, tmp_path: Path):
    """A naive time (``models.UTCDateTime`` refuses it): a ``StatementError`` whose ``orig`` says why, both ways."""
    url = _store(template, tmp_path)
    naive = {"b_event": 1, "b_now": datetime(2026, 3, 29, 1, 30)}
    try:
        errors = []
        for run in (lambda c: _Q.touch_event.execute(c, naive), lambda c: c.execute(_Q.touch_event.statement, naive)):
            with pytest.raises(StatementError) as caught, get_engine(url).begin() as conn:
                run(conn)
            errors.append(type(caught.value.orig))
        assert errors[0] is errors[1] and errors[0] is not None
    finally:
        dispose_all()


def test_a_statement_that_is_not_a_plain_select_or_write_is_refused(template: Path, tmp_path: Path):
    url = _store(template, tmp_path)
    try:
        with pytest.raises(ValueError, match="select"), get_engine(url).connect() as conn:
            Prepared(union(select(literal(1)), select(literal(2)))).execute(conn)
    finally:
        dispose_all()
