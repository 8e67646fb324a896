"""What every producer and the safety nets share, as plain functions: the inbox-then-publish step, the sweeper
(lost chains) and retention.

They are given an ``enqueue(event_id, entity, from_step)`` callable by the Celery layer, so they stay testable
without a broker. The flows' own pollers live in their flow modules and are declared on the ``Flow``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from integration.flows.base import Enqueue
from integration.store import models as m
from integration.store.repository import NewEvent, Store, stale_cutoff

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.maintenance")

__all__ = ["Enqueue", "PollResult", "enqueue_new_event", "prune", "sweep"]


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


def shop_datetime(value: Any, tz: ZoneInfo) -> datetime:
    """The client types ``date_upd`` already; a raw shop-local string is read the connector's way."""
    from integration.connectors.prestashop.parsing import parse_datetime

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    parsed = parse_datetime(str(value), tz)
    if parsed is None:
        raise ValueError(f"order without a date_upd: {value!r}")
    return parsed


def enqueue_new_event(store: Store, new: NewEvent, enqueue: Enqueue) -> tuple[int, bool]:
    """Inbox row first (queued), then one publish. A failed publish leaves the row for the sweeper.

    A newer event of a record supersedes its waiting ones (an order awaiting payment, one held by the ERP):
    the newer one reads the record afresh and goes on from there."""
    event_id, created = store.add_event(new, status=m.QUEUED)
    if created:
        store.supersede_waiting(new.connection, new.entity, new.source_id, by_event=event_id)
        try:
            enqueue(event_id, new.entity, None)
        except Exception:
            log.exception("publish failed; the sweeper will enqueue the event", event_id=event_id)
            store.set_status(event_id, m.RECEIVED)
    return event_id, created



@dataclass(frozen=True)
class Released:
    entity: str
    from_step: str | None
    published: bool  # False: the broker did not answer; the sweeper enqueues the (queued) event later


def release_held(store: Store, event_id: int, released_by: str, enqueue: Enqueue) -> Released | None:
    """An operator releases a held event (console and CLI alike): it goes back through its flow from the step
    that held it, with the release noted in its payload (an anomaly check lets it through), published once.
    None when the event is not held."""
    reopened = store.release_held(event_id, released_by)
    if reopened is None:
        return None
    entity, step = reopened
    try:
        enqueue(event_id, entity, step)
    except Exception as exc:
        log.warning("publish failed; the sweeper will enqueue the released event", event_id=event_id,
                    error=type(exc).__name__)
        return Released(entity, step, False)
    return Released(entity, step, True)

def sweep(rt: Runtime, enqueue: Enqueue, *, stale_seconds: int | None = None) -> list[int]:
    """Re-enqueue events stuck in a non-final state (a lost chain, a dead worker, a failed publish)."""
    from integration.flows.registry import FLOWS

    seconds = rt.settings.sweeper_stale_seconds if stale_seconds is None else stale_seconds
    stale = [(i, e, s) for i, e, s in rt.store.stale_events(stale_cutoff(seconds)) if e in FLOWS]
    if not stale:
        return []
    rt.store.touch([i for i, _, _ in stale])
    for event_id, entity, step in stale:
        enqueue(event_id, entity, step)
    log.warning("re-enqueued stale events", count=len(stale), event_ids=[i for i, _, _ in stale][:50])
    return [i for i, _, _ in stale]


def resume_waiting(rt: Runtime, enqueue: Enqueue, *, older_than_seconds: float | None = None) -> list[int]:
    """Re-check events the ERP holds (``held_by_erp``) once they have waited ``PSINFOR_ERP_HOLD_RECHECK_SECONDS``:
    each goes on from the step that waited (its earlier outputs are kept), and waits again if still held."""
    from integration.flows.registry import FLOWS

    seconds = rt.settings.erp_hold_recheck_seconds if older_than_seconds is None else older_than_seconds
    resumed = rt.store.resume_waiting(m.HELD_BY_ERP, stale_cutoff(int(seconds)))
    for event_id, entity, step in resumed:
        if entity in FLOWS:
            enqueue(event_id, entity, step)
    if resumed:
        log.info("re-checking events held by the ERP", count=len(resumed))
    return [i for i, _, _ in resumed]


def prune(rt: Runtime, *, retention_days: float | None = None) -> int:
    """Retention: succeeded and skipped events older than ``PSINFOR_RETENTION_DAYS`` go, with their steps,
    snapshots and attempts. Dead letters and held events stay until an operator resolves them."""
    days = rt.settings.retention_days if retention_days is None else retention_days
    removed = rt.store.prune_finished(datetime.now(UTC) - timedelta(days=days))
    if removed:
        log.info("pruned finished events", removed=removed, retention_days=days)
    return removed
