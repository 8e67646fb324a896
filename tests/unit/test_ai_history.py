"""The detectors' I/O edge (integration/ai/history.py): the compact order history in the store (SQLite and
PostgreSQL), the Redis caches on a real Redis, and M3's prices (OIS320MI GetPriceLine) at the HTTP boundary."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import responses

from integration.ai import history
from integration.ai.anomaly import detect
from integration.ai.thresholds import LinePrice, Thresholds
from integration.config import load_settings
from integration.connectors.infor.prices import PriceLineUnavailable, price_line, price_lines
from integration.runtime import Runtime
from tests.connectors.test_infor_helpers import M3, credentials
from tests.unit.test_ai_anomaly import T0, make_order

CONN = "default"
# These tests have no M3: line prices are tested apart, at the HTTP boundary and against the sandbox.
NO_PRICES = Thresholds(line_price=LinePrice(enabled=False))


def ctx(rt: Runtime, order: Any, cuno: str = "C") -> Any:
    return history.context_for(rt, CONN, order, cuno, NO_PRICES)


@pytest.fixture
def rt(db_url: str, redis_url: str, redis_client: redis.Redis) -> Iterator[Runtime]:
    db = redis_client.connection_pool.connection_kwargs.get("db", 0)
    url = f"{redis_url.rsplit('/', 1)[0]}/{db}"  # redis_client's database, flushed around each test
    runtime = Runtime(load_settings({"DATABASE_URL": db_url, "REDIS_URL": url, "PS_KEY": "K"}))
    yield runtime
    runtime.redis.close()


def _usual(rt: Runtime, customer: int = 1, count: int = 6, **kw: Any) -> list[Any]:
    orders = [make_order(customer, at=T0 - timedelta(days=10 * (count - k)), **kw) for k in range(count)]
    for order in orders:
        history.record(rt, CONN, order, accepted=True)
    return orders


def test_history_keeps_accepted_orders_apart_and_never_the_order_itself(rt: Runtime):
    _usual(rt)
    held = make_order(1, at=T0 - timedelta(hours=2), lines=(("IT1", 40, "20.00"),))
    history.record(rt, CONN, held, accepted=False)
    order = make_order(1, lines=(("IT1", 20, "20.00"),))
    history.record(rt, CONN, order, accepted=False)  # a retried validate: already recorded, still excluded
    context = ctx(rt, order)
    assert len(context.history) == 6 and all(p.accepted for p in context.history)
    assert [p.placed_at for p in context.history] == sorted(p.placed_at for p in context.history)
    # Held: it counts for velocity only (read when a count is over a limit, which this one is not).
    assert context.recent == []
    assert [r.ps_order_id for r in rt.store.recent_order_history(
        CONN, since=order.order_date - timedelta(days=1), until=order.order_date, customer_id=1,
        address_hash=history.address_hash(order), exclude_order=order.ps_order_id)] == [held.ps_order_id]
    assert context.history[0].value == Decimal("20.00") and context.history[0].lines == (("IT1", 1),)
    assert [f.detector for f in detect(order, context)] == ["order_value"]


def test_a_released_order_becomes_accepted_and_its_lines_count(rt: Runtime):
    order = make_order(2, lines=(("IT7", 9, "5.00"),), group=4)
    history.record(rt, CONN, order, accepted=False)
    assert rt.store.item_quantities(CONN, 4, ["IT7"]) == {"IT7": []}
    history.record(rt, CONN, order, accepted=True)  # released: the same row, now accepted
    assert rt.store.item_quantities(CONN, 4, ["IT7"]) == {"IT7": [9]}
    assert rt.store.group_quantities(CONN, 4) == [9]
    later = make_order(2, at=T0 + timedelta(days=30))
    assert [p.ps_order_id for p in ctx(rt, later).history] == [order.ps_order_id]


def test_the_address_is_kept_hashed_and_still_matched_for_velocity(rt: Runtime):
    for customer in (11, 12):
        history.record(rt, CONN, make_order(customer, at=T0 - timedelta(hours=1), street="9 Rue du Four"),
                       accepted=True)
    with rt.store.session() as s:
        from sqlalchemy import text

        stored = {row[0] for row in s.execute(text("SELECT address_hash FROM order_history"))}
    assert len(stored) == 1 and "four" not in stored.pop()
    order = make_order(13, street="9, rue du  Four")
    context = ctx(rt, order)
    [finding] = [f for f in detect(order, context) if f.detector == "velocity"]
    assert finding.evidence == {"kind": "address", "customers": 3, "window_hours": 24}


def test_quantity_samples_are_read_only_for_lines_the_detector_judges(rt: Runtime):
    for k in range(10):
        history.record(rt, CONN, make_order(20 + k, at=T0 - timedelta(days=k + 1), lines=(("IT3", 2, "4.00"),)),
                       accepted=True)
    small = ctx(rt, make_order(99, lines=(("IT3", 2, "4.00"),)))
    assert small.item_quantities == {} and small.group_quantities == []
    big = make_order(99, lines=(("IT3", 60, "4.00"),))
    context = ctx(rt, big)
    assert context.item_quantities == {"IT3": [2] * 10} and context.group_quantities == []
    assert [f.detector for f in detect(big, context)] == ["quantity"]


def test_combination_counts_are_cached_in_redis(rt: Runtime):
    _usual(rt, count=3)
    order = make_order(5, country="DE", invoice="FR")
    first = ctx(rt, order).combinations
    assert first[("currency", "FR")] == {"EUR": 3} and first[("billing", "FR")] == {"FR": 3}
    history.record(rt, CONN, make_order(6), accepted=True)
    assert ctx(rt, order).combinations == first  # from Redis until it expires
    assert rt.redis.ttl(rt.key("anomaly", "combination", CONN, "currency", "FR")) > 0


# --- M3 prices ------------------------------------------------------------------------------------------------

def test_price_line_reads_the_net_price_per_unit():
    assert price_line({"NETP": "24.00", "SAPR": "30.00", "SACD": "2", "CUCD": "EUR", "TINC": "0"}, "A") == \
        history_price("A", "12", "EUR", False)
    assert price_line({"NETP": "0", "SAPR": "30.00", "SACD": "", "CUCD": "EUR", "TINC": "1"}, "A") == \
        history_price("A", "30.00", "EUR", True)
    assert price_line({"NETP": "", "SAPR": "0"}, "A") is None


def history_price(item: str, price: str, currency: str, vat: bool) -> Any:
    from integration.connectors.infor.prices import PriceLine

    return PriceLine(item, Decimal(price), currency, vat)


def _m3_client() -> Any:
    from integration.connectors.infor.m3 import M3Client
    from tests.connectors.test_infor_helpers import TOKEN_URL

    responses.post(TOKEN_URL, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 7200})
    return M3Client(credentials(), cono="100", divi="AAA", retry_backoff=0.0)


@responses.activate
def test_price_lines_asks_once_for_all_items_and_keeps_refusals_apart():
    ok = {"transaction": "GetPriceLine", "records": [{"NETP": "8.50", "SAPR": "10.00", "SACD": "1", "CUCD": "EUR",
                                                      "TINC": "0"}]}
    nok = {"transaction": "GetPriceLine", "errorMessage": "Item X does not exist", "errorType": "ServerReturnedNOK",
           "errorField": "ITNO", "errorCode": "WIT0203"}
    responses.post(f"{M3}/v2/execute",
                   json={"nrOfSuccessfullTransactions": 1, "nrOfFailedTransactions": 1, "results": [ok, nok]})
    prices = price_lines(_m3_client(), "PS0000001", ["A", "X", "A"], currency="EUR", order_date=T0.date())
    assert prices == {"A": history_price("A", "8.50", "EUR", False), "X": None}
    body = responses.calls[-1].request.body
    assert b'"CUNO": "PS0000001"' in body and b'"ORDT": "20250301"' in body and b'"CUCD": "EUR"' in body


@responses.activate
def test_a_tenant_without_get_price_line_says_so():
    missing = {"transaction": "GetPriceLine", "errorMessage": "Transaction GetPriceLine does not exist",
               "errorType": "TransactionNotFound"}
    responses.post(f"{M3}/v2/execute",
                   json={"nrOfFailedTransactions": 1, "results": [missing]})
    with pytest.raises(PriceLineUnavailable):
        price_lines(_m3_client(), "C", ["A"])


def test_m3_prices_are_cached_and_a_tenant_without_them_is_not_asked_again(rt: Runtime, tmp_path: Path):
    """Against the Infor sandbox over HTTP, which (like a tenant without the transaction) has no GetPriceLine:
    line prices go unchecked, and M3 is asked once an hour at most, not once per order."""
    import requests

    from psinfor_devkit.sandbox.infor import start_infor_sandbox

    sandbox = start_infor_sandbox(port=0)
    try:
        settings = load_settings({"DATABASE_URL": rt.settings.database_url, "REDIS_URL": rt.settings.redis_url,
                                  "PS_KEY": "K", "IONAPI_FILE": str(sandbox.write_ionapi(tmp_path / "s.ionapi"))})
        runtime = Runtime(settings)
        order = make_order(1, lines=(("MUG-CERAMIC-350", 1, "5.00"),))  # 58 % under M3
        assert history.m3_prices(runtime, CONN, "PS0000001", order) == {}
        asked = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["by_route"]
        assert history.m3_prices(runtime, CONN, "PS0000001", order) == {}
        assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["by_route"] == asked
        # a cached price is used as it is (another tenant's answer, put there as GetPriceLine would)
        runtime.redis.delete(runtime.key("m3price", CONN, "unavailable"))
        runtime.redis.set(runtime.key("m3price", CONN, "PS0000001", "EUR", "MUG-CERAMIC-350"), "12.00")
        assert history.m3_prices(runtime, CONN, "PS0000001", order) == {"MUG-CERAMIC-350": Decimal("12.00")}
        assert [f.detector for f in detect(order, history.context_for(runtime, CONN, order, "PS0000001"))] == \
            ["line_price"]
    finally:
        sandbox.stop()


@pytest.mark.parametrize("seed", [1, 2])
def test_velocity_finds_what_it_found_reading_every_recent_order(rt: Runtime, seed: int):
    """The velocity detector's rows are read only when a count is over a limit: its findings must be those it made
    from every order of the customer or to the address in its windows, whatever the limits."""
    import random

    from integration.ai.anomaly import address_key, velocity_findings
    from integration.ai.thresholds import Velocity

    rnd = random.Random(seed)
    streets = ["1 Main Street", "9 Rue du Four", "3 Quai Voltaire"]
    for _ in range(60):
        past = make_order(rnd.randint(1, 5), at=T0 - timedelta(minutes=rnd.randint(1, 2000)),
                          street=rnd.choice(streets))
        history.record(rt, CONN, past, accepted=rnd.random() < 0.7)
    for customer in (1, 2):  # at the very instant of the orders judged below: inside both windows
        history.record(rt, CONN, make_order(customer, street=streets[0]), accepted=True)
    found = {True: 0, False: 0}
    for _ in range(40):
        order = make_order(rnd.randint(1, 6), street=rnd.choice(streets))
        if rnd.random() < 0.5:  # already in the store (a validate run again): never part of its own counts
            history.record(rt, CONN, order, accepted=False)
        limits = Velocity(max_customer_orders=rnd.choice([1, 2, 4, 50]), max_address_customers=rnd.choice([1, 3, 9]),
                          customer_window_minutes=rnd.choice([30, 60, 600]), address_window_hours=rnd.choice([1, 24]))
        t = Thresholds(line_price=LinePrice(enabled=False), velocity=limits)
        window = max(timedelta(minutes=limits.customer_window_minutes), timedelta(hours=limits.address_window_hours))
        own = history.address_hash(order)
        every = [history._recent(r, address_key(order.delivery_address), own) for r in rt.store.recent_order_history(
            CONN, since=order.order_date - window, until=order.order_date, customer_id=order.customer.ps_customer_id,
            address_hash=own, exclude_order=order.ps_order_id)]
        want = velocity_findings(order, every, limits)
        got = velocity_findings(order, history.context_for(rt, CONN, order, "C", t).recent, limits)
        assert got == want
        found[bool(want)] += 1
    assert found[True] and found[False]  # both answers were asked for


def test_a_history_row_converts_the_same_whether_remembered_or_not():
    """Rows without lines are remembered per process (a customer's next order reads them again); with lines
    they are converted each time. Either way the PastOrder is the one the row gives."""
    from datetime import UTC, datetime

    from integration.store.repository import PastOrderRow

    at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    row = PastOrderRow(1, 501, 7, 3, at, "12.50", "EUR", "FR", "FR", "colissimo", "ab" * 16, True, None)
    first, again = history._past(row), history._past(row._replace())
    assert first is again and first == history._as_past(row)  # the same immutable value, shared
    assert first.value == Decimal("12.50") and first.lines == () and first.placed_at == at
    lined = row._replace(lines=[["MUG", 2]])
    assert history._past(lined) is not history._past(lined)  # a row with lines (a list) is not remembered
    assert history._past(lined).lines == (("MUG", 2),)
    assert history._past(row._replace(value="13.00")).value == Decimal("13.00")  # another value, its own
