"""The store on SQLite and PostgreSQL: inbox de-duplication, bindings, watermarks, dead letters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import IntegrityError

from integration.store import models as m
from integration.store.repository import NewEvent, Store, stale_cutoff


def _event(key: str = "webhook:abc", source_id: str = "5") -> NewEvent:
    return NewEvent(connection="default", source_system="prestashop", entity="order", source_id=source_id,
                    event_type="order.created", dedupe_key=key, payload={"id_order": int(source_id)})


def test_repeated_delivery_is_one_inbox_row(store: Store):
    first, created = store.add_event(_event())
    again, created_again = store.add_event(_event())
    assert created and not created_again
    assert first == again


def test_concurrent_deliveries_make_one_row(store: Store):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.add_event(_event("webhook:race")), range(8)))
    assert len({event_id for event_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_steps_record_outcome_and_snapshot(store: Store):
    event_id, _ = store.add_event(_event())
    assert store.start_step(event_id, "extract") is not None
    store.finish_step(event_id, "extract", {"bundle": {"order": {"id": 5}}})
    _, previous = store.start_step(event_id, "transform", "extract")
    assert previous == {"bundle": {"order": {"id": 5}}}
    store.fail_step(event_id, "transform", {"type": "Timeout", "message": "slow"}, retrying=True)
    snap = store.event_snapshot(event_id)
    assert snap["status"] == m.RETRYING and snap["current_step"] == "transform"
    assert [s["status"] for s in snap["steps"]] == ["done", "retrying"]
    store.finish_step(event_id, "transform", {"x": 1}, final_status=m.SUCCEEDED, result={"orno": "1"})
    assert store.get_event(event_id).result == {"orno": "1"}
    assert store.start_step(event_id, "load") is None  # final events do nothing


def test_a_snapshot_is_written_as_to_jsonable_would_write_it(store: Store):
    """The engine's serialiser converts Decimal, dates, sets, dataclasses and non-text keys itself (no copy of
    the whole output first), exactly as ``jsonutil.to_jsonable`` does."""
    from dataclasses import dataclass
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from integration.jsonutil import to_jsonable

    @dataclass
    class Line:
        item: str
        price: Decimal

    output = {"total": Decimal("71.51"), "placed": datetime(2026, 11, 30, 7, 0, tzinfo=UTC), "day": date(2026, 1, 2),
              "lines": [Line("MUG", Decimal("9.50"))], "tags": {"b2b"}, "by_id": {5: "x"}, "odd_keys": {(1, 2): "y"}}
    event_id, _ = store.add_event(_event())
    store.start_step(event_id, "extract")
    store.finish_step(event_id, "extract", output)
    _, previous = store.start_step(event_id, "transform", "extract")
    assert previous == to_jsonable(output)
    assert previous["total"] == "71.51" and previous["lines"] == [{"item": "MUG", "price": "9.50"}]


def test_advancing_ends_a_step_and_starts_the_next_as_two_calls_would(store: Store):
    """``advance_step`` (a run that goes on to the next step) leaves the rows, attempts and snapshot that
    ``finish_step`` then ``start_step`` leave, and the next step reads its input back from the store."""
    from decimal import Decimal

    event_id, _ = store.add_event(_event())
    view, _ = store.start_step(event_id, "extract")
    following = store.advance_step(event_id, "extract", {"total": Decimal("9.50")}, attempt_id=view.attempt_id,
                                   next_step="transform", task_id="t-1")
    assert following is not None
    next_view, previous = following
    assert previous == {"total": "9.50"}  # as read back, not the object handed in
    assert next_view.attempt_id and next_view.attempt_id != view.attempt_id
    snap = store.event_snapshot(event_id)
    assert snap["status"] == m.RUNNING and snap["current_step"] == "transform"
    assert [(s["step"], s["status"]) for s in snap["steps"]] == [("extract", "done"), ("transform", "running")]
    assert [(a["step"], a["outcome"], a["task_id"]) for a in store.attempts_of(event_id)] == [
        ("extract", "done", None), ("transform", "running", "t-1")]
    store.finish_step(event_id, "transform", {}, final_status=m.SUCCEEDED, result={})
    # a final event is not started again, even by a run going on to its next step
    assert store.advance_step(event_id, "transform", {}, attempt_id=0, next_step="validate") is None


def test_binding_is_unique_on_both_sides(store: Store):
    store.save_binding("default", "order", "5", "1000001")
    assert store.save_binding("default", "order", "5", "1000001") == "1000001"  # the same pair again is fine
    with pytest.raises(IntegrityError):
        store.save_binding("default", "order", "5", "1000002")
    with pytest.raises(IntegrityError):
        store.save_binding("default", "order", "6", "1000001")
    assert store.get_binding("default", "order", "5") == "1000001"
    assert store.get_binding_by_infor("default", "order", "1000001") == "5"
    store.save_binding("other-shop", "order", "5", "1000001")  # connections are independent


def test_watermark_never_moves_backwards(store: Store):
    store.set_watermark("default", "orders", "2026-01-02T00:00:00+00:00")
    store.set_watermark("default", "orders", "2026-01-01T00:00:00+00:00")
    assert store.get_watermark("default", "orders") == "2026-01-02T00:00:00+00:00"


def test_dead_letter_and_replay(store: Store):
    event_id, _ = store.add_event(_event())
    store.start_step(event_id, "load")
    dlq_id = store.dead_letter(event_id, step="load", task_name="psinfor.order.load",
                               error={"type": "ServerReturnedNOK", "message": "Item X does not exist",
                                      "resolution": "create the item"}, traceback="Traceback…")
    assert store.get_event(event_id).status == m.DEAD
    [row] = store.list_dead_letters()
    assert (row.id, row.message, row.resolution, row.attempts) == (dlq_id, "Item X does not exist",
                                                                   "create the item", 1)
    assert store.reopen_for_replay(dlq_id) == event_id
    assert store.get_event(event_id).status == m.RECEIVED
    assert store.reopen_for_replay(dlq_id) is None  # a replayed letter is not replayed twice
    assert store.list_dead_letters() == []


def test_stale_events_are_found(store: Store):
    event_id, _ = store.add_event(_event(), status=m.QUEUED)
    assert store.stale_events(stale_cutoff(-5)) == [(event_id, "order", None)]
    assert store.stale_events(stale_cutoff(60)) == []
    store.set_status(event_id, m.SUCCEEDED)
    assert store.stale_events(stale_cutoff(-5)) == []


def test_a_claim_is_exclusive_and_is_not_a_binding_until_finalised(store: Store):
    assert store.claim("default", "order", "9", 41, {"cuor": "ABC-9"})
    assert not store.claim("default", "order", "9", 42, {"cuor": "ABC-9"})  # another event must wait
    assert store.get_binding("default", "order", "9") is None
    infor_id, data = store.binding_row("default", "order", "9")
    assert infor_id == f"{m.PENDING_PREFIX}41" and data == {"cuor": "ABC-9", "event_id": 41}
    assert store.update_binding_data("default", "order", "9", temporary_orno="9000001")["temporary_orno"] == "9000001"
    assert store.count_bindings("default", "order") == 0
    store.finalize_binding("default", "order", "9", "1000009", {"cuor": "ABC-9"})
    assert store.get_binding("default", "order", "9") == "1000009"
    assert store.binding_row("default", "order", "9")[1]["temporary_orno"] == "9000001"
    assert store.count_bindings("default", "order") == 1


def test_sqlite_lends_one_connection_to_one_thread_at_a_time(sqlite_url: str):
    """One SQLite connection per process (its page cache survives the process's own commits): a second thread's
    transaction waits for the first to end, and the store's work from many threads still comes out right."""
    import threading

    from integration.store.db import get_engine

    store = Store(sqlite_url)
    engine = get_engine(sqlite_url)
    assert engine.pool.size() == 1
    waited = threading.Event()

    def second() -> None:
        with engine.connect():
            waited.set()

    with engine.begin() as conn:
        first = conn.connection.dbapi_connection
        thread = threading.Thread(target=second)
        thread.start()
        assert not waited.wait(0.3)  # the other thread waits while this transaction holds the connection
    thread.join(5)
    assert waited.is_set()
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection is first
    with ThreadPoolExecutor(16) as pool:
        claims = list(pool.map(lambda i: store.claim("default", "order", "77", i, {}), range(1, 33)))
        list(pool.map(lambda i: store.add_event(_event(f"webhook:{i}", str(i))), range(64)))
    assert claims.count(True) == 1
    assert store.status_counts() == {m.RECEIVED: 64}


def test_an_in_memory_sqlite_database_keeps_sqlalchemys_own_pool():
    from sqlalchemy import text

    from integration.store.db import get_engine

    with get_engine("sqlite://").connect() as conn:  # the one-connection pool is for database files
        assert conn.execute(text("select 1")).scalar() == 1
