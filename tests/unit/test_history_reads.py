"""The detectors' history reads (``Store.customer_order_history``, ``recent_order_history``) come as one JSON row:
they must answer exactly what the plain rows of the same queries say, on SQLite and on PostgreSQL. The velocity
reads (``recent_order_history`` on two indexes, ``velocity_counts``) must answer what their plain definition says."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Select, bindparam, select

from integration.store import models as m
from integration.store.db import get_engine
from integration.store.repository import _Q, PastOrderRow, RecentOrderRow, Store

CONN = "default"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _fill(store: Store, seed: int) -> None:
    rnd = random.Random(seed)
    for order_id in range(1, 121):
        # Whole minutes, often the same one (ties), and odd microseconds: the order and the instants must hold.
        placed = T0 - timedelta(minutes=rnd.randrange(0, 600, 7), microseconds=rnd.choice([0, 1, 123456, 999999]))
        store.record_order_history({
            "connection": CONN, "ps_order_id": order_id, "customer_id": rnd.randint(1, 4),
            "customer_group": rnd.choice([0, 3]), "placed_at": placed, "value": str(rnd.randint(1, 99999) / 100),
            "erp_currency": "EUR", "currency": rnd.choice(["EUR", "USD"]), "invoice_country": rnd.choice(["FR", ""]),
            "delivery_country": rnd.choice(["FR", "DE"]), "carrier": rnd.choice(["", "DHL", "Colis \"Privé\""]),
            "address_hash": rnd.choice(["a" * 32, "b" * 32, ""]),
            "lines": [[f"IT{rnd.randint(1, 9)}", rnd.randint(1, 50), "1.50"] for _ in range(rnd.randint(0, 3))],
            "accepted": rnd.random() < 0.8, "event_id": order_id,
        })


def _plain(store: Store, query: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with get_engine(store.url).connect() as conn:
        return [tuple(row) for row in conn.execute(query, params)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_history_reads_answer_what_the_plain_rows_say(store: Store, seed: int):
    _fill(store, seed)
    for customer in (1, 2, 3, 4, 9):
        for limit in (1, 5, 100):
            params = {"b_connection": CONN, "b_customer": customer, "b_before": T0 - timedelta(minutes=30),
                      "b_exclude": 7, "b_limit": limit}
            for lines, query in ((True, _Q.customer_history), (False, _Q.customer_history_without_lines)):
                got = store.customer_order_history(CONN, customer, before=params["b_before"], exclude_order=7,
                                                   limit=limit, lines=lines)
                want = [PastOrderRow(*row[:12], lines=row[12] if lines else None)
                        for row in _plain(store, query, params)]
                assert got == want
                assert all(r.placed_at.tzinfo is UTC for r in got)
        since, until = T0 - timedelta(hours=5), T0 - timedelta(minutes=10)
        got_recent = store.recent_order_history(CONN, since=since, until=until, customer_id=customer,
                                                address_hash="a" * 32, exclude_order=3, limit=50)
        want_recent = [RecentOrderRow(*row) for row in _plain(store, _Q.recent_orders, {
            "b_connection": CONN, "b_since": since, "b_until": until, "b_customer": customer,
            "b_address": "a" * 32, "b_exclude": 3, "b_limit": 50})]
        assert got_recent == want_recent


def test_an_empty_history_is_an_empty_list(store: Store):
    assert store.customer_order_history(CONN, 1, before=T0, exclude_order=0) == []
    assert store.recent_order_history(CONN, since=T0 - timedelta(days=1), until=T0, customer_id=1,
                                      address_hash="", exclude_order=0) == []


def test_a_datetime_reads_the_same_from_either_database_or_a_driver():
    from integration.store.repository import _utc

    want = datetime(2026, 11, 30, 12, 0, 0, 500000, tzinfo=UTC)
    assert _utc("2026-11-30 12:00:00.500000") == want  # SQLite's stored text: naive UTC
    assert _utc("2026-11-30T13:00:00.5+01:00") == want  # PostgreSQL's JSON text, in the session's zone
    assert _utc(want.replace(tzinfo=None)) == want  # a driver's naive datetime
    assert all(_utc(v).tzinfo is UTC for v in ("2026-11-30 12:00:00", "2026-11-30T12:00:00+02:00"))


_oh = m.OrderHistory.__table__.c
# What the velocity reads are: every order of the customer or to the address in the window, oldest first.
_RECENT_DEFINITION = select(_oh.id, _oh.ps_order_id, _oh.customer_id, _oh.placed_at, _oh.address_hash).where(
    _oh.connection == bindparam("b_connection"), _oh.placed_at >= bindparam("b_since"),
    _oh.placed_at <= bindparam("b_until"),
    (_oh.customer_id == bindparam("b_customer")) | (_oh.address_hash == bindparam("b_address")),
    _oh.ps_order_id != bindparam("b_exclude")).order_by(_oh.placed_at, _oh.id).limit(bindparam("b_limit"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_velocity_reads_answer_what_their_definition_says(store: Store, seed: int):
    _fill(store, seed)
    rnd = random.Random(seed)
    for customer in (1, 2, 3, 4, 9):
        for address in ("a" * 32, "b" * 32, "", "c" * 32):
            until = T0 - timedelta(minutes=rnd.choice([0, 10, 95]))
            since = until - timedelta(minutes=rnd.choice([60, 300, 1440]))
            exclude = rnd.choice([0, 3, 50])
            params = {"b_connection": CONN, "b_since": since, "b_until": until, "b_customer": customer,
                      "b_address": address, "b_exclude": exclude}
            for limit in (3, 500):
                want = [RecentOrderRow(*row) for row in _plain(store, _RECENT_DEFINITION, {**params, "b_limit": limit})]
                assert store.recent_order_history(CONN, since=since, until=until, customer_id=customer,
                                                  address_hash=address, exclude_order=exclude, limit=limit) == want
            customer_since = until - timedelta(minutes=rnd.choice([30, 60, 200]))
            rows = [RecentOrderRow(*row) for row in _plain(store, _RECENT_DEFINITION, {
                **params, "b_since": min(since, customer_since), "b_limit": 10_000})]
            orders = sum(1 for r in rows if r.customer_id == customer and r.placed_at >= customer_since)
            customers = len({r.customer_id for r in rows if r.address_hash == address and r.customer_id != customer
                             and r.placed_at >= since})
            assert store.velocity_counts(CONN, customer_id=customer, customer_since=customer_since,
                                         address_hash=address, address_since=since, until=until,
                                         exclude_order=exclude) == (orders, customers)
