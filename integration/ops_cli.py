"""Operator commands that need no broker: the database and the event history.

What they print goes through ``redact_text``: an event's payload or error never shows a credential.
"""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from integration.config import get_settings
from integration.jsonutil import dumps
from integration.observability import redact_text
from integration.store import models as m
from integration.store.repository import Store

STATUSES = tuple(s.value for s in m.EventStatus)


def _store() -> Store:
    from integration.runtime import get_runtime

    return get_runtime().store


def echo(text: str) -> None:
    click.echo(redact_text(text))


@click.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    from integration.store.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    click.echo(f"database at {revision}")


@click.group()
def events() -> None:
    """The inbox: every sync event with its steps (the business-level history)."""


@events.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="only events in this status")
@click.option("--order", "order_id", type=click.IntRange(min=1), default=None,
              help="only the events of this PrestaShop order (its sync and status events)")
@click.option("--connection", default=None, help="only this connection's events")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
def events_list(status: str | None, order_id: int | None, connection: str | None, limit: int) -> None:
    """The newest events first."""
    store = _store()
    ev = m.SyncEvent
    query = select(ev).order_by(ev.id.desc()).limit(limit)
    if status:
        query = query.where(ev.status == status)
    if order_id is not None:
        query = query.where(ev.entity.in_(("order", "order_status")), ev.source_id == str(order_id))
    if connection:
        query = query.where(ev.connection == connection)
    with store.session() as s:
        rows = list(s.scalars(query))
    if not rows:
        click.echo("no events")
    for e in rows:
        result = e.result or {}
        detail = result.get("orno") or result.get("skipped") or (e.last_error or {}).get("message", "")
        echo(f"{e.id:>7}  {e.created_at:%Y-%m-%d %H:%M:%S}  {e.entity:<8} {e.source_id:>8}  "
             f"{e.status:<10} {e.current_step or '-':<9} {str(detail)[:80]}")


@events.command("show")
@click.argument("event_id", type=int)
def events_show(event_id: int) -> None:
    snap = _store().event_snapshot(event_id)
    if not snap:
        raise click.ClickException(f"no event {event_id}")
    echo(dumps(snap, indent=2))


@events.command("stats")
def events_stats() -> None:
    click.echo(json.dumps(_store().status_counts(), indent=2, sort_keys=True))
