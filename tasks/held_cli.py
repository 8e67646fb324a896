"""Operator commands for held events (an order an anomaly detector held for review): list, release, skip.

``psinfor held list|release ID|skip ID --reason TEXT``, also attached to ``psinfor events`` as
``events release`` and ``events skip``. Release publishes (hence ``tasks``): it goes through
``flows.maintenance.release_held``, the console's path too, so the event runs again from the step that held
it, with the release noted in its payload, and is synced once. Both actions are written to the audit log with
the operator's name, like the console's.
"""

from __future__ import annotations

import getpass

import click

from integration.flows.maintenance import release_held
from integration.ops_cli import events
from integration.runtime import get_runtime
from tasks.cli import Publisher

MAX_REASON = 500


def _operator(by: str | None) -> str:
    if by:
        return by[:64]
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


@click.group()
def held() -> None:
    """Events held for an operator (anomalies, changes after sync): list, release, skip."""


@held.command("list")
@click.option("--limit", default=50, show_default=True)
def held_list(limit: int) -> None:
    rows = get_runtime().store.held_events(limit=limit)
    if not rows:
        click.echo("nothing is held")
    for e in rows:
        error = e.last_error or {}
        findings = (error.get("details") or {}).get("findings") or []
        what = ", ".join(f"{f['detector']} {f['score']}" for f in findings) or error.get("message", "")
        click.echo(f"{e.id:>7}  {e.updated_at:%Y-%m-%d %H:%M:%S}  {e.entity:<8} {e.source_id:>8}  "
                   f"step {e.current_step or '-':<9} {str(what)[:90]}")


@click.command("release")
@click.argument("event_id", type=int)
@click.option("--by", default=None, help="the operator's name for the audit log (default: cli:<login>)")
def release(event_id: int, by: str | None) -> None:
    """Let a held event go on: it runs again from the step that held it, past the anomaly check."""
    store = get_runtime().store
    operator = _operator(by)
    released = release_held(store, event_id, operator, Publisher())
    if released is None:
        store.audit(operator, "release", f"event:{event_id}", outcome="refused", detail={"reason": "not held"})
        raise click.ClickException(f"event {event_id} is not held")
    store.audit(operator, "release", f"event:{event_id}", detail={
        "entity": released.entity, "from_step": released.from_step, "published": released.published})
    where = "enqueued" if released.published else "queued (the broker did not answer: the sweeper will send it)"
    click.echo(f"event {event_id} released from step {released.from_step}: {where}")


@click.command("skip")
@click.argument("event_id", type=int)
@click.option("--reason", required=True, help="why it is not synced (kept in the event and the audit log)")
@click.option("--by", default=None, help="the operator's name for the audit log (default: cli:<login>)")
def skip(event_id: int, reason: str, by: str | None) -> None:
    """End a held event without syncing it; it ends ``skipped`` with the reason."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise click.BadParameter("give a reason", param_hint="--reason")
    store = get_runtime().store
    operator = _operator(by)
    ok = store.skip_held(event_id, reason, operator)
    store.audit(operator, "skip", f"event:{event_id}", outcome="ok" if ok else "refused", detail={"reason": reason})
    if not ok:
        raise click.ClickException(f"event {event_id} is not held")
    click.echo(f"event {event_id} skipped: {reason}")


held.add_command(release)
held.add_command(skip)
# ``psinfor events release|skip``: the inbox group is ops_cli's; these two publish, so they live here and are
# attached when the ``held`` entry point is loaded (integration.cli loads every entry point at start).
events.add_command(release)
events.add_command(skip)
