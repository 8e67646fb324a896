"""The safety nets, as plain functions: the poller that catches missed webhooks, and the sweeper.

Both are given an ``enqueue(event_id, entity, from_step)`` callable by the Celery layer, so they stay
testable without a broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from integration.flows import FLOWS
from integration.store import models as m
from integration.store.repository import NewEvent, Store, stale_cutoff

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.maintenance")

Enqueue = Callable[[int, str, "str | None"], None]
ORDERS_WATERMARK = "prestashop.orders.date_upd"


@dataclass
class PollResult:
    connection: str
    since: str
    until: str
    seen: int = 0
    enqueued: list[int] = field(default_factory=list)
    skipped_bound: int = 0
    skipped_open: int = 0
    watermark: str | None = None


def _aware(value: Any, tz: ZoneInfo) -> datetime:
    """The client types ``date_upd`` already; a raw shop-local string is read the connector's way."""
    from integration.connectors.prestashop.parsing import parse_datetime

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    parsed = parse_datetime(str(value), tz)
    if parsed is None:
        raise ValueError(f"order without a date_upd: {value!r}")
    return parsed


def enqueue_new_event(store: Store, new: NewEvent, enqueue: Enqueue) -> tuple[int, bool]:
    """Inbox row first (queued), then one publish. A failed publish leaves the row for the sweeper."""
    event_id, created = store.add_event(new, status=m.QUEUED)
    if created:
        try:
            enqueue(event_id, new.entity, None)
        except Exception:
            log.exception("publish failed; the sweeper will enqueue the event", event_id=event_id)
            store.set_status(event_id, m.RECEIVED)
    return event_id, created


def poll_orders(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None,
                since: datetime | None = None, initial_lookback: timedelta = timedelta(days=1),
                source: str = "poller") -> PollResult:
    """Orders changed since the watermark (minus an overlap) that have no binding and no open event.

    With an explicit ``since`` (an operator's resync) the watermark is neither read nor moved.
    """
    settings = rt.settings
    tz = ZoneInfo(rt.connection(connection).prestashop.timezone)
    now_utc = now or datetime.now(UTC)
    if since is None:
        mark = rt.store.get_watermark(connection, ORDERS_WATERMARK)
        since_utc = datetime.fromisoformat(mark) if mark else now_utc - initial_lookback
        since_utc -= timedelta(seconds=settings.poll_overlap_seconds)
    else:
        since_utc = since if since.tzinfo else since.replace(tzinfo=tz)
    until_utc = now_utc + timedelta(minutes=1)
    result = PollResult(connection, since_utc.isoformat(), until_utc.isoformat())
    client = rt.prestashop(connection)
    newest: datetime | None = None
    # The client writes datetimes in the shop's local time, as PrestaShop compares them.
    for row in client.list("orders", display="[id,date_upd]", filters={"date_upd": (since_utc, until_utc)},
                           sort="[date_upd_ASC,id_ASC]", date=True):
        result.seen += 1
        order_id = str(row["id"])
        changed = _aware(row["date_upd"], tz)
        newest = changed if newest is None or changed > newest else newest
        if rt.store.get_binding(connection, "order", order_id):
            result.skipped_bound += 1
            continue
        if rt.store.open_event_for(connection, "order", order_id):
            result.skipped_open += 1
            continue
        new = NewEvent(connection=connection, source_system=source, entity="order", source_id=order_id,
                       event_type=f"order.{source}", dedupe_key=f"{source}:order:{order_id}:{changed.isoformat()}",
                       payload={"id_order": int(order_id), "date_upd": changed.isoformat()})
        event_id, created = enqueue_new_event(rt.store, new, enqueue)
        if created:
            result.enqueued.append(event_id)
    if newest is not None and since is None:
        result.watermark = newest.astimezone(UTC).isoformat()
        rt.store.set_watermark(connection, ORDERS_WATERMARK, result.watermark)
    log.info("polled orders", connection=connection, seen=result.seen, enqueued=len(result.enqueued),
             since=result.since)
    return result


def poll_order_status(rt: Runtime, connection: str, enqueue: Enqueue, *, now: datetime | None = None,
                      interval: float = 300.0) -> list[int]:
    """One status check per open bound order and poll period (the period is part of the dedupe key, so a
    slow poll and the next one never double a check)."""
    bucket = int((now or datetime.now(UTC)).timestamp() // max(1.0, interval))
    enqueued: list[int] = []
    for ps_id, orno in rt.store.open_bindings(connection, "order"):
        # Only a check in flight holds the next one back: a failed check must not stop the order's updates.
        if rt.store.open_event_for(connection, "order_status", ps_id, waiting=m.ACTIVE_STATUSES):
            continue
        new = NewEvent(connection=connection, source_system="poller", entity="order_status", source_id=ps_id,
                       event_type="order_status.polled", dedupe_key=f"status:{ps_id}:{bucket}",
                       payload={"id_order": int(ps_id), "orno": orno})
        event_id, created = enqueue_new_event(rt.store, new, enqueue)
        if created:
            enqueued.append(event_id)
    log.info("polled order status", connection=connection, enqueued=len(enqueued))
    return enqueued


def sweep(rt: Runtime, enqueue: Enqueue, *, stale_seconds: int | None = None) -> list[int]:
    """Re-enqueue events stuck in a non-final state (a lost chain, a dead worker, a failed publish)."""
    seconds = rt.settings.sweeper_stale_seconds if stale_seconds is None else stale_seconds
    stale = [(i, e, s) for i, e, s in rt.store.stale_events(stale_cutoff(seconds)) if e in FLOWS]
    if not stale:
        return []
    rt.store.touch([i for i, _, _ in stale])
    for event_id, entity, step in stale:
        enqueue(event_id, entity, step)
    log.warning("re-enqueued stale events", count=len(stale), event_ids=[i for i, _, _ in stale][:50])
    return [i for i, _, _ in stale]
