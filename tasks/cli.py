"""Operator commands that publish to the broker: dead-letter replay and manual resyncs."""

from __future__ import annotations

from datetime import datetime

import click

from integration.jsonutil import dumps
from integration.runtime import get_runtime
from integration.store import models as m


def _enqueue():  # type: ignore[no-untyped-def]
    from tasks.app import app
    from tasks.dispatch import enqueue

    app.loader.import_default_modules()
    return enqueue


@click.group()
def dlq() -> None:
    """The dead-letter (failed-task) queue: what failed for good, why, and how to replay it."""


@dlq.command("list")
@click.option("--all", "show_all", is_flag=True, help="include replayed and discarded letters")
@click.option("--limit", default=50, show_default=True)
def dlq_list(show_all: bool, limit: int) -> None:
    rows = get_runtime().store.list_dead_letters(None if show_all else m.DLQ_OPEN, limit=limit)
    if not rows:
        click.echo("the dead-letter queue is empty")
    for r in rows:
        click.echo(f"#{r.id:<5} {r.created_at:%Y-%m-%d %H:%M:%S}  {r.entity} {r.source_id}  event {r.event_id}  "
                   f"step {r.step}  [{r.status}]  {r.error_type}: {r.message}")
        if r.resolution:
            click.echo(f"       Resolution: {r.resolution}")


@dlq.command("show")
@click.argument("dlq_id", type=int)
def dlq_show(dlq_id: int) -> None:
    r = get_runtime().store.get_dead_letter(dlq_id)
    if r is None:
        raise click.ClickException(f"no dead letter {dlq_id}")
    click.echo(dumps({c.name: getattr(r, c.name) for c in r.__table__.columns}, indent=2))


@dlq.command("replay")
@click.argument("dlq_id", type=int, required=False)
@click.option("--all", "replay_all", is_flag=True, help="replay every open dead letter")
def dlq_replay(dlq_id: int | None, replay_all: bool) -> None:
    """Put dead-lettered events back through their flow, from the start (every step is idempotent)."""
    if not replay_all and dlq_id is None:
        raise click.UsageError("give a dead letter id or --all")
    store = get_runtime().store
    ids = [r.id for r in store.list_dead_letters(m.DLQ_OPEN, limit=100_000)] if replay_all else [dlq_id]
    enqueue = _enqueue()
    replayed = 0
    for one in ids:
        assert one is not None
        row = store.get_dead_letter(one)
        event_id = store.reopen_for_replay(one)
        if row is None or event_id is None:
            click.echo(f"#{one}: not an open dead letter")
            continue
        enqueue(event_id, row.entity, None)
        replayed += 1
        click.echo(f"#{one}: event {event_id} ({row.entity} {row.source_id}) re-enqueued")
    click.echo(f"{replayed} replayed")


@click.group()
def resync() -> None:
    """Sync again by hand: one order, or every order changed since a date."""


@resync.command("order")
@click.argument("order_id", type=int)
@click.option("--connection", default="default", show_default=True)
def resync_order(order_id: int, connection: str) -> None:
    from uuid import uuid4

    from integration.flows.maintenance import enqueue_new_event
    from integration.store.repository import NewEvent

    rt = get_runtime()
    new = NewEvent(connection=connection, source_system="operator", entity="order", source_id=str(order_id),
                   event_type="order.resync", dedupe_key=f"operator:order:{order_id}:{uuid4()}",
                   payload={"id_order": order_id})
    event_id, _ = enqueue_new_event(rt.store, new, _enqueue())
    click.echo(f"order {order_id}: event {event_id} enqueued (`psinfor events show {event_id}`)")


@resync.command("orders")
@click.option("--since", required=True, help="YYYY-MM-DD (shop-local)")
@click.option("--connection", default="default", show_default=True)
def resync_orders(since: str, connection: str) -> None:
    from integration.flows.orders import poll_orders

    try:
        start = datetime.strptime(since, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--since") from None
    result = poll_orders(get_runtime(), connection, _enqueue(), since=start, source="operator")
    click.echo(f"{result.seen} orders changed since {since}; {len(result.enqueued)} enqueued, "
               f"{result.skipped_bound} already synced, {result.skipped_open} already in progress")
