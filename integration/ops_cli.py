"""Operator commands that need no broker: the database and the event history."""

from __future__ import annotations

import json

import click

from integration.config import get_settings
from integration.jsonutil import dumps
from integration.store.repository import Store


def _store() -> Store:
    return Store(get_settings().database_url)


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
@click.option("--status", default=None, help="received, queued, running, retrying, succeeded, skipped, dead, held")
@click.option("--limit", default=30, show_default=True)
def events_list(status: str | None, limit: int) -> None:
    rows = _store().recent_events(limit=limit, status=status)
    if not rows:
        click.echo("no events")
    for e in rows:
        result = e.result or {}
        detail = result.get("orno") or result.get("skipped") or (e.last_error or {}).get("message", "")
        click.echo(f"{e.id:>7}  {e.created_at:%Y-%m-%d %H:%M:%S}  {e.entity:<8} {e.source_id:>8}  "
                   f"{e.status:<10} {e.current_step or '-':<9} {str(detail)[:80]}")


@events.command("show")
@click.argument("event_id", type=int)
def events_show(event_id: int) -> None:
    snap = _store().event_snapshot(event_id)
    if not snap:
        raise click.ClickException(f"no event {event_id}")
    click.echo(dumps(snap, indent=2))


@events.command("stats")
def events_stats() -> None:
    click.echo(json.dumps(_store().status_counts(), indent=2, sort_keys=True))
