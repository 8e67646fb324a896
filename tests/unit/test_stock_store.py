"""The store's side of the stock flow, on SQLite and PostgreSQL: the last quantity per shop row (an older
reading never replaces a newer one), batch bindings, unknown items reported once."""

from __future__ import annotations

from integration.store.repository import Store

CONN = "default"


def test_an_older_reading_never_replaces_a_newer_one(store: Store) -> None:
    store.remember_stock(CONN, [{"row_key": "1:2", "item_number": "A", "quantity": 5, "as_of": 100,
                                 "id_stock_available": 7}])
    store.remember_stock(CONN, [{"row_key": "1:2", "item_number": "A", "quantity": 9, "as_of": 50}], written=True)
    assert store.stock_memory(CONN, ["1:2"])["1:2"]["quantity"] == 5
    store.remember_stock(CONN, [{"row_key": "1:2", "item_number": "A", "quantity": 9, "as_of": 200,
                                 "event_id": 3}], written=True)
    row = store.stock_memory(CONN, ["1:2"])["1:2"]
    assert (row["quantity"], row["as_of"], row["event_id"]) == (9, 200, 3)
    assert row["id_stock_available"] == 7  # kept when a write does not name it
    store.forget_stock_row(CONN, "1:2")
    assert store.stock_memory(CONN, ["1:2"])["1:2"]["id_stock_available"] is None
    assert store.stock_memory("other", ["1:2"]) == {}


def test_many_rows_in_one_call(store: Store) -> None:
    rows = [{"row_key": f"{i}:0", "item_number": f"I{i}", "quantity": i, "as_of": 1} for i in range(2500)]
    store.remember_stock(CONN, rows)
    memory = store.stock_memory(CONN, [r["row_key"] for r in rows])
    assert len(memory) == 2500 and memory["2499:0"]["quantity"] == 2499


def test_bind_many_leaves_either_side_already_bound_alone(store: Store) -> None:
    store.save_binding(CONN, "item", "1:2", "A")
    store.bind_many(CONN, "item", [("1:2", "B"), ("3:4", "A"), ("5:0", "C"), ("6:0", "D")])
    assert dict(store.all_bindings(CONN, "item")) == {"1:2": "A", "5:0": "C", "6:0": "D"}
    assert store.bindings_by_ps(CONN, "item", ["5:0", "9:9"]) == {"5:0": "C"}
    assert store.bindings_by_infor(CONN, "item", ["C", "D", "Z"]) == {"C": "5:0", "D": "6:0"}


def test_an_unknown_item_is_new_once(store: Store) -> None:
    assert store.note_unknown_items(CONN, ["X", "Y"], "stock") == ["X", "Y"]
    assert store.note_unknown_items(CONN, ["Y", "Z"], "stock") == ["Z"]
    seen = {u.item_number: u.times_seen for u in store.unknown_items(CONN)}
    assert seen == {"X": 1, "Y": 2, "Z": 1}
    store.resolve_unknown_items(CONN, ["Y"])
    assert [u.item_number for u in store.unknown_items(CONN)] == ["X", "Z"]
