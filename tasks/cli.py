"""Operator commands that publish to the broker: dead-letter replay and manual resyncs.

Invariants: a command says exactly what it did. It checks the broker answers before it changes anything; a
publish that fails anyway is reported (the event stays in the inbox for the sweeper) and the command exits
non-zero. An unknown dead letter or connection is an error, not a line among successes. A resync never asks
for a second M3 order: an order already bound to one is named, not sent.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

import click

from integration.cli_support import EX_UNAVAILABLE, CliError
from integration.connectors.http import network_cause
from integration.flows.base import Enqueue
from integration.jsonutil import dumps
from integration.observability import redact_text
from integration.runtime import get_runtime
from integration.store import models as m

MAX_ID = 2**63 - 1


def _known_connection(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    connections = get_runtime().settings.connections
    if value not in connections:
        raise click.BadParameter(f"unknown connection {value!r} (configured: {', '.join(sorted(connections))})")
    return value


connection_option = click.option("--connection", default="default", show_default=True, callback=_known_connection,
                                 help="the connection (shop + Infor company) to use")


class Publisher:
    """Publishes through Celery after checking the broker answers; remembers what it sent and what failed.

    A failed publish is re-raised to the caller (``enqueue_new_event`` then leaves the row for the sweeper)."""

    def __init__(self, progress: Progress | None = None):
        from tasks.app import app
        from tasks.dispatch import enqueue

        app.loader.import_default_modules()
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=5)
        except Exception as exc:
            raise CliError(f"cannot publish: the broker did not answer ({network_cause(exc)}); nothing was sent",
                           EX_UNAVAILABLE) from None
        self._enqueue: Enqueue = enqueue
        self.sent: list[int] = []
        self.failed: list[int] = []
        self.error: BaseException | None = None
        self.progress = progress

    def __call__(self, event_id: int, entity: str, from_step: str | None = None) -> None:
        try:
            self._enqueue(event_id, entity, from_step)
        except Exception as exc:
            self.failed.append(event_id)
            self.error = self.error or exc
            raise
        self.sent.append(event_id)
        if self.progress is not None:
            self.progress.tick()

    def raise_if_failed(self) -> None:
        if self.failed:
            cause = network_cause(self.error) if self.error is not None else "unknown"
            raise CliError(f"could not publish {len(self.failed)} event(s) ({cause}): "
                           f"{', '.join(map(str, self.failed[:20]))}; they stay in the inbox and the sweeper sends "
                           "them once the broker is back", EX_UNAVAILABLE)


class Progress:
    """A counter on stderr for commands of unknown length (a terminal only; pipes get the final summary)."""

    def __init__(self, label: str):
        self.label = label
        self.count = 0
        self._shown = 0.0
        self._tty = sys.stderr.isatty()

    def tick(self) -> None:
        self.count += 1
        now = time.monotonic()
        if self._tty and now - self._shown > 0.2:
            self._shown = now
            sys.stderr.write(f"\r{self.label}: {self.count}")
            sys.stderr.flush()

    def done(self) -> None:
        if self._tty and self.count:
            sys.stderr.write(f"\r{self.label}: {self.count}\n")
            sys.stderr.flush()


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
        click.echo(redact_text(f"#{r.id:<5} {r.created_at:%Y-%m-%d %H:%M:%S}  {r.entity} {r.source_id}  "
                               f"event {r.event_id}  step {r.step}  [{r.status}]  {r.error_type}: {r.message}"))
        if r.resolution:
            click.echo(redact_text(f"       Resolution: {r.resolution}"))


@dlq.command("show")
@click.argument("dlq_id", type=int)
def dlq_show(dlq_id: int) -> None:
    r = get_runtime().store.get_dead_letter(dlq_id)
    if r is None:
        raise CliError(f"no dead letter {dlq_id}")
    click.echo(redact_text(dumps({c.name: getattr(r, c.name) for c in r.__table__.columns}, indent=2)))


@dlq.command("replay")
@click.argument("dlq_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="replay every open dead letter")
def dlq_replay(dlq_ids: tuple[int, ...], replay_all: bool) -> None:
    """Put dead-lettered events back through their flow, from the start (every step is idempotent)."""
    if not replay_all and not dlq_ids:
        raise click.UsageError("give one or more dead letter ids, or --all")
    if replay_all and dlq_ids:
        raise click.UsageError("give dead letter ids or --all, not both")
    store = get_runtime().store
    ids = [r.id for r in store.list_dead_letters(m.DLQ_OPEN, limit=100_000)] if replay_all else list(dlq_ids)
    if not ids:
        click.echo("no open dead letters: nothing to replay")
        return
    rows = {one: store.get_dead_letter(one) for one in ids}
    problems = [f"#{one}: no such dead letter" if row is None else f"#{one}: already {row.status}, not open"
                for one, row in rows.items() if row is None or row.status != m.DLQ_OPEN]
    if problems and not replay_all:  # nothing is replayed when the operator named something that is not there
        raise CliError("; ".join(problems) + " (`psinfor dlq list --all`)")
    publish = Publisher()
    replayed = 0
    with click.progressbar(ids, label="replaying", file=sys.stderr) as bar:
        for one in bar:
            row = rows[one]
            event_id = store.reopen_for_replay(one) if row is not None else None
            if row is None or event_id is None:
                continue  # replayed by someone else meanwhile
            try:
                publish(event_id, row.entity, None)
            except Exception:  # noqa: S112 - recorded by the publisher and reported below; the sweeper sends it
                continue
            replayed += 1
            if not replay_all or len(ids) <= 20:
                click.echo(f"#{one}: event {event_id} ({row.entity} {row.source_id}) re-enqueued")
    click.echo(f"{replayed} replayed")
    publish.raise_if_failed()


@click.group()
def resync() -> None:
    """Sync again by hand: one order, or every order changed since a date."""


def _waiting_hint(store: Any, event: m.SyncEvent) -> str:
    if event.status == m.DEAD:
        letters = [r for r in store.list_dead_letters(m.DLQ_OPEN, limit=100_000) if r.event_id == event.id]
        replay = f"`psinfor dlq replay {letters[0].id}`" if letters else "`psinfor dlq replay`"
        return f"it was dead-lettered: fix the cause, then {replay}"
    if event.status == m.HELD:
        return "it is held for an operator's review"
    return "it is in progress"


@resync.command("order")
@click.argument("order_id", type=click.IntRange(1, MAX_ID))
@connection_option
@click.option("--force", is_flag=True,
              help="send a new event even when one for this order is in progress, held or dead-lettered "
                   "(an order already bound to an M3 order is never sent again)")
def resync_order(order_id: int, connection: str, force: bool) -> None:
    """Sync one PrestaShop order again. An order that is already an M3 order is named, never created twice."""
    from uuid import uuid4

    from integration.binder import is_pending
    from integration.flows.maintenance import enqueue_new_event
    from integration.store.repository import NewEvent

    rt = get_runtime()
    bound = rt.binder(connection, "order").row(order_id)
    if bound is not None and not is_pending(bound[0]):
        message = (f"order {order_id} is already Infor order {bound[0]}: nothing sent "
                   "(psinfor never creates a second M3 order for one shop order)")
        if force:
            raise CliError(f"cannot force: {message}; change or cancel it in M3")
        click.echo(message)
        return
    waiting = rt.store.open_event_for(connection, "order", str(order_id))
    if waiting is not None and not force:
        event = rt.store.get_event(waiting)
        assert event is not None
        click.echo(f"order {order_id}: event {waiting} is {event.status} (step {event.current_step or '-'}); "
                   f"{_waiting_hint(rt.store, event)}. Nothing sent; --force sends a new event anyway")
        return
    publish = Publisher()
    new = NewEvent(connection=connection, source_system="operator", entity="order", source_id=str(order_id),
                   event_type="order.resync", dedupe_key=f"operator:order:{order_id}:{uuid4()}",
                   payload={"id_order": order_id, "forced": force})
    event_id, _ = enqueue_new_event(rt.store, new, publish)
    publish.raise_if_failed()
    click.echo(f"order {order_id}: event {event_id} enqueued (`psinfor events show {event_id}`)")


@resync.command("orders")
@click.option("--since", required=True, help="YYYY-MM-DD (shop-local)")
@connection_option
def resync_orders(since: str, connection: str) -> None:
    """Every order changed since a date that is neither bound nor in progress."""
    from integration.flows.orders import poll_orders

    try:
        start = datetime.strptime(since, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--since") from None
    progress = Progress("orders enqueued")
    publish = Publisher(progress)
    try:
        result = poll_orders(get_runtime(), connection, publish, since=start, source="operator")
    finally:
        progress.done()
    click.echo(f"{result.seen} orders changed since {since}; {len(result.enqueued)} enqueued, "
               f"{result.skipped_bound} already synced, {result.skipped_open} already in progress")
    publish.raise_if_failed()
